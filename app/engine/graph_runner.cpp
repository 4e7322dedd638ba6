// GraphRunner: prepares a graph for one device and batch (fusion, weights, activation buffers
// reused by liveness, one recorded command buffer) and runs it.
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
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
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

bool is_view(rm::Op op) {
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

}  // namespace

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
    std::unordered_map<std::string, TensorRef> tensors;       // every tensor with a device location
    std::unordered_map<std::string, std::string> fused_away;  // tensor -> node it was fused into
    std::unordered_set<std::string> readable;     // tensors whose contents survive a run
    std::unordered_set<std::string> nonnegative;  // tensors known to hold no negative value
    ElidedChannels elided;  // reserved copies not stored, and where their values are held
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
    void allocate_and_plan();
    void plan_staging();
    void record();
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
    void realize_conv_steps();
};

void GraphRunner::Impl::plan_fusion() {
    std::unordered_map<std::string, std::vector<size_t>> readers;
    for (size_t i = 0; i < nodes.size(); ++i)
        for (const auto& in : nodes[i].inputs)
            if (!in.empty()) readers[in].push_back(i);
    std::unordered_set<std::string> outputs(graph.outputs.begin(), graph.outputs.end());
    fused_into.assign(nodes.size(), "");
    const std::unordered_set<std::string> foldable = rm::foldable_batchnorms(graph);
    std::vector<bool> absorbed(nodes.size(), false);
    std::unordered_map<std::string, size_t> producer;
    for (size_t i = 0; i < nodes.size(); ++i)
        for (const auto& out : nodes[i].outputs) producer[out] = i;

    // The single reader of `tensor` when it has exactly one and is not a graph output.
    auto only_reader = [&](const std::string& tensor) -> const rm::Node* {
        auto it = readers.find(tensor);
        if (!options.fuse || outputs.count(tensor) || it == readers.end() || it->second.size() != 1)
            return nullptr;
        return &nodes[it->second[0]];
    };
    for (size_t i = 0; i < nodes.size(); ++i) {
        if (absorbed[i]) continue;
        const rm::Node& n = nodes[i];
        Step s;
        s.node = i;
        s.output = n.outputs.at(0);
        auto absorb = [&](const rm::Node* r) {
            size_t idx = static_cast<size_t>(r - nodes.data());
            absorbed[idx] = true;
            fused_into[idx] = n.name;
            s.fused.push_back(idx);
            fused_away[s.output] = n.name;
            s.output = r->outputs.at(0);
        };
        if (n.op == rm::Op::Conv) {
            const rm::Node* r = only_reader(s.output);
            if (r && r->inputs[0] == s.output && foldable.count(r->name)) {
                absorb(r);
                s.fold_bn = true;
            }
        }
        if (n.op == rm::Op::Conv) {
            // Conv(+BN) feeding an Add whose other operand already exists when this conv runs
            // (the block input, or a branch computed earlier): the conv adds it as it stores,
            // saving a pass over the output. With a projection shortcut this is the later conv.
            const rm::Node* r = only_reader(s.output);
            if (r && r->op == rm::Op::Add && r->inputs.size() == 2 &&
                r->inputs[0] != r->inputs[1]) {
                const std::string& other = r->inputs[0] == s.output ? r->inputs[1] : r->inputs[0];
                auto p = producer.find(other);
                bool ready = !graph.is_initializer(other) &&
                             (p == producer.end() ? shapes.count(other) > 0 : p->second < i);
                if (ready && shapes.at(other) == shapes.at(s.output)) {
                    absorb(r);
                    s.residual = other;
                }
            }
        }
        if (n.op == rm::Op::Conv) {
            // Every clamp-like node that follows (Relu, Clip, PRelu 0/1, Max/Min by constants)
            // becomes one per-channel clamp in the conv's epilogue.
            const int64_t channels = shapes.at(s.output).at(1);
            std::optional<rm::ChannelClamp> act;
            while (const rm::Node* r = only_reader(s.output)) {
                auto c = rm::as_channel_clamp(graph, *r, channels);
                if (!c ||
                    r->inputs.at(0) != s.output && r->op != rm::Op::Max && r->op != rm::Op::Min)
                    break;
                act = act ? rm::compose(*act, *c) : *c;
                absorb(r);
            }
            if (act && act->is_relu())
                s.relu = true;
            else if (act && !act->is_identity())
                s.clamp = std::move(act);
        }
        if (n.op == rm::Op::Add || n.op == rm::Op::Mul || n.op == rm::Op::BatchNormalization) {
            const rm::Node* r = only_reader(s.output);
            if (r && r->op == rm::Op::Relu) {
                absorb(r);
                s.relu = true;
            }
        }
        steps.push_back(std::move(s));
    }
}

TensorRef GraphRunner::Impl::upload(const rm::Tensor& t) {
    auto buf = std::make_unique<Buffer>(
        ctx, static_cast<uint64_t>(std::max<int64_t>(t.size(), 1)) * element_bytes,
        MemoryKind::DeviceLocal);
    TensorRef ref{buf.get(), 0, t.shape};
    memory.weight_bytes += buf->size();
    weights.push_back(std::move(buf));
    write_buffer(ref, t.ptr());
    return ref;
}

