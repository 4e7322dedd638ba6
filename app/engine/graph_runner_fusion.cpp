// GraphRunner: which nodes run as one step (fusion), and which reserved copies of the plain
// graph stay unstored (copy elision), with the facts both read.
#include "app/engine/graph_runner_impl.hpp"

namespace rmvk {

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
                    (r->inputs.at(0) != s.output && r->op != rm::Op::Max && r->op != rm::Op::Min))
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

}  // namespace rmvk
