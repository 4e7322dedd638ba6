#include "rm/graph.hpp"

#include <array>
#include <utility>

namespace rm {

namespace {
constexpr std::array<std::pair<Op, std::string_view>, 14> kOpNames{{
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
    return initializers.find(std::string(tensor)) != initializers.end();
}

}  // namespace rm