TensorRef GraphRunner::Impl::weight(const std::string& name) {
    auto it = tensors.find(name);
    if (it != tensors.end()) return it->second;
    rm::Tensor holder;
    return tensors[name] = upload(dense(name, holder));
}

const rm::Tensor& GraphRunner::Impl::dense(const std::string& name, rm::Tensor& holder) const {
    if (auto it = graph.initializers.find(name); it != graph.initializers.end()) return it->second;
    holder = graph.materialise(name);
    return holder;
}

void GraphRunner::Impl::write_buffer(const TensorRef& dst, const float* src) {
    const auto count = static_cast<size_t>(rm::element_count(dst.shape));
    const uint64_t bytes = count * element_bytes;
    if (bytes == 0) return;
    if (dst.buffer->mapped()) {
        to_device_elements(static_cast<char*>(dst.buffer->mapped()) + dst.first * element_bytes,
                           src, count, element_bytes);
        return;
    }
    Buffer staging(ctx, bytes, MemoryKind::Staging);
    to_device_elements(staging.mapped(), src, count, element_bytes);
    ctx.submit_and_wait([&](VkCommandBuffer c) {
        VkBufferCopy region{0, dst.first * element_bytes, bytes};
        vkCmdCopyBuffer(c, staging.handle(), dst.buffer->handle(), 1, &region);
    });
}

void GraphRunner::Impl::read_buffer(const TensorRef& src, float* dst) const {
    const auto count = static_cast<size_t>(rm::element_count(src.shape));
    const uint64_t bytes = count * element_bytes;
    if (bytes == 0) return;
    if (src.buffer->mapped()) {
        from_device_elements(
            dst, static_cast<const char*>(src.buffer->mapped()) + src.first * element_bytes, count,
            element_bytes);
        return;
    }
    Buffer staging(ctx, bytes, MemoryKind::Staging);
    ctx.submit_and_wait([&](VkCommandBuffer c) {
        VkBufferCopy region{src.first * element_bytes, 0, bytes};
        vkCmdCopyBuffer(c, src.buffer->handle(), staging.handle(), 1, &region);
    });
    from_device_elements(dst, staging.mapped(), count, element_bytes);
}

ConvProblem GraphRunner::Impl::conv_problem(const Step& s) const {
    const rm::Node& n = nodes[s.node];
    const bool residual = !s.residual.empty();
    const bool has_bias = n.inputs.size() > 2 && !n.inputs[2].empty();
    auto first = [&](const std::string& t) -> uint64_t {
        auto it = tensors.find(t);
        return it == tensors.end() ? 0 : it->second.first;
    };
    ConvProblem problem;
    problem.x = shapes.at(n.inputs[0]);
    problem.y = shapes.at(s.output);
    if (residual) problem.residual = shapes.at(s.residual);
    problem.bias = has_bias || s.fold_bn || s.clamp.has_value();
    problem.relu = s.relu;
    problem.clamp = s.clamp.has_value();
    problem.attrs = &n.attrs;
    problem.x_first = first(n.inputs[0]);
    problem.y_first = first(s.output);
    if (residual) problem.residual_first = first(s.residual);
    return problem;
}

TensorFacts GraphRunner::Impl::facts(const std::string& tensor) const {
    auto it = tensors.find(tensor);
    return {shapes.at(tensor), it == tensors.end() ? 0 : it->second.first,
            nonnegative.count(tensor) > 0};
}

bool GraphRunner::Impl::structured_view(const Step& s, bool fold_blocks, StructView& v) const {
    const rm::Node& n = nodes[s.node];
    const rm::ConvStructure* found = graph.structure(n.inputs[1]);
    const bool has_bias = n.inputs.size() > 2 && !n.inputs[2].empty();
    // A clamp's bounds travel in the bias buffer beside the whole conv's bias: dense.
    if (!found || n.attrs.group != 1 || s.clamp ||
        (has_bias && !graph.initializers.count(n.inputs[2])))
        return false;
    if (s.fold_bn) {
        // The same fold as the dense path (double, rounded once), applied to the blocks and
        // Dirac scales.
        const rm::Node& bn = nodes[s.fused.front()];
        const int64_t oc = found->out_channels();
        const std::vector<double> scale = rm::bn_affine(graph, bn, oc).scale;
        if (fold_blocks) {
            v.folded = rm::scale_rows(*found, scale);
        } else {
            rm::ConvStructure diracs;
            diracs.shape = found->shape;
            diracs.group = found->group;
            diracs.diracs = found->diracs;
            v.folded = *found;
            v.folded.diracs = rm::scale_rows(diracs, scale).diracs;
        }
        const std::vector<double> fb = rm::folded_bias(graph, n, &bn);
        v.bias = rm::Tensor(rm::Shape{oc});
        for (int64_t o = 0; o < oc; ++o) v.bias.data[o] = static_cast<float>(fb[o]);
    } else {
        v.folded = *found;
        if (has_bias) v.bias = graph.initializers.at(n.inputs[2]);
    }
    return true;
}

