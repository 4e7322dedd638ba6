#pragma once
// GraphRunner's internals, shared by its files: graph_runner_fusion.cpp (which nodes run as one
// step, which reserved copies stay unstored), graph_runner_conv.cpp (conv steps, dense or
// structured), graph_runner_plan.cpp (weights, buffers by liveness, the recorded command
// buffer), graph_runner_stream.cpp (a run that uploads its weights a segment at a time) and
// graph_runner.cpp (running it and reading tensors back).
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "app/engine/conv_struct_plan.hpp"
#include "app/engine/copy_elision.hpp"
#include "app/engine/kernel_plan.hpp"
#include "app/engine/storage_format.hpp"
#include "rm/batchnorm.hpp"
#include "rm/channel_clamp.hpp"
#include "rm/cost.hpp"
#include "rm/error.hpp"
#include "rm/fold_batchnorm.hpp"
#include "rm/shape_inference.hpp"

namespace rmvk {

using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Persistent staging for graph inputs and outputs the host cannot map, at most this much in
// all; beyond it a run stages each tensor on its own (a submit each).
constexpr uint64_t kMaxRunStagingBytes = 256ull << 20;

// A graph input or output copied through its own staging buffer by the run's command buffer.
struct StagedTensor {
    std::string name;
    TensorRef device;
    std::unique_ptr<Buffer> staging;
};

inline bool is_view(rm::Op op) {
    return op == rm::Op::Flatten || op == rm::Op::Reshape || op == rm::Op::Identity;
}

// One unit of GPU work: a graph node plus the nodes fused into it.
struct Step {
    size_t node = 0;
    std::vector<size_t> fused;  // absorbed BatchNormalization / Relu nodes
    std::string output;         // the tensor this step finally writes
    bool fold_bn = false;
    bool relu = false;
    std::optional<rm::ChannelClamp> clamp;  // Conv: a fused clamp other than ReLU (then !relu)
    std::string residual;                   // Conv with a fused Add: the Add's other operand
    std::vector<Dispatch> dispatches;
    // Conv steps: their plans and operands, realized after every step is planned. One plan for
    // a dense conv; a structured one has a plan per dense block and one for its copies.
    struct ConvPart {
        ConvPlan plan;
        std::array<VkBuffer, kConvOperands> buffers{};
    };
    std::vector<ConvPart> conv;
    std::vector<bool> may_elide;  // structured conv: output rows it may leave unstored
    std::string method;           // how the conv ran (NodeTiming::method)
    uint32_t query = 0;  // its timestamps are queries 2*query and 2*query+1 (steps with dispatches)
};

struct GraphRunner::Impl {
    Impl(Context::Impl& c, const rm::Graph& g, int64_t b, const RunOptions& o)
        : ctx(c),
          graph(g),
          batch(b),
          options(o),
          element_bytes(storage_element_bytes(c, o.precision)),
          planner(c, element_bytes),
          planner_caps(device_caps(c, element_bytes)) {
        if (!o.winograd) planner_caps.winograd = DeviceCaps::Winograd::Off;
    }
    ~Impl() {
        if (cmd != VK_NULL_HANDLE)
            vkFreeCommandBuffers(ctx.device, ctx.command_pool.get(), 1, &cmd);
    }

    Context::Impl& ctx;
    const rm::Graph& graph;       // the caller's: weights are read from it, never copied
    std::vector<rm::Node> nodes;  // graph.nodes with auto_pad and kernel sizes resolved
    int64_t batch;
    RunOptions options;
    uint32_t element_bytes;  // per tensor element on the device: 4, or 2 with fp16 storage
    KernelPlanner planner;
    DeviceCaps planner_caps;
    // Winograd input / product and split-K partials, the largest of any conv.
    uint64_t scratch_elements[3] = {0, 0, 0};
    std::unique_ptr<Buffer> scratch[3];
    rm::ShapeMap shapes;
    std::vector<Step> steps;
    std::vector<std::string> fused_into;  // per node: the node that carried it ("" = itself)
    std::vector<int64_t> macs;

    std::vector<std::unique_ptr<Buffer>> weights;
    std::vector<std::unique_ptr<Buffer>> activations;
    uint64_t activation_bytes = 0;                       // of `activations` but the graph inputs'
    std::unordered_map<std::string, TensorRef> tensors;  // every tensor with a device location
    std::unordered_map<std::string, std::string> fused_away;  // tensor -> node it was fused into
    std::unordered_set<std::string> readable;     // tensors whose contents survive a run
    std::unordered_set<std::string> nonnegative;  // tensors known to hold no negative value
    ElidedChannels elided;  // reserved copies not stored, and where their values are held
    // After release_weights: Relu outputs no longer stored, read as relu(their input).
    std::unordered_map<std::string, std::string> relu_of;
    MemoryReport memory;

    // Inputs copied in before the first step and outputs copied out after the last, in the
    // recorded command buffer: one submit per run on devices whose memory the host cannot map.
    std::vector<StagedTensor> staged_inputs, staged_outputs;

    std::unique_ptr<DescriptorArena> arena;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    UniqueQueryPool queries;
    bool timestamps = false;
    uint32_t query_count = 0;
    bool weights_released = false;

    void plan_fusion();
    // Which reserved copies stay unstored (copy_elision.hpp): fills elided and may_elide.
    void plan_elision();
    // A conv step's problem: shapes, attributes, fused epilogue; offsets once allocated.
    ConvProblem conv_problem(const Step& s) const;
    // A conv step's structure with its BatchNormalization folded (the blocks too when
    // fold_blocks, else only the Dirac scales, all the split looks at) and its bias; false
    // when it runs dense (no structure, grouped, a clamp, a bias computed at run time).
    struct StructView {
        rm::ConvStructure folded;
        rm::Tensor bias;
    };
    bool structured_view(const Step& s, bool fold_blocks, StructView& v) const;
    TensorFacts facts(const std::string& tensor) const;
    // Buffers for every tensor, and (unless stream_weight_bytes) every step planned and realized.
    void allocate_and_plan();
    void plan_staging();
    // The command buffer of steps [first, last): their descriptor sets, timestamps, and the
    // staged input (output) copies when it starts (ends) the graph.
    void record(size_t first, size_t last);
    // stream_weight_bytes: plans, runs and frees the steps a segment at a time.
    void run_streamed();
    // Frees the buffers of the Relu outputs whose input stays readable (fills relu_of).
    void release_relu_outputs();
    TensorRef weight(const std::string& name);
    // The dense values of initializer `name`: the graph's own, or a structured weight
    // materialised into `holder`.
    const rm::Tensor& dense(const std::string& name, rm::Tensor& holder) const;
    TensorRef upload(const rm::Tensor& t);
    void write_buffer(const TensorRef& dst, const float* src);
    void read_buffer(const TensorRef& src, float* dst) const;
    std::vector<Dispatch> plan_step(Step& s);
    void plan_conv_step(Step& s);
    // False when the conv's weight is dense (or its bias is computed at run time): then
    // plan_conv_step runs it dense.
    bool plan_structured_conv_step(Step& s, const ConvProblem& problem);
    // The conv steps in [first, last) get their dispatches, with scratch buffers for them.
    void realize_conv_steps(size_t first, size_t last);
};

}  // namespace rmvk
