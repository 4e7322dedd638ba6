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

// A structured conv multiplies only its blocks: the dense MACs scaled by the blocks' share.
int64_t node_structured_macs(const Graph& graph, const Node& n, int64_t dense_macs) {
    const ConvStructure* s =
        n.op == Op::Conv && n.inputs.size() > 1 ? graph.structure(n.inputs[1]) : nullptr;
    if (!s || dense_macs == 0) return dense_macs;
    const int64_t per_pixel = s->out_channels() * s->shape[1] * s->shape[2] * s->shape[3];
    return per_pixel ? dense_macs / per_pixel * s->block_macs_per_pixel() : 0;
}

}  // namespace

GraphCost compute_cost(const Graph& graph, const ShapeMap& shapes) {
    GraphCost cost;
    std::unordered_set<std::string> counted;
    for (const auto& n : graph.nodes) {
        NodeCost c;
        c.node = n.name;
        c.macs = node_macs(n, shapes);
        c.structured_macs = node_structured_macs(graph, n, c.macs);
        for (size_t i = 0; i < n.inputs.size(); ++i) {
            if (!is_parameter_input(n, i)) continue;
            int64_t dense = 0, stored = 0;
            if (auto it = graph.initializers.find(n.inputs[i]); it != graph.initializers.end())
                dense = stored = it->second.size();
            else if (const ConvStructure* s = graph.structure(n.inputs[i]))
                dense = s->dense_values(), stored = s->stored_values();
            else
                continue;
            c.params += dense;
            c.structured_params += stored;
            if (counted.insert(n.inputs[i]).second) {
                cost.total_params += dense;
                cost.total_structured_params += stored;
            }
        }
        cost.total_macs += c.macs;
        cost.total_structured_macs += c.structured_macs;
        cost.nodes.push_back(std::move(c));
    }
    return cost;
}

std::string grouped_digits(int64_t v) {
    const std::string digits = std::to_string(v);
    const size_t first = v < 0 ? 1 : 0;  // after the sign
    std::string out = digits.substr(0, first);
    for (size_t i = first; i < digits.size(); ++i) {
        if (i > first && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

}  // namespace rm
