// The window's layout: the menu bar, the status line, both graph panes over the properties on
// the left, the outputs and the tabs on the right, and the error dialog.
#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>
#include <imgui.h>

#include <cmath>
#include <filesystem>

#include "rm/resnet_builder.hpp"
#include "ui/app_impl.hpp"
#include "ui/panels.hpp"
#include "ui/resident_memory.hpp"
#include "ui/theme.hpp"

namespace rmvk::ui {

namespace fs = std::filesystem;

void App::draw_menu() {
    if (!ImGui::BeginMenuBar()) return;
    bool idle = !worker_.busy();
    if (ImGui::BeginMenu("File")) {
        if (ImGui::MenuItem("Open model...", nullptr, false, idle))
            open_browser(FileBrowser::Purpose::Model);
        if (ImGui::MenuItem("Open image...", nullptr, false, idle && state_.model))
            open_browser(FileBrowser::Purpose::Image);
        if (ImGui::MenuItem("Load bench report...")) open_browser(FileBrowser::Purpose::Report);
        ImGui::Separator();
        if (ImGui::MenuItem("Quit", "Ctrl+Q")) glfwSetWindowShouldClose(window_.get(), 1);
        ImGui::EndMenu();
    }
    if (ImGui::BeginMenu("Models")) {
        if (ImGui::MenuItem("Bundled Fashion-MNIST ResNet", nullptr, false, idle))
            start_load("", "");
        ImGui::Separator();
        for (const auto& name : rm::builtin_model_names()) {
            if (ImGui::MenuItem(("builtin:" + name + " (224x224, 1000 classes)").c_str(), nullptr,
                                false, idle))
                start_load("builtin:" + name, "");
        }
        if (ImGui::BeginMenu("small variants (64x64, 10 classes)")) {
            for (const auto& name : rm::builtin_model_names())
                if (ImGui::MenuItem(("builtin:" + name).c_str(), nullptr, false, idle))
                    start_load("builtin:" + name + "?size=64x64&classes=10", "");
            ImGui::EndMenu();
        }
        ImGui::EndMenu();
    }
    if (ImGui::BeginMenu("View")) {
        if (ImGui::MenuItem("Collapse all residual blocks")) {
            residual_view_.set_all_collapsed(true);
            plain_view_.set_all_collapsed(true);
        }
        if (ImGui::MenuItem("Expand all blocks")) {
            residual_view_.set_all_collapsed(false);
            plain_view_.set_all_collapsed(false);
        }
        ImGui::EndMenu();
    }
    ImGui::EndMenuBar();
}

void App::draw_status() {
    if (state_.model) {
        const auto& m = *state_.model;
        ImGui::TextColored(theme::kAccent, "%s", m.display_name.c_str());
        ImGui::SameLine();
        ImGui::TextDisabled("| %zu -> %zu nodes | %d/%zu blocks converted", m.residual.nodes.size(),
                            m.rm.plain.nodes.size(), m.rm.converted, m.rm.blocks.size());
    }
    if (state_.runs) {
        ImGui::SameLine();
        ImGui::TextDisabled("| %s | %s", state_.runs->device.c_str(),
                            state_.runs->image_path.empty()
                                ? "synthetic input"
                                : fs::path(state_.runs->image_path).filename().c_str());
        ImGui::SameLine();
        const VerdictText said = verdict_text(state_);
        ImGui::TextColored(said.colour, "| %s", said.label);
    }
    if (!state_.warnings.empty()) {
        ImGui::SameLine();
        ImGui::TextColored(theme::kWarn, "| %zu warning%s", state_.warnings.size(),
                           state_.warnings.size() == 1 ? "" : "s");
        if (ImGui::IsItemHovered()) {
            ImGui::BeginTooltip();
            for (const auto& w : state_.warnings) ImGui::TextUnformatted(w.c_str());
            ImGui::EndTooltip();
        }
    }
    // The process's resident size, re-read twice a second (a /proc read).
    if (const double now = ImGui::GetTime(); now - resident_read_at_ >= 0.5) {
        resident_read_at_ = now;
        resident_ = format_bytes(resident_memory().current_bytes);
    }
    ImGui::SameLine();
    ImGui::TextDisabled("| %s resident", resident_.c_str());
    if (worker_.busy()) {
        ImGui::SameLine();
        const Progress& p = worker_.progress();
        ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x);
        ImGui::ProgressBar(p.fraction, ImVec2(-1, 0), p.get_stage().c_str());
    } else {
        ImGui::SameLine(ImGui::GetWindowWidth() - 150);
        ImGui::TextDisabled("%.0f fps", double(ImGui::GetIO().Framerate));
    }
}

