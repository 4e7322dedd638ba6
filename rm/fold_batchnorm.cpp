#include "rm/fold_batchnorm.hpp"

#include <cmath>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "rm/batchnorm.hpp"
#include "rm/error.hpp"
#include "rm/rm_graph_index.hpp"

namespace rm {

namespace {

std::string where(const Node& n) {
    return "node '" + n.name + "' (" + std::string(op_name(n.op)) + ")";
}

const Tensor& constant_input(const Graph& g, const Node& n, size_t i, const char* what) {
    if (i >= n.inputs.size() || n.inputs[i].empty()) throw Error(where(n) + ": missing " + what);
    auto it = g.initializers.find(n.inputs[i]);
    if (it == g.initializers.end())
        throw Error(where(n) + ": " + what + " '" + n.inputs[i] + "' is not a constant");
    return it->second;
}

// A graph with g's name, inputs, outputs, metadata and opset, and no nodes or weights yet.
Graph empty_like(const Graph& g) {
    Graph out;
    out.name = g.name;
    out.inputs = g.inputs;
    out.outputs = g.outputs;
    out.metadata = g.metadata;
    out.opset = g.opset;
    return out;
}

// Rewires readers of Identity outputs to the Identity inputs and drops those nodes. The
// result has no initializers: callers read them from `in`, so unchanged weights are copied
// once, at the end, and folded ones never.
Graph bypass_identities(const Graph& in, NodeMapping& mapping, int& removed) {
    std::unordered_set<std::string> outputs(in.outputs.begin(), in.outputs.end());
    std::unordered_map<std::string, std::string> alias;  // identity output -> its source
    std::vector<const Node*> dropped;
    auto resolve = [&](std::string t) {
        for (auto it = alias.find(t); it != alias.end(); it = alias.find(t)) t = it->second;
        return t;
    };
    for (const auto& n : in.nodes) {
        if (n.op != Op::Identity || n.inputs.size() != 1 || n.outputs.size() != 1) continue;
        if (outputs.count(n.outputs[0])) continue;
        alias[n.outputs[0]] = n.inputs[0];
        dropped.push_back(&n);
    }
    Graph out = empty_like(in);
    std::unordered_map<std::string, std::string> producer;
    for (const auto& n : in.nodes) {
        if (n.op == Op::Identity && alias.count(n.outputs.empty() ? "" : n.outputs[0])) continue;
        Node copy = n;
        for (auto& i : copy.inputs)
            if (!i.empty()) i = resolve(i);
        for (const auto& o : copy.outputs) producer[o] = copy.name;
        mapping[copy.name].residual_nodes.push_back(copy.name);
        out.nodes.push_back(std::move(copy));
    }
    for (const Node* d : dropped) {
        auto p = producer.find(resolve(d->inputs[0]));
        if (p != producer.end()) mapping[p->second].residual_nodes.push_back(d->name);
    }
    removed = static_cast<int>(dropped.size());
    return out;
}

}  // namespace

Tensor folded_weight(const Graph& graph, const Node& conv, const Node* bn) {
    if (conv.inputs.size() < 2 || !graph.is_initializer(conv.inputs[1]))
        throw Error(where(conv) + ": weight is missing or not a constant");
    Tensor w = graph.materialise(conv.inputs[1]);
    if (!bn) return w;
    if (w.shape.empty()) throw Error(where(conv) + ": weight has no shape");
    return scale_output_channels(w, bn_affine(graph, *bn, w.shape[0]).scale);
}

std::vector<double> folded_bias(const Graph& graph, const Node& conv, const Node* bn) {
    const Shape* w = conv.inputs.size() > 1 ? graph.initializer_shape(conv.inputs[1]) : nullptr;
    if (!w) throw Error(where(conv) + ": weight is missing or not a constant");
    if (w->empty()) throw Error(where(conv) + ": weight has no shape");
    const int64_t channels = (*w)[0];
    std::vector<double> b(channels, 0.0);
    if (conv.inputs.size() > 2 && !conv.inputs[2].empty()) {
        const Tensor& bias = constant_input(graph, conv, 2, "bias");
        if (bias.size() != channels) throw Error(where(conv) + ": bias size does not match weight");
        for (int64_t c = 0; c < channels; ++c) b[c] = bias.data[c];
    }
    if (bn) {
        BnAffine a = bn_affine(graph, *bn, channels);
        for (int64_t c = 0; c < channels; ++c) b[c] = b[c] * a.scale[c] + a.shift[c];
    }
    return b;
}

FoldResult fold_batchnorm(const Graph& graph) {
    FoldResult result;
    Graph g = bypass_identities(graph, result.mapping, result.identities_removed);
    detail::GraphIndex ix(g);
    detail::NameSet names(graph);

    std::unordered_set<const Node*> fold_bns;
    std::unordered_map<const Node*, const Node*> bn_of_conv;
    for (const auto& name : foldable_batchnorms(g, &graph)) {
        const Node* bn = ix.node(name);
        fold_bns.insert(bn);
        bn_of_conv[ix.producer(bn->inputs[0])] = bn;
    }

    // Count readers of each initializer: a weight shared with another node gets a new name
    // instead of being overwritten.
    std::unordered_map<std::string, int> readers;
    for (const auto& n : g.nodes)
        for (const auto& i : n.inputs) ++readers[i];

    Graph out = empty_like(g);
    NodeMapping mapping;
    std::unordered_map<std::string, Tensor> new_weights;
    std::unordered_map<std::string, ConvStructure> new_structured;
    for (const auto& n : g.nodes) {
        if (fold_bns.count(&n)) continue;
        Node copy = n;
        auto found = bn_of_conv.find(&n);
        if (found != bn_of_conv.end()) {
            const Node& bn = *found->second;
            const int64_t channels = graph.initializer_shape(n.inputs[1])->at(0);
            BnAffine a = bn_affine(graph, bn, channels);
            std::vector<double> bias = folded_bias(graph, n, &bn);
            std::optional<Tensor> wf;
            std::optional<ConvStructure> ws;
            if (const ConvStructure* st = graph.structure(n.inputs[1])) {
                ws = scale_rows(*st, a.scale);
            } else {
                wf = scale_output_channels(graph.initializers.at(n.inputs[1]), a.scale);
            }
            Tensor bf(Shape{channels});
            for (int64_t c = 0; c < channels; ++c) bf.data[c] = static_cast<float>(bias[c]);

            auto taken = [&](const std::string& name) {
                return new_weights.count(name) || new_structured.count(name);
            };
            std::string wname = readers[n.inputs[1]] == 1 && !taken(n.inputs[1])
                                    ? n.inputs[1]
                                    : names.fresh(n.name + ".weight");
            bool has_bias = n.inputs.size() > 2 && !n.inputs[2].empty();
            std::string bname = has_bias && readers[n.inputs[2]] == 1 && !taken(n.inputs[2])
                                    ? n.inputs[2]
                                    : names.fresh(n.name + ".bias");
            if (ws)
                new_structured[wname] = std::move(*ws);
            else
                new_weights[wname] = std::move(*wf);
            new_weights[bname] = std::move(bf);
            copy.inputs.resize(3);
            copy.inputs[1] = wname;
            copy.inputs[2] = bname;
            copy.outputs = {bn.outputs[0]};
            auto& origin = mapping[copy.name];
            origin = result.mapping[n.name];
            for (const auto& r : result.mapping[bn.name].residual_nodes)
                origin.residual_nodes.push_back(r);
            ++result.folded;
        } else {
            mapping[copy.name] = result.mapping[n.name];
        }
        out.nodes.push_back(std::move(copy));
    }
    // Keep only initializers still read, so folded-away BN parameters do not linger.
    std::unordered_set<std::string> used;
    for (const auto& n : out.nodes)
        for (const auto& i : n.inputs) used.insert(i);
    for (auto& [name, t] : new_weights) out.initializers[name] = std::move(t);
    for (auto& [name, t] : new_structured) out.structured_weights[name] = std::move(t);
    for (const auto& [name, t] : graph.initializers)
        if (used.count(name) && !out.is_initializer(name)) out.initializers[name] = t;
    // Structured weights share their blocks' values: copying them is cheap.
    for (const auto& [name, t] : graph.structured_weights)
        if (used.count(name) && !out.is_initializer(name)) out.structured_weights[name] = t;
    result.graph = std::move(out);
    result.mapping = std::move(mapping);
    return result;
}

}  // namespace rm