void GraphRunner::Impl::plan_elision() {
    for (const Step& s : steps) {
        const rm::Node& n = nodes[s.node];
        const bool from_nonnegative =
            !n.inputs.empty() && nonnegative.count(n.inputs[0]) &&
            (n.op == rm::Op::MaxPool || is_view(n.op) || n.op == rm::Op::GlobalAveragePool);
        const bool clamped_nonnegative =
            s.clamp && std::all_of(s.clamp->lo.begin(), s.clamp->lo.end(),
                                   [](float lo) { return lo >= 0.0f; });
        if (s.relu || clamped_nonnegative || n.op == rm::Op::Relu || from_nonnegative)
            nonnegative.insert(s.output);
    }
    if (!options.structured) return;
    std::unordered_set<std::string> other(graph.outputs.begin(), graph.outputs.end());
    std::vector<ElisionConv> convs;
    std::vector<size_t> step_of;
    std::vector<StructView> views(steps.size());
    for (size_t si = 0; si < steps.size(); ++si) {
        const Step& s = steps[si];
        const rm::Node& n = nodes[s.node];
        for (size_t k = 0; k < n.inputs.size(); ++k)
            if (!n.inputs[k].empty() && (n.op != rm::Op::Conv || k > 0)) other.insert(n.inputs[k]);
        if (!s.residual.empty()) other.insert(s.residual);
        if (n.op != rm::Op::Conv) continue;
        ElisionConv c;
        c.x = n.inputs[0];
        c.y = s.output;
        c.problem = conv_problem(s);
        if (structured_view(s, false, views[si])) {
            c.structure = &views[si].folded;
            c.bias = c.problem.bias ? &views[si].bias : nullptr;
        }
        convs.push_back(std::move(c));
        step_of.push_back(si);
    }
    ElisionPlan plan =
        plan_copy_elision(convs, other, [&](const std::string& t) { return facts(t); });
    for (size_t k = 0; k < convs.size(); ++k)
        steps[step_of[k]].may_elide = std::move(plan.may_elide[k]);
    elided = std::move(plan.elided);
}

void GraphRunner::Impl::plan_conv_step(Step& s) {
    const rm::Node& n = nodes[s.node];
    const bool residual = !s.residual.empty();
    bool has_bias = n.inputs.size() > 2 && !n.inputs[2].empty();
    const ConvProblem problem = conv_problem(s);
    if (options.structured && plan_structured_conv_step(s, problem)) return;
    if (elided.count(n.inputs[0]))
        throw rm::Error("internal error: node '" + n.name +
                        "' runs dense over an input whose reserved copies were not stored");
    s.conv.resize(1);
    ConvPlan& plan = s.conv[0].plan;
    plan = plan_conv(problem, planner_caps);
    s.method = plan.name;

    TensorRef w, bias;
    const ConvWeightLayout& layout = plan.weights;
    const bool as_in_graph = layout.packed_rows == 0 && layout.winograd_m == 0;
    auto upload_weights = [&](const rm::Tensor& t) {
        return upload(conv_device_weights(t, n.attrs.group, layout));
    };
    if (s.fold_bn) {
        // The model library's fold, in double, rounding once to fp32.
        const rm::Node& bn = nodes[s.fused.front()];
        rm::Tensor holder;
        const auto& wt = dense(n.inputs[1], holder);
        const int64_t oc = wt.shape[0];
        const std::vector<double> scale = rm::bn_affine(graph, bn, oc).scale;
        const std::vector<double> folded = rm::folded_bias(graph, n, &bn);
        rm::Tensor fw = rm::scale_output_channels(wt, scale), fb(rm::Shape{oc});
        for (int64_t o = 0; o < oc; ++o) fb.data[o] = static_cast<float>(folded[o]);
        w = upload_weights(fw);
        bias = upload(fb);
    } else {
        const std::string& wname = n.inputs[1];
        if (as_in_graph)
            w = graph.is_initializer(wname) ? weight(wname) : tensors.at(wname);
        else if (rm::Tensor holder; graph.is_initializer(wname))
            w = upload_weights(dense(wname, holder));
        else
            throw rm::Error("node '" + n.name +
                            "' (Conv): weights computed at run time are not supported");
        if (has_bias)
            bias =
                graph.is_initializer(n.inputs[2]) ? weight(n.inputs[2]) : tensors.at(n.inputs[2]);
    }
    if (s.clamp) {
        // The epilogue reads [bias | lo | hi] from the bias binding.
        const int64_t oc = problem.y.at(1);
        rm::Tensor planes(rm::Shape{3 * oc});
        if (bias.buffer) {
            rm::Tensor b(rm::Shape{oc});
            read_buffer(bias, b.ptr());
            std::copy(b.data.begin(), b.data.end(), planes.data.begin());
        }
        std::copy(s.clamp->lo.begin(), s.clamp->lo.end(), planes.data.begin() + oc);
        std::copy(s.clamp->hi.begin(), s.clamp->hi.end(), planes.data.begin() + 2 * oc);
        bias = upload(planes);
    }
    if (w.first != 0 || (problem.bias && bias.first != 0))
        throw rm::Error("node '" + n.name + "' (Conv): weights must start their buffer");
    auto& b = s.conv[0].buffers;
    b[static_cast<size_t>(ConvOperand::X)] = tensors.at(n.inputs[0]).buffer->handle();
    b[static_cast<size_t>(ConvOperand::W)] = w.buffer->handle();
    if (problem.bias) b[static_cast<size_t>(ConvOperand::Bias)] = bias.buffer->handle();
    b[static_cast<size_t>(ConvOperand::Y)] = tensors.at(s.output).buffer->handle();
    if (residual)
        b[static_cast<size_t>(ConvOperand::Residual)] = tensors.at(s.residual).buffer->handle();
    scratch_elements[0] = std::max(scratch_elements[0], plan.winograd_input_elements);
    scratch_elements[1] = std::max(scratch_elements[1], plan.winograd_product_elements);
    scratch_elements[2] = std::max(scratch_elements[2], plan.split_k_elements);
}

