#pragma once
// What the app shows, computed off the UI thread: the loaded model (residual graph, its RM
// plain twin, shapes, costs) and the runs of both graphs on one input (every intermediate
// tensor readable for the feature-map view, per-node timings, the output comparison).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/engine/engine.hpp"
#include "rm/compare.hpp"
#include "rm/cost.hpp"
#include "rm/graph.hpp"
#include "rm/image.hpp"
#include "rm/prune.hpp"
#include "rm/rm_transform.hpp"
#include "rm/shape_inference.hpp"
#include "ui/run_tensors.hpp"

namespace rmvk::ui {

inline constexpr const char* kCpuDevice = "CPU reference";

// A pruned model shown in the plain pane: what each layer kept.
struct PruneView {
    rm::PruneMode mode = rm::PruneMode::Plain;
    double threshold = 0;
    std::map<std::string, std::string> notes;  // node -> "ch 48->32" (graph boxes)
    // Output tensor -> the unpruned graph's channels that survive, and how many it had.
    std::map<std::string, std::vector<int64_t>> kept_channels;
    std::map<std::string, int64_t> channels_before;
};

struct LoadedModel {
    std::string spec;          // as the user gave it ("" = bundled default)
    std::string display_name;  // file name or builtin name
    rm::Graph residual;
    rm::RmResult rm;  // rm.plain is the plain graph
    rm::ShapeMap residual_shapes, plain_shapes;
    rm::GraphCost residual_cost, plain_cost;
    rm::Preprocessing preprocessing;
    std::vector<std::string> labels;
    std::vector<std::string> warnings;  // NaN/Inf in a weight or BN statistic, one line each
    int64_t num_classes = 0;
    std::string input_name;  // the graph's image input
    // Set when rm.plain is a pruned model (the Pruning view's choice) rather than RM's output.
    std::shared_ptr<const PruneView> pruned;
};

struct GraphRun {
    // Every tensor produced, plus the input, read back one at a time (run_tensors.hpp).
    std::shared_ptr<const RunTensors> tensors;
    std::vector<rmvk::NodeTiming> timings;  // graph order
    double total_ms = 0;
    int runs = 1;  // timings are the mean of this many runs
    uint64_t weight_bytes = 0;
    uint64_t peak_activation_bytes = 0;
    std::string output;  // the graph's output tensor name

    // tensors->get(name); nullptr when the run has none.
    std::shared_ptr<const rm::Tensor> tensor(const std::string& name) const {
        return tensors ? tensors->get(name) : nullptr;
    }
};

struct TopClass {
    int64_t index = 0;
    std::string label;
    float probability = 0;
};

struct Comparison {
    std::vector<TopClass> residual_top, plain_top;
    rm::OutputComparison values;  // residual (the reference) vs plain, as rmvk run says it
    // Where the first NaN/Inf appears in each graph: the first node, in graph order, whose
    // output holds one ("" when none; "input" when the input already does).
    std::string residual_first_non_finite, plain_first_non_finite;
};

struct RunSet {
    std::string device;                                 // kCpuDevice or a Vulkan device name
    rmvk::Precision precision = rmvk::Precision::Fp32;  // how the device stored tensors
    bool device_timing = false;  // true: GPU timestamps; false: host wall time per node
    double peak_gflops = 0;      // measured FMA peak of the device (0: not measured)
    std::string image_path;
    rm::Image image;
    rm::Tensor input;
    GraphRun residual, plain;
    Comparison comparison;
};

// Progress of a background job, written by the worker, read by the UI.
struct Progress;

// Loads and converts a model (throws rm::Error on a bad file).
std::shared_ptr<const LoadedModel> load_model_for_ui(const std::string& spec, Progress& progress);
// `model` with its plain pane replaced by the model pruned at `threshold` (plain: RM then every
// channel; residual: block-internal channels of the residual graph).
std::shared_ptr<const LoadedModel> prune_model_for_ui(const LoadedModel& model, rm::PruneMode mode,
                                                      double threshold, Progress& progress);
// The sample image bundled with the assets for this model's input, or "" (synthetic input).
std::string default_image_for(const LoadedModel& model);
// Runs both graphs on the image (or a deterministic synthetic input when image_path is "").
// The runs read the model's weights while their tensors are read back: they keep it alive.
// `precision` applies to Vulkan devices (the CPU reference is fp32); with fp16 the outputs are
// compared with rm::kFp16MatchTolerance.
std::shared_ptr<const RunSet> run_both(std::shared_ptr<const LoadedModel> model,
                                       const std::string& image_path, const std::string& device,
                                       int repeats, Progress& progress,
                                       rmvk::Precision precision = rmvk::Precision::Fp32);
// The plain graph of `runs` timed once more with its structured conv weights run dense
// (RunOptions::structured off; the CPU reference's dense_structured), on the same device,
// storage and input, as many times as `runs` was: what the exported ONNX costs a generic
// runtime. Its weights are the dense ones (ResNet-152: 3.26 GB against 0.24 GB), held only while
// it runs. A context of its own: the feature-map read-backs keep using the runs' one meanwhile.
GraphRun time_plain_dense(std::shared_ptr<const LoadedModel> model, const RunSet& runs,
                          Progress& progress);
// Devices for the picker: kCpuDevice first, then every Vulkan device by name.
std::vector<std::string> device_choices();

}  // namespace rmvk::ui
