#include "rm/batchnorm.hpp"

#include <cmath>

#include "rm/error.hpp"
#include "rm/rm_graph_index.hpp"

namespace rm {

BnAffine bn_affine(const Tensor& gamma, const Tensor& beta, const Tensor& mean, const Tensor& var,
                   double epsilon, int64_t channels, const std::string& where) {
    for (const Tensor* t : {&gamma, &beta, &mean, &var})
        if (t->size() != channels)
            throw Error(where + ": parameters have " + std::to_string(t->size()) + " values for " +
                        std::to_string(channels) + " channels");
    BnAffine a;
    a.scale.resize(channels);
    a.shift.resize(channels);
    for (int64_t c = 0; c < channels; ++c) {
        a.scale[c] = double(gamma.data[c]) / std::sqrt(double(var.data[c]) + epsilon);
        a.shift[c] = double(beta.data[c]) - double(mean.data[c]) * a.scale[c];
    }
    return a;
}

BnAffine bn_affine(const Graph& graph, const Node& bn, int64_t channels) {
    const std::string where = "node '" + bn.name + "' (BatchNormalization)";
    static const char* const kNames[] = {"scale", "bias", "mean", "variance"};
    const Tensor* p[4];
    for (size_t i = 0; i < 4; ++i) {
        const std::string name = i + 1 < bn.inputs.size() ? bn.inputs[i + 1] : "";
        auto it = graph.initializers.find(name);
        if (name.empty()) throw Error(where + ": missing " + kNames[i]);
        if (it == graph.initializers.end())
            throw Error(where + ": " + kNames[i] + " '" + name + "' is not a constant");
        p[i] = &it->second;
    }
    return bn_affine(*p[0], *p[1], *p[2], *p[3], bn.attrs.epsilon, channels, where);
}

Tensor scale_output_channels(const Tensor& w, const std::vector<double>& scale) {
    const int64_t channels = static_cast<int64_t>(scale.size());
    const int64_t per_out = channels ? w.size() / channels : 0;
    Tensor out(w.shape);
    for (int64_t c = 0; c < channels; ++c)
        for (int64_t k = 0; k < per_out; ++k)
            out.data[c * per_out + k] =
                static_cast<float>(double(w.data[c * per_out + k]) * scale[c]);
    return out;
}

std::unordered_set<std::string> foldable_batchnorms(const Graph& graph, const Graph* weights) {
    detail::GraphIndex ix(graph);
    const Graph& w = weights ? *weights : graph;
    auto constant = [&](const std::string& name) { return w.is_initializer(name); };
    std::unordered_set<std::string> names;
    for (const Node& bn : graph.nodes) {
        if (bn.op != Op::BatchNormalization || bn.inputs.size() < 5 || bn.outputs.empty()) continue;
        bool ok = true;
        for (size_t i = 1; i < 5; ++i) ok = ok && constant(bn.inputs[i]);
        for (size_t i = 1; i < bn.outputs.size(); ++i)
            ok = ok && (bn.outputs[i].empty() || ix.consumers(bn.outputs[i]).empty());
        const Node* conv = ix.producer(bn.inputs[0]);
        ok = ok && conv && conv->op == Op::Conv && conv->inputs.size() >= 2 &&
             ix.private_tensor(bn.inputs[0]) && constant(conv->inputs[1]) &&
             (conv->inputs.size() < 3 || conv->inputs[2].empty() || constant(conv->inputs[2]));
        if (ok) names.insert(bn.name);
    }
    return names;
}

}  // namespace rm