bool GraphRunner::Impl::plan_structured_conv_step(Step& s, const ConvProblem& problem) {
    const rm::Node& n = nodes[s.node];
    StructView v;
    if (!structured_view(s, true, v)) return false;
    const rm::Tensor* bias = problem.bias ? &v.bias : nullptr;
    std::vector<std::string> names;  // the tensors of the conv's input sources
    const ConvInputs in = conv_inputs(
        n.inputs[0], elided, [&](const std::string& t) { return facts(t); }, &names);
    StructuredConv sc;
    try {
        sc = split_structured_conv(problem, v.folded, bias, in,
                                   s.may_elide.empty() ? nullptr : &s.may_elide);
    } catch (const rm::Error&) {
        return false;  // a structure the split does not handle: the dense weight
    }
    int64_t elided_rows = 0, planned = 0;
    for (const ElidedRun& e : sc.elided) elided_rows += e.channels;
    for (bool m : s.may_elide) planned += m;
    if (elided_rows != planned)
        throw rm::Error("internal error: node '" + n.name + "' elides other copies than planned");
    auto buffer = [&](const std::string& t) { return tensors.at(t).buffer->handle(); };
    auto operands = [&](Step::ConvPart& part, int x_source) {
        auto& b = part.buffers;
        b[static_cast<size_t>(ConvOperand::X)] = buffer(names.at(static_cast<size_t>(x_source)));
        b[static_cast<size_t>(ConvOperand::Y)] = buffer(s.output);
        if (!s.residual.empty()) b[static_cast<size_t>(ConvOperand::Residual)] = buffer(s.residual);
        scratch_elements[0] = std::max(scratch_elements[0], part.plan.winograd_input_elements);
        scratch_elements[1] = std::max(scratch_elements[1], part.plan.winograd_product_elements);
        scratch_elements[2] = std::max(scratch_elements[2], part.plan.split_k_elements);
    };
    std::string method;
    for (const auto& blk : sc.blocks) {
        Step::ConvPart part;
        part.plan = plan_conv(blk.problem, planner_caps);
        TensorRef w = upload(conv_device_weights(*blk.weight, blk.group, part.plan.weights));
        part.buffers[static_cast<size_t>(ConvOperand::W)] = w.buffer->handle();
        if (blk.problem.bias)
            part.buffers[static_cast<size_t>(ConvOperand::Bias)] =
                upload(blk.bias).buffer->handle();
        operands(part, blk.x_source);
        if (blk.residual_source >= 0)
            part.buffers[static_cast<size_t>(ConvOperand::Residual)] =
                buffer(names.at(static_cast<size_t>(blk.residual_source)));
        if (blk.accumulate) {
            part.buffers[static_cast<size_t>(ConvOperand::Residual)] =
                part.buffers[static_cast<size_t>(ConvOperand::Y)];
            if (!part.plan.dispatches.empty()) part.plan.dispatches.front().after_previous = true;
        }
        if (method.find(part.plan.name) == std::string::npos)
            method += (method.empty() ? "" : " + ") + part.plan.name;
        s.conv.push_back(std::move(part));
    }
    std::optional<TensorRef> bias_ref;
    for (int source : epilogue_sources(sc)) {
        // One plan per tensor the passes read: the conv's input, or where elided copies are.
        ConvProblem whole = problem;
        whole.x = in.sources.at(static_cast<size_t>(source)).shape;
        whole.x_first = in.sources.at(static_cast<size_t>(source)).first;
        Step::ConvPart part;
        part.plan = plan_conv_epilogue(whole, sc, planner_caps, source);
        if (bias) {
            if (!bias_ref) bias_ref = upload(*bias);
            part.buffers[static_cast<size_t>(ConvOperand::Bias)] = bias_ref->buffer->handle();
        }
        operands(part, source);
        if (method.find(part.plan.name) == std::string::npos)
            method += (method.empty() ? "" : " + ") + part.plan.name;
        s.conv.push_back(std::move(part));
    }
    s.method = "structured: " + method;
    if (elided_rows > 0) s.method += " (" + std::to_string(elided_rows) + " copies not stored)";
    return true;
}

