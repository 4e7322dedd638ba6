#pragma once
// The desktop app's one object, inside the ui library only. Its methods are split by job:
// app.cpp (frame loop, background jobs, opening files), app_layout.cpp (the window's layout,
// menus, status bar, error dialog), app_selection.cpp (linking the selection in both panes),
// app_script.cpp (carrying out the StartupScript and writing its files at the end).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ui/app.hpp"
#include "ui/app_state.hpp"
#include "ui/explain_panel.hpp"
#include "ui/feature_maps_panel.hpp"
#include "ui/file_browser.hpp"
#include "ui/graph_view.hpp"
#include "ui/input_panel.hpp"
#include "ui/pruning_panel.hpp"
#include "ui/renderer.hpp"
#include "ui/startup_script.hpp"
#include "ui/timing_panel.hpp"
#include "ui/window.hpp"
#include "ui/worker.hpp"

namespace rmvk::ui {

class App {
  public:
    explicit App(const GuiOptions& options);
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    // Runs until the window closes or the scripted frames are done; the exit code.
    int run();

  private:
    // app.cpp
    std::string pick_start_device(const std::string& wanted);
    void report_error(const std::string& what, const std::string& message);
    void start_load(const std::string& model_spec, const std::string& image);
    void start_run(const std::string& image, const std::string& device, int repeats);
    void start_prune(const PruneRequest& req);
    // The Timing tab's plain execution: dense starts its timing unless it is measured.
    void choose_plain_exec(PlainExec exec);
    void start_dense_timing();
    // A finished job's dense timing or its error; a new run drops a dense timing it outdates.
    void take_dense_result(const JobResult& done);
    void handle_jobs();
    void handle_drops();
    void open_browser(FileBrowser::Purpose purpose);
    void open_path(const std::string& path);

    // app_layout.cpp
    void draw_ui();
    void draw_menu();
    void draw_status();
    void draw_tabs();
    void draw_error_modal();

    // app_selection.cpp
    void show_graphs();
    void rebuild_time_maps();
    void select_start_node();
    void select_residual(const std::string& node, bool focus_both);
    void select_plain(const std::string& node, bool focus_both);
    void show_dirac_row(const FeatureMapsPanel::ReservedPick& pick);

    // app_script.cpp
    void advance_script(const JobResult& done);
    void apply_script_requests();
    void script_frame();
    bool settled() const;
    int finish_script(const Screenshot& shot);

    GuiOptions options_;
    StartupScript script_{options_};
    Window window_;
    ImGuiSession imgui_;
    Renderer renderer_;
    // Panels own textures: declared after the renderer so they are destroyed first.
    FeatureMapsPanel feature_maps_;
    InputPanel input_panel_;
    ExplainPanel explain_;
    TimingPanel timing_;
    PruningPanel pruning_;
    GraphView residual_view_{"Residual"};
    GraphView plain_view_{"Plain (RM)"};
    FileBrowser browser_;
    AppState state_;
    std::vector<std::string> devices_;
    std::map<std::string, double> residual_ms_, plain_ms_;
    std::vector<std::string> dropped_;
    std::vector<std::string> modal_errors_;
    std::string active_tab_, active_tab_request_;
    std::string resident_;  // the status bar's resident size
    JobResult last_job_;    // the last finished job's title and timing only (the state dump)
    std::optional<TimingSetup> dense_job_;  // what the running dense timing job measures
    double resident_read_at_ = -1;
    int frames_while_sweeping_ = 0;  // the window kept drawing while the sweep ran
    bool pruning_error_shown_ = false;
    int frames_done_ = 0;
    double fps_ = 0;
    double ui_ms_sum_ = 0;  // CPU time building the UI per frame (rendering excluded)
    int ui_ms_count_ = 0;
    Worker worker_;  // last: joined first, before anything its job might touch
};

}  // namespace rmvk::ui