void App::draw_ui() {
    const ImGuiViewport* vp = ImGui::GetMainViewport();
    ImGui::SetNextWindowPos(vp->WorkPos);
    ImGui::SetNextWindowSize(vp->WorkSize);
    ImGuiWindowFlags flags =
        ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_MenuBar |
        ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoSavedSettings |
        ImGuiWindowFlags_NoBackground;  // the clear colour is the background: one fill less
    ImGui::Begin("rmvk", nullptr, flags);
    draw_menu();
    draw_status();
    ImVec2 avail = ImGui::GetContentRegionAvail();
    float left_w = std::floor(avail.x * 0.52f);
    float graphs_h = std::floor(avail.y * 0.70f);

    ImGui::BeginChild("left", {left_w, avail.y}, false);
    float pane_w = (left_w - 6) / 2;
    ImGui::BeginChild("residual_pane", {pane_w, graphs_h}, true,
                      ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse);
    if (auto clicked = residual_view_.draw(state_.selection.residual, residual_ms_))
        select_residual(*clicked, false);
    ImGui::EndChild();
    ImGui::SameLine(0, 6);
    ImGui::BeginChild("plain_pane", {pane_w, graphs_h}, true,
                      ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse);
    if (auto clicked = plain_view_.draw(state_.selection.plain, plain_ms_))
        select_plain(*clicked, false);
    ImGui::EndChild();
    ImGui::BeginChild("properties", {0, 0}, true);
    draw_properties_panel(state_);
    ImGui::EndChild();
    ImGui::EndChild();

    ImGui::SameLine(0, 6);
    ImGui::BeginChild("right", {0, avail.y}, false);
    ImGui::BeginChild("outputs", {0, 196}, true);
    draw_outputs_panel(state_);
    ImGui::EndChild();
    draw_tabs();
    ImGui::EndChild();

    if (!browser_.script_error().empty()) {
        report_error("File browser", browser_.script_error());
        browser_.clear_script_error();
    }
    if (auto chosen = browser_.draw()) {
        const auto purpose = browser_.purpose();
        browser_.close();
        // A bench report opens at once; a model or image chosen while a job runs opens once it
        // is done, as a dropped file does (the browser's filter matched it to its purpose).
        if (purpose == FileBrowser::Purpose::Report)
            open_path(*chosen);
        else
            dropped_.push_back(*chosen);
    }
    draw_error_modal();
    ImGui::End();
}

void App::draw_tabs() {
    if (ImGui::BeginTabBar("tabs")) {
        auto tab = [&](const char* name) {
            ImGuiTabItemFlags f = active_tab_request_ == name ? ImGuiTabItemFlags_SetSelected : 0;
            bool open = ImGui::BeginTabItem(name, nullptr, f);
            if (open) active_tab_ = name;
            return open;
        };
        if (tab("Feature maps")) {
            feature_maps_.draw(state_);
            if (auto pick = feature_maps_.take_reserved_pick()) show_dirac_row(*pick);
            ImGui::EndTabItem();
        }
        if (tab("Timing")) {
            TimingRequest req = timing_.draw(state_, devices_, worker_.busy());
            if (req.open_report) open_browser(FileBrowser::Purpose::Report);
            if (req.plain_exec) choose_plain_exec(*req.plain_exec);
            if (req.run_on_device && !worker_.busy()) {
                state_.device = *req.run_on_device;
                if (req.precision) state_.precision = *req.precision;
                start_run(state_.image_path, state_.device, req.repeats);
            }
            ImGui::EndTabItem();
        }
        if (tab("Input")) {
            input_panel_.draw(state_);
            ImGui::EndTabItem();
        }
        if (tab("Explain")) {
            explain_.draw(state_, active_tab_ == "Explain");
            ImGui::EndTabItem();
        }
        if (tab("Pruning")) {
            if (auto req = pruning_.draw(state_); req && !worker_.busy()) start_prune(*req);
            if (!pruning_.script_error().empty() && !pruning_error_shown_) {
                pruning_error_shown_ = true;
                report_error("Pruning", pruning_.script_error());
            }
            ImGui::EndTabItem();
        }
        if (ImGui::GetFrameCount() > 2 && active_tab_ == active_tab_request_)
            active_tab_request_.clear();
        ImGui::EndTabBar();
    }
}

void App::draw_error_modal() {
    if (modal_errors_.empty()) return;
    if (!ImGui::IsPopupOpen("Error")) ImGui::OpenPopup("Error");
    ImGui::SetNextWindowSize({560, 0}, ImGuiCond_Appearing);
    if (ImGui::BeginPopupModal("Error", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) {
        ImGui::TextColored(theme::kBad, "Something went wrong");
        ImGui::PushTextWrapPos(540);
        ImGui::TextUnformatted(modal_errors_.front().c_str());
        ImGui::PopTextWrapPos();
        ImGui::TextDisabled(state_.model ? "The previous model and results are kept." : "");
        if (ImGui::Button("OK", {120, 0}) ||
            ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Enter))) {
            modal_errors_.erase(modal_errors_.begin());
            ImGui::CloseCurrentPopup();
        }
        ImGui::EndPopup();
    }
}

}  // namespace rmvk::ui
