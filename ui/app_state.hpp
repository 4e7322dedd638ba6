#pragma once
// What every panel reads: the current model and runs, and the selection in both panes.
#include <memory>
#include <set>
#include <string>
#include <vector>

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
    std::vector<std::string> errors;  // every error shown this session, oldest first
    // Fall-backs taken (e.g. GPU run failed, CPU shown), NaN/Inf in a loaded model's weights.
    std::vector<std::string> warnings;
};

// The output tensor of `node` in `graph`, or "" if unknown.
std::string output_of(const rm::Graph& graph, const std::string& node);

}  // namespace rmvk::ui
