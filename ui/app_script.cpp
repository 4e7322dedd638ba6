// Carrying out the StartupScript: the models it opens, the one-off requests to the panels once
// start-up is done, the per-frame pan/step/key input, and the files written after the last frame.
#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "ui/app_impl.hpp"
#include "ui/state_dump.hpp"

namespace rmvk::ui {

void App::advance_script(const JobResult& done) {
    // Scripts: once the chosen pruned model is shown, the tab asked for.
    if (done.error.empty() && done.model && state_.model->pruned && script_.scripted() &&
        !options_.tab.empty())
        active_tab_request_ = options_.tab;
    // Start-up: the model asked for (or the bundled one when it fails), then
    // --open-after-start, then the scripted frames.
    if (auto next =
            script_.after_job(!done.error.empty(), state_.model != nullptr, state_.image_path))
        start_load(next->model, next->image);
    if (script_.take_sweep(state_.model != nullptr)) {
        pruning_.images = options_.sweep_images;
        pruning_.points = options_.sweep_points;
        pruning_.start(state_.model, state_.device);
        if (!options_.prune_open.empty()) pruning_.script_pick(options_.prune_open);
        active_tab_request_ = "Pruning";  // the pick happens in the view
    }
    if (script_.take_dense_timing(state_.runs != nullptr)) choose_plain_exec(PlainExec::Dense);
    if (script_.take_requests()) apply_script_requests();
}

void App::apply_script_requests() {
    if (options_.page > 1) feature_maps_.request_page(options_.page - 1);
    if (options_.click_reserved >= 0) feature_maps_.request_reserved_pick(options_.click_reserved);
    if (options_.explain_step > 0) explain_.request_step(options_.explain_step);
    if (options_.explain_conv > 0) explain_.request_conv(options_.explain_conv - 1);
    if (options_.explain_zoom > 0) explain_.request_zoom(options_.explain_zoom);
    if (options_.hover[0] >= 0) explain_.request_hover(options_.hover[0], options_.hover[1]);
    if (options_.pixel[0] >= 0)
        explain_.request_pixel(options_.pixel[0], options_.pixel[1], options_.pixel[2]);
    dropped_.insert(dropped_.end(), options_.drop.begin(), options_.drop.end());
    if (!options_.browse.empty()) {
        open_browser(options_.browse == "model"   ? FileBrowser::Purpose::Model
                     : options_.browse == "image" ? FileBrowser::Purpose::Image
                                                  : FileBrowser::Purpose::Report);
        browser_.script_pick(options_.pick);
    }
}

void App::script_frame() {
    if (!script_.scripted() || !script_.started_up() || worker_.busy()) return;
    if (options_.pan != 0) residual_view_.pan_by(0, -options_.pan);
    if (options_.step_cycle) explain_.next_step();
    if (auto key = script_.next_key())
        ImGui::GetIO().KeysDown[key->left ? GLFW_KEY_LEFT : GLFW_KEY_RIGHT] = key->down;
}

// Nothing left for a scripted run to wait for.
bool App::settled() const {
    return !worker_.busy() && script_.started_up() && dropped_.empty() && !browser_.scripted() &&
           !pruning_.busy() && !script_.sweep_pending() && !pruning_.script_pending() &&
           !script_.dense_timing_pending();
}

int App::finish_script(const Screenshot& shot) {
    int rc = 0;
    if (!options_.screenshot.empty()) {
        if (shot.rgba.empty() ||
            !stbi_write_png(options_.screenshot.c_str(), shot.width, shot.height, 4,
                            shot.rgba.data(), shot.width * 4)) {
            std::fprintf(stderr, "rmvk gui: could not write screenshot %s\n",
                         options_.screenshot.c_str());
            rc = 1;
        }
    }
    if (!options_.export_explain.empty() && !explain_.export_png(options_.export_explain)) {
        std::fprintf(stderr, "rmvk gui: could not export the Explain view to %s\n",
                     options_.export_explain.c_str());
        rc = 1;
    }
    if (options_.dump_state.empty()) return rc;
    ScreenFacts facts;
    facts.explain = explain_.facts(state_);
    facts.feature_maps = &feature_maps_;
    facts.residual_boxes = residual_view_.box_count();
    facts.plain_boxes = plain_view_.box_count();
    facts.residual_drawn = residual_view_.drawn_boxes();
    facts.plain_drawn = plain_view_.drawn_boxes();
    facts.fps = fps_;
    facts.ui_ms = ui_ms_count_ ? ui_ms_sum_ / ui_ms_count_ : 0.0;
    const FrameCosts& c = renderer_.costs();
    double n = std::max(1, c.frames);
    facts.frame_costs = {{"wait", c.wait_ms / n},
                         {"acquire", c.acquire_ms / n},
                         {"record", c.record_ms / n},
                         {"submit", c.submit_ms / n},
                         {"present", c.present_ms / n}};
    ImVec2 window = ImGui::GetIO().DisplaySize;
    facts.redrawn_share = c.redrawn_pixels / n / std::max(1.0, double(window.x) * double(window.y));
    facts.redraw_mismatch = shot.redraw_mismatch;
    facts.browser_open = browser_.purpose() != FileBrowser::Purpose::None;
    facts.browser_dir = browser_.dir();
    facts.browser_dirs = browser_.dirs();
    facts.browser_files = browser_.files();
    facts.report = timing_.report_facts(state_);
    facts.frames = frames_done_;
    facts.busy = worker_.busy();
    facts.last_job = last_job_.what;
    facts.last_job_s = last_job_.seconds;
    facts.last_job_stages = last_job_.stages;
    facts.window_device = renderer_.device_name();
    facts.active_tab = active_tab_;
    facts.sweep_busy = pruning_.busy();
    facts.frames_while_sweeping = frames_while_sweeping_;
    if (const PruneSweep* sw = pruning_.sweep()) {
        facts.sweep_plain_points = static_cast<int>(sw->plain_pruned.size());
        facts.sweep_residual_points = static_cast<int>(sw->residual_pruned.size());
    }
    std::ofstream out(options_.dump_state);
    out << dump_state_json(state_, facts);
    if (!out) {
        std::fprintf(stderr, "rmvk gui: could not write %s\n", options_.dump_state.c_str());
        rc = 1;
    }
    return rc;
}

}  // namespace rmvk::ui