void GraphRunner::Impl::realize_conv_steps() {
    // One set of scratch buffers serves every conv: steps run one after another. The Winograd
    // operands are tensors of the storage type; split-K partial sums are always fp32.
    const uint64_t scratch_bytes[3] = {element_bytes, element_bytes, 4};
    for (int i = 0; i < 3; ++i)
        if (scratch_elements[i])
            scratch[i] = std::make_unique<Buffer>(ctx, scratch_elements[i] * scratch_bytes[i],
                                                  MemoryKind::DeviceLocal);
    for (auto& s : steps) {
        if (nodes[s.node].op != rm::Op::Conv) continue;
        s.dispatches.clear();
        for (auto& part : s.conv) {
            for (int i = 0; i < 3; ++i)
                if (scratch[i])
                    part.buffers[static_cast<size_t>(ConvOperand::WinogradInput) + i] =
                        scratch[i]->handle();
            std::vector<Dispatch> ds =
                realize_conv_plan(ctx, part.plan, part.buffers, element_bytes);
            // The blocks of a structured conv write disjoint channels, but Winograd plans share
            // (and split-K plans) share the scratch buffers: a block waits for the previous one.
            if (!s.dispatches.empty() && !ds.empty() &&
                (scratch_elements[0] > 0 || scratch_elements[2] > 0))
                ds.front().after_previous = true;
            for (auto& d : ds) s.dispatches.push_back(std::move(d));
        }
    }
    for (int i = 0; i < 3; ++i)
        memory.peak_activation_bytes += scratch_elements[i] * scratch_bytes[i];
}

std::vector<Dispatch> GraphRunner::Impl::plan_step(Step& s) {
    const rm::Node& n = nodes[s.node];
    auto in = [&](size_t k) -> TensorRef {
        const std::string& name = n.inputs.at(k);
        if (graph.is_initializer(name)) return weight(name);
        return tensors.at(name);
    };
    const TensorRef& y = tensors.at(s.output);
    switch (n.op) {
        case rm::Op::Conv:
            plan_conv_step(s);
            return {};  // realized once the scratch buffers exist (allocate_and_plan)
        case rm::Op::BatchNormalization: {
            int64_t c = graph.initializers.at(n.inputs[1]).size();
            const std::vector<double> scale = rm::bn_affine(graph, n, c).scale;
            rm::Tensor params(rm::Shape{c * 3});
            for (int64_t ch = 0; ch < c; ++ch) {
                params.data[3 * ch] = static_cast<float>(scale[ch]);
                params.data[3 * ch + 1] = graph.initializers.at(n.inputs[3]).data[ch];
                params.data[3 * ch + 2] = graph.initializers.at(n.inputs[2]).data[ch];
            }
            return plan_batchnorm(planner, in(0), upload(params), y, s.relu);
        }
        case rm::Op::Relu:
            return plan_relu(planner, in(0), y);
        case rm::Op::Add:
            return plan_binary(planner, BinaryOp::Add, in(0), in(1), y, s.relu);
        case rm::Op::Mul:
            return plan_binary(planner, BinaryOp::Mul, in(0), in(1), y, s.relu);
        case rm::Op::Clip:
        case rm::Op::PRelu:
        case rm::Op::Max:
        case rm::Op::Min: {
            const rm::Shape& x = shapes.at(n.inputs.at(0));
            if (auto c = rm::as_channel_clamp(graph, n, x.size() > 1 ? x[1] : 1)) {
                rm::Tensor params(rm::Shape{2 * c->channels()});
                for (int64_t ch = 0; ch < c->channels(); ++ch) {
                    params.data[2 * ch] = c->lo[ch];
                    params.data[2 * ch + 1] = c->hi[ch];
                }
                const bool constant_first = graph.is_initializer(n.inputs[0]);
                return plan_clamp(planner, in(constant_first ? 1 : 0), upload(params), y);
            }
            const BinaryOp op = n.op == rm::Op::Max   ? BinaryOp::Max
                                : n.op == rm::Op::Min ? BinaryOp::Min
                                                      : BinaryOp::PRelu;
            return plan_binary(planner, op, in(0), in(1), y, false);
        }
        case rm::Op::ReduceMean:  // over H and W (infer_shapes): [N, C] or [N, C, 1, 1]
            return plan_global_avg_pool(planner, in(0), y);
        case rm::Op::MaxPool:
            return plan_pool(planner, in(0), y, n.attrs, false);
        case rm::Op::AveragePool:
            return plan_pool(planner, in(0), y, n.attrs, true);
        case rm::Op::GlobalAveragePool:
            return plan_global_avg_pool(planner, in(0), y);
        case rm::Op::Gemm: {
            bool has_c = n.inputs.size() > 2 && !n.inputs[2].empty();
            TensorRef c = has_c ? in(2) : TensorRef{};
            return plan_gemm(planner, in(0), in(1), has_c ? &c : nullptr, y, n.attrs);
        }
        case rm::Op::MatMul:
            return plan_matmul(planner, in(0), in(1), y);
        case rm::Op::Softmax:
            return plan_softmax(planner, in(0), y, n.attrs.axis);
        default:
            return {};
    }
}

