#pragma once
// The public face of rmvk's Vulkan compute engine. Usable without a window: the CLI, the tests
// and the UI go through this header (the UI includes one other: prune_sweep.hpp, its sweep).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/report/device_info.hpp"
#include "rm/graph.hpp"

namespace rmvk {

// Every Vulkan device on this machine; empty when there is none (no error).
std::vector<DeviceInfo> list_devices();

// Picks a device: "" = default (discrete, then integrated, virtual, cpu), a number = index,
// anything else = case-insensitive name substring. Throws VulkanError with a clear message.
int choose_device(const std::vector<DeviceInfo>& devices, const std::string& choice);

struct ContextOptions {
    std::string device;       // as for choose_device
    bool validation = false;  // enable VK_LAYER_KHRONOS_validation; messages go to on_message
    // Validation messages (tests fail on any). Default: print to stderr.
    std::function<void(const std::string&)> on_message{};
};

// Owns the instance, the logical device, a compute queue and the shared pipeline cache.
class Context {
  public:
    explicit Context(const ContextOptions& options = {});
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    const DeviceInfo& device() const;
    size_t validation_message_count() const;

    struct Impl;
    Impl& impl() { return *impl_; }

  private:
    std::unique_ptr<Impl> impl_;
};

// Device time of one graph node (fused nodes, e.g. a Relu folded into its Conv, report 0 and
// name the node that carried them in `fused_into`).
struct NodeTiming {
    std::string node;
    rm::Op op = rm::Op::Identity;
    double device_ms = 0;
    int64_t macs = 0;
    std::string fused_into;
    std::string method;  // how a conv ran: "direct rows", "tiled", "winograd F(4,3)", ...
    int dispatches = 0;  // of its step; more than one when a tensor is sliced over bindings
};

// How tensors are stored on the device. Fp16: weights and activations (and every other tensor
// a kernel reads or writes) in fp16, arithmetic and accumulation in fp32 (split-K partial
// sums stay fp32 too); half the memory and bandwidth. Needs storageBuffer16BitAccess.
enum class Precision { Fp32, Fp16 };
const char* precision_name(Precision p);  // "fp32", "fp16"
// "fp32" or "fp16"; anything else throws rm::Error naming the accepted values.
Precision parse_precision(const std::string& text);

struct RunOptions {
    // Keep every intermediate tensor in its own buffer so read_tensor() works on any of them
    // (the feature-map view). Off: buffers are reused by liveness (lowest memory).
    bool keep_intermediates = false;
    bool timestamps = true;
    // Fold Conv+BatchNormalization(+Relu) and Add+Relu into single dispatches. Off: every node
    // runs on its own (slower; every tensor exists on the device).
    bool fuse = true;
    // Run the graph once (zero inputs) while preparing: lavapipe compiles shaders lazily, so the
    // first run would otherwise be several times slower than the following ones.
    bool warm_up = false;
    // Convs whose weight the graph holds structured (the plain graph's reserved channels) run
    // as their dense blocks plus copies and merges. Off: the dense weight, as a generic runtime
    // would run the exported ONNX.
    bool structured = true;
    // Off: no conv runs Winograd, whose weights are a transformed copy larger than the graph's
    // (4x for F(4,3)), so a runner prepared for one untimed run (the app's feature maps) holds
    // no more weight memory than the graph. On: per layer where faster (or as RMVK_WINOGRAD says).
    bool winograd = true;
    // Not 0: run() uploads the weights of a segment of steps (until they hold this many bytes)
    // just before it runs it and frees them once it has run, so a runner made for one run (the
    // app's feature maps) never holds all its weights beside its tensors. Every run uploads
    // them again; no timestamps are taken (timings read 0) and warm_up is ignored.
    uint64_t stream_weight_bytes = 0;
    // Fp16 on a device without storageBuffer16BitAccess: the runner refuses (rm::Error).
    Precision precision = Precision::Fp32;
};

// A runner made for one untimed run whose every tensor is read back afterwards (the app's
// feature maps): every intermediate kept and unfused, no timestamps, no Winograd weight copies,
// and its weights uploaded a few layers at a time, never all beside its tensors.
inline RunOptions feature_map_run_options(Precision precision = Precision::Fp32) {
    RunOptions o;
    o.keep_intermediates = true;
    o.fuse = false;
    o.timestamps = false;
    o.winograd = false;
    o.stream_weight_bytes = 16ull << 20;
    o.precision = precision;
    return o;
}

struct RunResult {
    std::map<std::string, rm::Tensor> outputs;  // graph outputs
    std::vector<NodeTiming> timings;            // graph order
    double device_total_ms = 0;                 // sum of dispatch device times
    double upload_ms = 0;                       // input upload (host wall time)
    double download_ms = 0;                     // output download
    double wall_ms = 0;                         // whole run() call
};

struct MemoryReport {
    uint64_t weight_bytes = 0;  // RunOptions::stream_weight_bytes: the most held at once
    // Activation buffers (graph inputs aside) and scratch: the most at once, and the activation
    // buffers held now (release_weights frees the Relu outputs it can compute again).
    uint64_t peak_activation_bytes = 0;
    uint64_t activation_bytes = 0;
};

// A graph prepared for one device and batch size: weights uploaded once, pipelines built,
// command buffer recorded (with RunOptions::stream_weight_bytes, weights are uploaded and the
// commands recorded a segment at a time inside each run()). run() may be called many times. The
// runner reads the caller's graph (it keeps no copy of it): the graph must outlive the runner.
class GraphRunner {
  public:
    GraphRunner(Context& context, const rm::Graph& graph, int64_t batch = 1,
                const RunOptions& options = {});
    // A temporary graph would be gone before the first run.
    GraphRunner(Context& context, rm::Graph&& graph, int64_t batch = 1,
                const RunOptions& options = {}) = delete;
    ~GraphRunner();
    GraphRunner(const GraphRunner&) = delete;
    GraphRunner& operator=(const GraphRunner&) = delete;

    RunResult run(const std::map<std::string, rm::Tensor>& inputs);
    // Any tensor of the last run (needs keep_intermediates for non-outputs). Throws if unknown.
    rm::Tensor read_tensor(const std::string& tensor_name) const;
    // Frees the device memory of the weights and scratch buffers, keeping the last run's tensors
    // readable: for a viewer that reads feature maps back long after the run. A Relu's output
    // whose input is kept goes too: read_tensor computes it from the input (the CPU twin, exact).
    // run() throws afterwards.
    void release_weights();
    MemoryReport memory() const;

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

// The device's own measured peak: vec4 FMA chains and a streaming copy.
PeakResult measure_peak(Context& context);

}  // namespace rmvk
