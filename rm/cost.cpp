#include "rm/cost.hpp"

#include <unordered_set>

namespace rm {

namespace {

const Shape* shape_of(const ShapeMap& shapes, const std::string& name) {
    auto it = shapes.find(name);
    return it == shapes.end() ? nullptr : &it->second;
}

// Multiply-accumulates of one node; only Conv, Gemm and MatMul count (the rest is memory-bound
// and negligible next to them, as in torchvision's and the paper's MAC figures).
int64_t node_macs(const Node& n, const ShapeMap& shapes) {
    const Shape* out = n.outputs.empty() ? nullptr : shape_of(shapes, n.outputs[0]);
    if (!out) return 0;
    switch (n.op) {
        case Op::Conv: {
            const Shape* w = n.inputs.size() > 1 ? shape_of(shapes, n.inputs[1]) : nullptr;
            if (!w || w->size() != 4) return 0;
            // out = [N, Cout, Ho, Wo]; each output reads Cin/group * kh * kw inputs.
            return element_count(*out) * (*w)[1] * (*w)[2] * (*w)[3];
        }
        case Op::Gemm: {
            const Shape* a = shape_of(shapes, n.inputs[0]);
            if (!a || a->size() != 2) return 0;
            int64_t k = n.attrs.trans_a ? (*a)[0] : (*a)[1];
            return element_count(*out) * k;
        }
        case Op::MatMul: {
            const Shape* a = shape_of(shapes, n.inputs[0]);
            if (!a || a->empty()) return 0;
            return element_count(*out) * a->back();
        }
        default:
            return 0;
    }
}

// Inputs that are learned parameters. BatchNormalization's running mean and variance are
// statistics (torchvision "buffers"), and a Reshape target is a constant, so neither counts:
// this keeps totals equal to torchvision's parameter counts.
bool is_parameter_input(const Node& n, size_t index) {
    if (n.op == Op::BatchNormalization) return index == 1 || index == 2;
    if (n.op == Op::Reshape) return false;
    return true;
}

}  // namespace

GraphCost compute_cost(const Graph& graph, const ShapeMap& shapes) {
    GraphCost cost;
    std::unordered_set<std::string> counted;
    for (const auto& n : graph.nodes) {
        NodeCost c;
        c.node = n.name;
        c.macs = node_macs(n, shapes);
        for (size_t i = 0; i < n.inputs.size(); ++i) {
            if (!is_parameter_input(n, i)) continue;
            auto it = graph.initializers.find(n.inputs[i]);
            if (it == graph.initializers.end()) continue;
            c.params += it->second.size();
            if (counted.insert(n.inputs[i]).second) cost.total_params += it->second.size();
        }
        cost.total_macs += c.macs;
        cost.nodes.push_back(std::move(c));
    }
    return cost;
}

}  // namespace rm
