#pragma once
// --dump-state: what is on screen as JSON, for tests and scripts.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ui/app_state.hpp"
#include "ui/explain_panel.hpp"
#include "ui/feature_maps_panel.hpp"
#include "ui/timing_panel.hpp"
#include "ui/worker.hpp"

namespace rmvk::ui {

struct ScreenFacts {
    // The last background job that finished (opening a model and running both graphs, ...):
    // its title, seconds from start to finish and when each stage began.
    std::string last_job;
    double last_job_s = 0;
    std::vector<JobStage> last_job_stages;
    const FeatureMapsPanel* feature_maps = nullptr;
    int residual_boxes = 0, plain_boxes = 0;  // boxes in each pane's layout
    int residual_drawn = 0, plain_drawn = 0;  // boxes drawn in the last frame
    double fps = 0;
    double ui_ms = 0;  // mean CPU time to build one frame's UI
    std::vector<std::pair<std::string, double>>
        frame_costs;           // mean ms per frame in each render step
    double redrawn_share = 0;  // mean share of the window redrawn per frame
    int redraw_mismatch = -1;  // --check-redraw result (-1: not checked)
    int frames = 0;
    bool busy = false;
    std::string window_device;  // the Vulkan device drawing the window
    std::string active_tab;
    bool browser_open = false;  // the File menu's browser
    std::string browser_dir;    // its last listing
    std::vector<std::string> browser_dirs, browser_files;
    std::optional<TimingPanel::ReportFacts> report;  // a loaded bench report
    std::optional<ExplainFacts> explain;             // the Explain tab
    // The Pruning view: sweep points per curve (-1: no sweep yet), and whether one runs.
    int sweep_plain_points = -1, sweep_residual_points = -1;
    bool sweep_busy = false;
    int frames_while_sweeping = 0;
};

std::string dump_state_json(const AppState& state, const ScreenFacts& facts);

}  // namespace rmvk::ui