void GraphRunner::Impl::allocate_and_plan() {
    std::unordered_set<std::string> pinned(graph.outputs.begin(), graph.outputs.end());
    // Aliases: a view's output shares its input's buffer, so liveness is tracked per root tensor.
    std::unordered_map<std::string, std::string> root;
    auto root_of = [&](const std::string& t) {
        auto it = root.find(t);
        return it == root.end() ? t : it->second;
    };
    for (const auto& s : steps) {
        const rm::Node& n = nodes[s.node];
        if (is_view(n.op) && !graph.is_initializer(n.inputs.at(0)))
            root[s.output] = root_of(n.inputs.at(0));
    }
    std::unordered_set<std::string> pinned_roots;
    for (const auto& o : pinned) pinned_roots.insert(root_of(o));
    std::unordered_map<std::string, size_t> last_use;
    for (size_t si = 0; si < steps.size(); ++si) {
        for (const auto& in : nodes[steps[si].node].inputs) {
            if (in.empty() || graph.is_initializer(in)) continue;
            last_use[root_of(in)] = si;
            // Elided copies are read from the tensors that hold them.
            if (auto e = elided.find(in); e != elided.end())
                for (const auto& [home, channel] : e->second)
                    if (!home.empty()) last_use[root_of(home)] = si;
        }
        if (!steps[si].residual.empty()) last_use[root_of(steps[si].residual)] = si;
        last_use.try_emplace(root_of(steps[si].output), si);
    }

    // Graph inputs: their own buffers, written by run().
    for (const auto& vi : graph.inputs) {
        const auto& shape = shapes.at(vi.name);
        auto buf = std::make_unique<Buffer>(
            ctx,
            static_cast<uint64_t>(std::max<int64_t>(rm::element_count(shape), 1)) * element_bytes,
            MemoryKind::DeviceLocal);
        tensors[vi.name] = {buf.get(), 0, shape};
        readable.insert(vi.name);
        activations.push_back(std::move(buf));
    }
    std::multimap<uint64_t, Buffer*> free_buffers;  // by size
    std::unordered_map<std::string, Buffer*> owner;
    uint64_t activation_bytes = 0;
    for (size_t si = 0; si < steps.size(); ++si) {
        Step& s = steps[si];
        const rm::Node& n = nodes[s.node];
        const rm::Shape& shape = shapes.at(s.output);
        if (is_view(n.op)) {
            const std::string& src = n.inputs.at(0);
            TensorRef ref = graph.is_initializer(src) ? weight(src) : tensors.at(src);
            ref.shape = shape;
            tensors[s.output] = ref;
        } else {
            uint64_t bytes = static_cast<uint64_t>(std::max<int64_t>(rm::element_count(shape), 1)) *
                             element_bytes;
            Buffer* buf = nullptr;
            auto it =
                options.keep_intermediates ? free_buffers.end() : free_buffers.lower_bound(bytes);
            if (it != free_buffers.end()) {
                buf = it->second;
                free_buffers.erase(it);
            } else {
                activations.push_back(
                    std::make_unique<Buffer>(ctx, bytes, MemoryKind::DeviceLocal));
                buf = activations.back().get();
                activation_bytes += bytes;
            }
            owner[s.output] = buf;
            tensors[s.output] = {buf, 0, shape};
            s.dispatches = plan_step(s);
        }
        // Release buffers whose last reader was this step.
        if (options.keep_intermediates) continue;
        for (auto& [tensor, last] : last_use) {
            if (last != si || pinned_roots.count(tensor) || !owner.count(tensor)) continue;
            Buffer* b = owner[tensor];
            owner.erase(tensor);
            free_buffers.emplace(b->size(), b);
        }
    }
    memory.peak_activation_bytes = activation_bytes;
    realize_conv_steps();
    for (const auto& o : graph.outputs) readable.insert(o);
    if (options.keep_intermediates)
        for (const auto& [name, ref] : tensors)
            if (!graph.is_initializer(name)) readable.insert(name);
}

void GraphRunner::Impl::plan_staging() {
    std::vector<StagedTensor> in, out;
    uint64_t total = 0;
    auto stage = [&](std::vector<StagedTensor>& list, const std::string& name) {
        const TensorRef& ref = tensors.at(name);
        if (ref.buffer->mapped()) return;
        const uint64_t bytes =
            static_cast<uint64_t>(std::max<int64_t>(rm::element_count(ref.shape), 1)) *
            element_bytes;
        total += bytes;
        list.push_back({name, ref, nullptr});
    };
    for (const auto& vi : graph.inputs) stage(in, vi.name);
    std::unordered_set<std::string> seen;
    for (const auto& o : graph.outputs)
        if (!graph.is_initializer(o) && tensors.count(o) && seen.insert(o).second) stage(out, o);
    if (total > kMaxRunStagingBytes) return;
    for (auto* list : {&in, &out})
        for (auto& t : *list)
            t.staging = std::make_unique<Buffer>(
                ctx,
                static_cast<uint64_t>(std::max<int64_t>(rm::element_count(t.device.shape), 1)) *
                    element_bytes,
                MemoryKind::Staging);
    staged_inputs = std::move(in);
    staged_outputs = std::move(out);
}

