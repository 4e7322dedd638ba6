// GraphRunner: conv steps planned dense or as a structured conv's blocks and copies, their
// weights uploaded in the plans' layouts, realized once the scratch buffers exist.
#include "app/engine/graph_runner_impl.hpp"

namespace rmvk {

void GraphRunner::Impl::plan_conv_step(Step& s) {
    const rm::Node& n = nodes[s.node];
    const bool residual = !s.residual.empty();
    bool has_bias = n.inputs.size() > 2 && !n.inputs[2].empty();
    const ConvProblem problem = conv_problem(s);
    s.conv.clear();  // a step planned again (each streamed run) starts from no part
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

void GraphRunner::Impl::realize_conv_steps(size_t first, size_t last) {
    // One set of scratch buffers serves every conv: steps run one after another. The Winograd
    // operands are tensors of the storage type; split-K partial sums are always fp32.
    const uint64_t scratch_bytes[3] = {element_bytes, element_bytes, 4};
    for (int i = 0; i < 3; ++i)
        if (scratch_elements[i])
            scratch[i] = std::make_unique<Buffer>(ctx, scratch_elements[i] * scratch_bytes[i],
                                                  MemoryKind::DeviceLocal);
    for (size_t si = first; si < last; ++si) {
        Step& s = steps[si];
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
    uint64_t scratch_total = 0;
    for (int i = 0; i < 3; ++i) scratch_total += scratch_elements[i] * scratch_bytes[i];
    memory.peak_activation_bytes =
        std::max(memory.peak_activation_bytes, activation_bytes + scratch_total);
}

}  // namespace rmvk
