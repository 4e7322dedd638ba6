#include "rm/fuse_linear.hpp"

#include <unordered_map>
#include <unordered_set>

#include "rm/conv_structure.hpp"
#include "rm/rm_graph_index.hpp"

namespace rm {

namespace {

bool all_zero(const std::vector<int64_t>& v) {
    for (int64_t x : v)
        if (x != 0) return false;
    return true;
}
bool all_one(const std::vector<int64_t>& v) {
    for (int64_t x : v)
        if (x != 1) return false;
    return true;
}

// A plain 1x1 conv: constant 4-D [out, in, 1, 1] weight, group 1, no padding, no dilation.
bool is_pointwise(const detail::GraphIndex& ix, const Node& n) {
    if (n.op != Op::Conv || n.inputs.size() < 2 || n.attrs.group != 1) return false;
    const Shape* w = ix.initializer_shape(n.inputs[1]);
    if (!w || w->size() != 4 || (*w)[2] != 1 || (*w)[3] != 1) return false;
    if (n.inputs.size() > 2 && !n.inputs[2].empty() && !ix.initializer_shape(n.inputs[2]))
        return false;
    return all_zero(n.attrs.pads) && all_one(n.attrs.dilations) &&
           n.attrs.auto_pad.rfind("SAME", 0) != 0;
}

std::vector<double> bias_of(const Graph& g, const Node& n, int64_t out) {
    std::vector<double> b(static_cast<size_t>(out), 0.0);
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
        const Tensor t = g.materialise(n.inputs[2]);
        for (int64_t o = 0; o < out && o < t.size(); ++o) b[o] = t.data[o];
    }
    return b;
}

}  // namespace

FuseLinearResult fuse_linear_1x1(Graph& graph, NodeMapping* mapping, FuseLinear which) {
    FuseLinearResult result;
    // Pairs left apart once stay apart (repeated passes must not count them again).
    std::unordered_set<std::string> kept_apart;
    // One pass finds pairs; chains of three or more compose over repeated passes.
    for (bool changed = true; changed;) {
        changed = false;
        detail::GraphIndex ix(graph);
        std::unordered_map<const Node*, const Node*> second_of;  // A -> B
        std::unordered_set<const Node*> used;
        for (const auto& a : graph.nodes) {
            if (!is_pointwise(ix, a) || a.outputs.size() != 1 || used.count(&a)) continue;
            if (!ix.private_tensor(a.outputs[0])) continue;
            const Node* b = ix.consumers(a.outputs[0])[0];
            if (!is_pointwise(ix, *b) || b->inputs[0] != a.outputs[0] || used.count(b)) continue;
            if (!all_one(b->attrs.strides) || kept_apart.count(a.name)) continue;
            const Shape* wa = ix.initializer_shape(a.inputs[1]);
            const Shape* wb = ix.initializer_shape(b->inputs[1]);
            const int64_t in = (*wa)[1], mid = (*wa)[0], out = (*wb)[0];
            if (which == FuseLinear::fewer_macs && out * in > mid * (in + out)) {
                kept_apart.insert(a.name);
                ++result.skipped;
                continue;
            }
            second_of[&a] = b;
            used.insert(&a);
            used.insert(b);
        }
        if (second_of.empty()) break;
        std::unordered_set<std::string> dropped;
        std::unordered_map<std::string, Node> replacement;  // B's name -> composed node
        std::unordered_map<std::string, Tensor> new_weights;
        detail::NameSet names(graph);
        for (const auto& [a, b] : second_of) {
            const Tensor wa = graph.materialise(a->inputs[1]);
            const Tensor wb = graph.materialise(b->inputs[1]);
            const int64_t in = wa.shape[1], mid = wa.shape[0], out = wb.shape[0];
            if (wb.shape[1] != mid) continue;
            const std::vector<double> ba = bias_of(graph, *a, mid), bb = bias_of(graph, *b, out);
            Tensor w(Shape{out, in, 1, 1});
            Tensor bias(Shape{out});
            std::vector<double> acc(static_cast<size_t>(in));
            for (int64_t o = 0; o < out; ++o) {
                std::fill(acc.begin(), acc.end(), 0.0);
                double bo = bb[o];
                for (int64_t m = 0; m < mid; ++m) {
                    const double k = wb.data[o * mid + m];
                    if (k == 0.0) continue;
                    const float* row = wa.ptr() + m * in;
                    for (int64_t i = 0; i < in; ++i) acc[i] += k * double(row[i]);
                    bo += k * ba[m];
                }
                for (int64_t i = 0; i < in; ++i) w.data[o * in + i] = static_cast<float>(acc[i]);
                bias.data[o] = static_cast<float>(bo);
            }
            Node fused = *b;
            fused.inputs = {a->inputs[0], names.fresh(b->name + ".fused.weight"),
                            names.fresh(b->name + ".fused.bias")};
            fused.attrs.strides = a->attrs.strides;
            new_weights.emplace(fused.inputs[1], std::move(w));
            new_weights.emplace(fused.inputs[2], std::move(bias));
            if (mapping) {
                NodeOrigin origin = (*mapping)[b->name];
                const NodeOrigin& from = (*mapping)[a->name];
                origin.residual_nodes.insert(origin.residual_nodes.begin(),
                                             from.residual_nodes.begin(),
                                             from.residual_nodes.end());
                if (origin.block.empty()) origin.block = from.block;
                mapping->erase(a->name);
                (*mapping)[b->name] = std::move(origin);
            }
            dropped.insert(a->name);
            replacement.emplace(b->name, std::move(fused));
            ++result.fused;
            changed = true;
        }
        std::vector<Node> nodes;
        nodes.reserve(graph.nodes.size());
        for (auto& n : graph.nodes) {
            if (dropped.count(n.name)) continue;
            auto r = replacement.find(n.name);
            nodes.push_back(r == replacement.end() ? std::move(n) : std::move(r->second));
        }
        graph.nodes = std::move(nodes);
        for (auto& [name, t] : new_weights) graph.initializers[name] = std::move(t);
        // Drop the weights nothing reads any more.
        std::unordered_set<std::string> read;
        for (const auto& n : graph.nodes)
            for (const auto& i : n.inputs) read.insert(i);
        for (auto it = graph.initializers.begin(); it != graph.initializers.end();)
            it = read.count(it->first) ? std::next(it) : graph.initializers.erase(it);
        for (auto it = graph.structured_weights.begin(); it != graph.structured_weights.end();)
            it = read.count(it->first) ? std::next(it) : graph.structured_weights.erase(it);
    }
    // Composed weights that keep a structure (a Dirac reserve) are held as one.
    if (result.fused) structure_conv_weights(graph);
    return result;
}

}  // namespace rm
