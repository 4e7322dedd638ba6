#pragma once
// What every panel reads: the current model and runs, and the selection in both panes.
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ui/plain_exec.hpp"
#include "ui/session.hpp"

namespace rmvk::ui {

struct Selection {
    std::set<std::string> residual, plain;        // highlighted nodes
    std::string residual_primary, plain_primary;  // whose outputs the feature maps show
};

struct AppState {
    std::shared_ptr<const LoadedModel> model;
    std::shared_ptr<const RunSet> runs;
    Selection selection;
    std::string device = kCpuDevice;
    rmvk::Precision precision = rmvk::Precision::Fp32;  // on Vulkan devices (the Timing tab)
    std::string image_path;
    // The Timing tab's plain execution. `runs->plain` is the structured timing; the dense one
    // is measured when dense is picked, for `plain_dense_setup` (null until then, and again
    // once the model, image, device or storage changes).
    PlainExec plain_exec = PlainExec::Structured;
    std::shared_ptr<const GraphRun> plain_dense;
    TimingSetup plain_dense_setup;
    bool plain_dense_measuring = false;
    std::string plain_dense_error;    // why the last dense timing failed, one line ("" if not)
    std::vector<std::string> errors;  // every error shown this session, oldest first
    // Fall-backs taken (e.g. GPU run failed, CPU shown), NaN/Inf in a loaded model's weights.
    std::vector<std::string> warnings;
};

// What `state.runs` was measured for (the setup a dense timing must match).
TimingSetup timing_setup(const AppState& state);
// The plain graph's timing shown for the chosen execution: the dense one when dense is chosen
// and measured, else the structured one; nullptr without runs, or when dense is chosen and not
// measured yet.
const GraphRun* shown_plain_timing(const AppState& state);
// Whether the plain graph shown is pruned with a threshold above 0, so it need not match.
bool plain_is_approximate(const AppState& state);
// Whether both graphs' top class is the same (false when either has none).
bool top1_agrees(const Comparison& c);

// The weight bytes a dense timing of the plain graph uploads, at the runs' storage (0 without
// a model and runs): what the Timing tab says before it starts one.
uint64_t plain_dense_weight_bytes(const AppState& state);

// The output tensor of `node` in `graph`, or "" if unknown.
std::string output_of(const rm::Graph& graph, const std::string& node);

}  // namespace rmvk::ui
