#pragma once
// Per-layer time bars of both graphs, totals (MACs, GFLOP/s, % of measured peak, memory) of the
// residual graph and the plain one run structured and dense, the plain execution whose bars are
// shown, "run N times", the device picker, and a loaded bench report to compare against.
#include <optional>
#include <string>
#include <vector>

#include "app/report/bench_report.hpp"
#include "ui/app_state.hpp"

namespace rmvk::ui {

struct TimingRequest {
    std::optional<std::string> run_on_device;  // re-run both graphs on this device
    std::optional<rmvk::Precision> precision;  // ... storing tensors this way (Vulkan devices)
    int repeats = 1;
    bool open_report = false;  // show the file browser for a bench JSON
    // The plain execution picked (dense: measure it unless it is measured).
    std::optional<PlainExec> plain_exec;
};

class TimingPanel {
  public:
    // `busy`: a background job runs (the plain execution cannot be changed meanwhile).
    TimingRequest draw(const AppState& state, const std::vector<std::string>& devices, bool busy);
    // Throws with a message naming the file when it is not a bench report.
    void load_report(const std::string& path);
    bool has_report() const { return report_.has_value(); }
    // The loaded report as the panel compares it with the current run (for the state dump).
    struct ReportFacts {
        std::string path, device, model;
        double residual_ms = 0, plain_ms = 0;  // the report's total device times
        int matched_layers = 0;  // layers of the current run the report has a time for
    };
    std::optional<ReportFacts> report_facts(const AppState& state) const;

  private:
    std::optional<PlainExec> draw_plain_exec(const AppState& state, bool busy);
    void draw_totals(const AppState& state);
    // with_filter: the "timed nodes only" checkbox beside the title (it filters both).
    void draw_bars(const char* id, const char* title, const GraphRun& run,
                   const rmvk::GraphBench* reference, unsigned int color, bool with_filter = false);

    int repeats_ = 5;
    std::optional<rmvk::BenchReport> report_;
    std::string report_path_;
    bool only_timed_ = true;
};

}  // namespace rmvk::ui
