#include "rm/non_finite.hpp"

#include <set>

namespace rm {

namespace {

// What input `index` of `node` is, in ONNX's words.
std::string role(const Node& node, size_t index) {
    switch (node.op) {
        case Op::BatchNormalization: {
            static const char* kNames[] = {"input", "scale", "bias", "mean", "variance"};
            return index < 5 ? kNames[index] : "input";
        }
        case Op::Conv:
        case Op::Gemm:
            return index == 1 ? "weight" : index == 2 ? "bias" : "input";
        default:
            return "input " + std::to_string(index);
    }
}

std::string count_text(const NonFinite& n, int64_t size) {
    std::string s = describe(n);  // "3 NaN/Inf values, the first (NaN) at index 17"
    const size_t comma = s.find(',');
    return s.substr(0, comma) + " of " + std::to_string(size) + s.substr(comma);
}

}  // namespace

std::vector<std::string> non_finite_initializer_warnings(const Graph& graph) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& node : graph.nodes)
        for (size_t i = 0; i < node.inputs.size(); ++i) {
            const std::string& name = node.inputs[i];
            auto it = graph.initializers.find(name);
            if (it == graph.initializers.end() || !seen.insert(name).second) continue;
            const NonFinite n = find_non_finite(it->second);
            if (n.count == 0) continue;
            out.push_back("initializer '" + name + "' (" + role(node, i) + " of " +
                          std::string(op_name(node.op)) + " '" + node.name + "') holds " +
                          count_text(n, it->second.size()));
        }
    return out;
}

std::string non_finite_input_warning(const Tensor& input, const std::string& what) {
    const NonFinite n = find_non_finite(input);
    if (n.count == 0) return "";
    return "input '" + what + "' holds " + count_text(n, input.size());
}

}  // namespace rm
