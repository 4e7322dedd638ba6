#include "rm/graph.hpp"

#include <array>
#include <utility>

#include "rm/error.hpp"

namespace rm {

namespace {
constexpr std::array<std::pair<Op, std::string_view>, 19> kOpNames{{
    {Op::Conv, "Conv"},
    {Op::BatchNormalization, "BatchNormalization"},
    {Op::Relu, "Relu"},
    {Op::Add, "Add"},
    {Op::Mul, "Mul"},
    {Op::MaxPool, "MaxPool"},
    {Op::AveragePool, "AveragePool"},
    {Op::GlobalAveragePool, "GlobalAveragePool"},
    {Op::Flatten, "Flatten"},
    {Op::Reshape, "Reshape"},
    {Op::Gemm, "Gemm"},
    {Op::MatMul, "MatMul"},
    {Op::Identity, "Identity"},
    {Op::Softmax, "Softmax"},
    {Op::Clip, "Clip"},
    {Op::PRelu, "PRelu"},
    {Op::Max, "Max"},
    {Op::Min, "Min"},
    {Op::ReduceMean, "ReduceMean"},
}};
}  // namespace

std::string_view op_name(Op op) {
    for (const auto& [o, n] : kOpNames)
        if (o == op) return n;
    return "?";
}

std::optional<Op> op_from_name(std::string_view name) {
    for (const auto& [o, n] : kOpNames)
        if (n == name) return o;
    return std::nullopt;
}

const Node* Graph::find_node(std::string_view node_name) const {
    for (const auto& n : nodes)
        if (n.name == node_name) return &n;
    return nullptr;
}

const Node* Graph::producer(std::string_view tensor) const {
    for (const auto& n : nodes)
        for (const auto& o : n.outputs)
            if (o == tensor) return &n;
    return nullptr;
}

std::vector<const Node*> Graph::consumers(std::string_view tensor) const {
    std::vector<const Node*> out;
    for (const auto& n : nodes)
        for (const auto& i : n.inputs)
            if (i == tensor) {
                out.push_back(&n);
                break;
            }
    return out;
}

bool Graph::is_initializer(std::string_view tensor) const {
    return initializer_shape(tensor) != nullptr;
}

const Shape* Graph::initializer_shape(std::string_view tensor) const {
    const std::string name(tensor);
    if (auto it = initializers.find(name); it != initializers.end()) return &it->second.shape;
    if (auto it = structured_weights.find(name); it != structured_weights.end())
        return &it->second.shape;
    return nullptr;
}

const ConvStructure* Graph::structure(std::string_view tensor) const {
    auto it = structured_weights.find(std::string(tensor));
    return it == structured_weights.end() ? nullptr : &it->second;
}

Tensor Graph::materialise(std::string_view tensor) const {
    const std::string name(tensor);
    if (auto it = initializers.find(name); it != initializers.end()) return it->second;
    if (const ConvStructure* s = structure(tensor)) return rm::materialise(*s);
    throw Error("no initializer named '" + name + "'");
}

}  // namespace rm
