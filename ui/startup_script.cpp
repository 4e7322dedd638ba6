#include "ui/startup_script.hpp"

namespace rmvk::ui {

std::optional<StartupScript::Load> StartupScript::after_job(bool failed, bool have_model,
                                                            const std::string& image_path) {
    if (stage_ == Stage::First && failed && !have_model && !options_.model.empty()) {
        stage_ = Stage::Fallback;
        return Load{"", options_.image};
    }
    if (stage_ == Stage::First || stage_ == Stage::Fallback) {
        if (!options_.open_after_start.empty() && have_model) {
            stage_ = Stage::OpenAfter;
            return Load{options_.open_after_start, image_path};
        }
        stage_ = Stage::Done;
    } else if (stage_ == Stage::OpenAfter) {
        stage_ = Stage::Done;
    }
    return std::nullopt;
}

std::string StartupScript::take_select() {
    if (select_taken_) return "";
    select_taken_ = !options_.select.empty();
    return options_.select;
}

bool StartupScript::take_sweep(bool have_model) {
    if (!started_up() || !options_.sweep || sweep_taken_ || !have_model) return false;
    sweep_taken_ = true;
    return true;
}

bool StartupScript::take_dense_timing(bool have_runs) {
    if (!started_up() || !options_.plain_exec_dense || dense_taken_) return false;
    dense_taken_ = true;
    return have_runs;
}

bool StartupScript::take_requests() {
    if (!started_up() || requests_taken_) return false;
    requests_taken_ = true;
    return true;
}

std::optional<StartupScript::KeyEvent> StartupScript::next_key() {
    if (key_index_ >= options_.keys.size()) return std::nullopt;
    KeyEvent e{options_.keys[key_index_] == "left", !key_down_};
    if (key_down_) ++key_index_;
    key_down_ = !key_down_;
    return e;
}

}  // namespace rmvk::ui