void GraphRunner::Impl::record() {
    plan_staging();
    uint32_t sets = 0, bindings = 0;
    for (auto& s : steps) {
        if (!s.dispatches.empty()) s.query = query_count++;
        for (const auto& d : s.dispatches) {
            ++sets;
            bindings += static_cast<uint32_t>(d.ranges.size());
        }
    }
    arena = std::make_unique<DescriptorArena>(ctx, sets, bindings);
    timestamps = options.timestamps && ctx.has_timestamps();
    if (timestamps) queries = ctx.make_timestamp_pool(2 * std::max<uint32_t>(query_count, 1));

    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = ctx.command_pool.get();
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    vk_check(vkAllocateCommandBuffers(ctx.device, &ai, &cmd), "allocating a command buffer");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    vk_check(vkBeginCommandBuffer(cmd, &bi), "beginning a command buffer");
    if (timestamps)
        vkCmdResetQueryPool(cmd, queries.get(), 0, 2 * std::max<uint32_t>(query_count, 1));
    auto copy = [&](const StagedTensor& t, bool in) {
        const uint64_t bytes =
            static_cast<uint64_t>(rm::element_count(t.device.shape)) * element_bytes;
        if (bytes == 0) return;
        const VkBufferCopy region{in ? 0 : t.device.first * element_bytes,
                                  in ? t.device.first * element_bytes : 0, bytes};
        vkCmdCopyBuffer(cmd, in ? t.staging->handle() : t.device.buffer->handle(),
                        in ? t.device.buffer->handle() : t.staging->handle(), 1, &region);
    };
    for (const auto& t : staged_inputs) copy(t, true);  // the first step's barrier follows
    for (size_t si = 0; si < steps.size(); ++si) {
        const Step& s = steps[si];
        if (s.dispatches.empty()) continue;
        compute_barrier(cmd);
        if (timestamps)
            vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, queries.get(),
                                2 * s.query);
        for (const auto& d : s.dispatches) {
            VkDescriptorSet set = arena->make_set(*d.pipeline, d.ranges);
            if (d.after_previous) compute_barrier(cmd);
            record_dispatch(cmd, *d.pipeline, set, d.push.data(), d.push.size(), d.groups[0],
                            d.groups[1], d.groups[2]);
        }
        if (timestamps)
            vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, queries.get(),
                                2 * s.query + 1);
    }
    compute_barrier(cmd);
    if (!staged_outputs.empty()) {
        for (const auto& t : staged_outputs) copy(t, false);
        VkMemoryBarrier to_host{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
        to_host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                             &to_host, 0, nullptr, 0, nullptr);
    }
    vk_check(vkEndCommandBuffer(cmd), "recording the graph's command buffer");
}

GraphRunner::GraphRunner(Context& context, const rm::Graph& graph, int64_t batch,
                         const RunOptions& options)
    : impl_(std::make_unique<Impl>(context.impl(), graph, batch, options)) {
    if (batch < 1) throw rm::Error("batch size must be at least 1, got " + std::to_string(batch));
    Impl& m = *impl_;
    m.shapes = rm::infer_shapes_of(m.graph, batch, &m.nodes);
    for (const auto& n : m.nodes)
        if (n.op == rm::Op::Conv && (m.shapes.at(n.inputs.at(0)).size() != 4))
            throw rm::Error("node '" + n.name + "' (Conv): only 2-D convolutions run on the GPU");
    auto cost = rm::compute_cost(m.graph, m.shapes);
    m.macs.assign(m.nodes.size(), 0);
    for (size_t i = 0; i < cost.nodes.size() && i < m.macs.size(); ++i)
        m.macs[i] = cost.nodes[i].macs;
    m.plan_fusion();
    m.plan_elision();
    m.allocate_and_plan();
    m.record();
    if (options.warm_up) m.ctx.submit_and_wait(m.cmd);
}

GraphRunner::~GraphRunner() = default;

RunResult GraphRunner::run(const std::map<std::string, rm::Tensor>& inputs) {
    Impl& m = *impl_;
    if (m.weights_released)
        throw rm::Error("graph '" + m.graph.name + "': its weights were released, it cannot run");
    auto start = Clock::now();
    RunResult r;
    for (const auto& vi : m.graph.inputs) {
        auto it = inputs.find(vi.name);
        if (it == inputs.end()) throw rm::Error("missing input '" + vi.name + "'");
        const auto& expect = m.shapes.at(vi.name);
        if (it->second.shape != expect)
            throw rm::Error("input '" + vi.name + "' has shape " + rm::to_string(it->second.shape) +
                            ", the GPU runner was prepared for " + rm::to_string(expect));
        auto staged = std::find_if(m.staged_inputs.begin(), m.staged_inputs.end(),
                                   [&](const StagedTensor& t) { return t.name == vi.name; });
        if (staged != m.staged_inputs.end())
            to_device_elements(staged->staging->mapped(), it->second.ptr(),
                               static_cast<size_t>(it->second.size()), m.element_bytes);
        else
            m.write_buffer(m.tensors.at(vi.name), it->second.ptr());
    }
    r.upload_ms = ms_since(start);
    m.ctx.submit_and_wait(m.cmd);
    auto down = Clock::now();
    for (const auto& o : m.graph.outputs) {
        auto staged = std::find_if(m.staged_outputs.begin(), m.staged_outputs.end(),
                                   [&](const StagedTensor& t) { return t.name == o; });
        if (staged == m.staged_outputs.end()) {
            r.outputs[o] = read_tensor(o);
            continue;
        }
        rm::Tensor t(staged->device.shape);
        from_device_elements(t.ptr(), staged->staging->mapped(), static_cast<size_t>(t.size()),
                             m.element_bytes);
        r.outputs[o] = std::move(t);
    }
    r.download_ms = ms_since(down);

    std::vector<double> step_ms(m.steps.size(), 0.0);
    if (m.timestamps) {
        std::vector<uint64_t> ticks(2 * m.query_count, 0);
        if (!ticks.empty())
            vk_check(vkGetQueryPoolResults(m.ctx.device, m.queries.get(), 0,
                                           static_cast<uint32_t>(ticks.size()), ticks.size() * 8,
                                           ticks.data(), 8,
                                           VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
                     "reading GPU timestamps");
        uint64_t mask = m.ctx.info.timestamp_valid_bits >= 64
                            ? ~0ull
                            : ((1ull << m.ctx.info.timestamp_valid_bits) - 1);
        for (size_t si = 0; si < m.steps.size(); ++si)
            if (!m.steps[si].dispatches.empty())
                step_ms[si] =
                    static_cast<double>(
                        (ticks[2 * m.steps[si].query + 1] - ticks[2 * m.steps[si].query]) & mask) *
                    m.ctx.timestamp_period_ns() * 1e-6;
    }
    std::vector<double> node_ms(m.nodes.size(), 0.0);
    for (size_t si = 0; si < m.steps.size(); ++si) node_ms[m.steps[si].node] = step_ms[si];
    std::vector<const std::string*> method(m.nodes.size(), nullptr);
    std::vector<int> dispatches(m.nodes.size(), 0);
    for (const auto& s : m.steps) {
        if (!s.method.empty()) method[s.node] = &s.method;
        dispatches[s.node] = static_cast<int>(s.dispatches.size());
    }
    for (size_t i = 0; i < m.nodes.size(); ++i) {
        const auto& n = m.nodes[i];
        r.timings.push_back({n.name, n.op, node_ms[i], m.macs[i], m.fused_into[i],
                             method[i] ? *method[i] : std::string(), dispatches[i]});
        r.device_total_ms += node_ms[i];
    }
    r.wall_ms = ms_since(start);
    return r;
}

rm::Tensor GraphRunner::read_tensor(const std::string& name) const {
    const Impl& m = *impl_;
    if (m.graph.is_initializer(name)) return m.graph.materialise(name);
    if (auto f = m.fused_away.find(name); f != m.fused_away.end() && !m.tensors.count(name))
        throw rm::Error("tensor '" + name + "' was fused into node '" + f->second +
                        "' and never stored (prepare the runner with fuse = false to see it)");
    auto it = m.tensors.find(name);
    if (it == m.tensors.end())
        throw rm::Error("no tensor named '" + name + "' in graph '" + m.graph.name + "'");
    if (!m.readable.count(name))
        throw rm::Error("tensor '" + name +
                        "' is not kept after a run (prepare the runner with keep_intermediates)");
    rm::Tensor t(it->second.shape);
    m.read_buffer(it->second, t.ptr());
    if (auto e = m.elided.find(name); e != m.elided.end()) {
        // Reserved copies that were not stored: the channels they copy.
        const int64_t n = t.shape.at(0), c = t.shape.at(1), plane = t.shape.at(2) * t.shape.at(3);
        std::map<std::string, rm::Tensor> homes;
        for (int64_t ch = 0; ch < c; ++ch) {
            const auto& [home, from] = e->second[static_cast<size_t>(ch)];
            if (home.empty()) continue;
            auto h = homes.find(home);
            if (h == homes.end()) h = homes.emplace(home, read_tensor(home)).first;
            const rm::Tensor& src = h->second;
            for (int64_t i = 0; i < n; ++i)
                std::copy_n(src.ptr() + (i * src.shape.at(1) + from) * plane, plane,
                            t.ptr() + (i * c + ch) * plane);
        }
    }
    return t;
}

void GraphRunner::release_weights() {
    Impl& m = *impl_;
    std::unordered_set<const Buffer*> gone;
    for (const auto& w : m.weights) gone.insert(w.get());
    // Views of an initializer point into a weight buffer: they go too.
    for (auto it = m.tensors.begin(); it != m.tensors.end();)
        if (gone.count(it->second.buffer)) {
            m.readable.erase(it->first);
            it = m.tensors.erase(it);
        } else {
            ++it;
        }
    m.weights.clear();
    for (auto& s : m.scratch) s.reset();
    // The recorded command buffer refers to the freed buffers: it is never submitted again.
    m.weights_released = true;
}

MemoryReport GraphRunner::memory() const {
    return impl_->memory;
}

}  // namespace rmvk
