#include "rm/cpu_executor.hpp"

#include <unordered_map>

#include "rm/cpu_ops.hpp"
#include "rm/error.hpp"
#include "rm/nan_math.hpp"
#include "rm/shape_inference.hpp"

namespace rm {

namespace {

[[noreturn]] void fail(const Node& n, const std::string& message) {
    throw Error("node '" + n.name + "' (" + std::string(op_name(n.op)) + "): " + message);
}

// Checks the given tensors against the declared inputs; returns their shapes (which fill in
// the symbolic dimensions).
std::map<std::string, Shape> check_inputs(const Graph& graph,
                                          const std::map<std::string, Tensor>& inputs) {
    std::map<std::string, Shape> shapes;
    for (const auto& in : graph.inputs) {
        auto it = inputs.find(in.name);
        if (it == inputs.end())
            throw Error("missing input '" + in.name + "' of shape " + to_string(in.shape));
        const Shape& given = it->second.shape;
        bool fits = given.size() == in.shape.size();
        for (size_t i = 0; fits && i < given.size(); ++i)
            fits = in.shape[i] < 0 || in.shape[i] == given[i];
        if (!fits)
            throw Error("input '" + in.name + "' has shape " + to_string(given) +
                        ", the model expects " + to_string(in.shape));
        if (element_count(given) != it->second.size())
            throw Error("input '" + in.name + "' holds " + std::to_string(it->second.size()) +
                        " values, its shape " + to_string(given) + " needs " +
                        std::to_string(element_count(given)));
        shapes[in.name] = given;
    }
    return shapes;
}

}  // namespace

std::map<std::string, Tensor> run_cpu(const Graph& graph,
                                      const std::map<std::string, Tensor>& inputs,
                                      const CpuRunOptions& options) {
    // Nodes with auto_pad and kernel sizes resolved, as the shapes were inferred.
    std::vector<Node> nodes;
    ShapeMap shapes = infer_shapes_for_inputs(graph, check_inputs(graph, inputs), &nodes);

    // How many node inputs still need each tensor; at zero it is freed (unless kept).
    std::unordered_map<std::string, int> pending;
    for (const auto& n : nodes)
        for (const auto& i : n.inputs)
            if (!i.empty()) ++pending[i];
    for (const auto& o : graph.outputs) ++pending[o];

    std::unordered_map<std::string, Tensor> live;
    for (const auto& in : graph.inputs) live[in.name] = inputs.at(in.name);

    auto get = [&](const Node& n, size_t index) -> const Tensor* {
        if (index >= n.inputs.size() || n.inputs[index].empty()) return nullptr;
        const std::string& name = n.inputs[index];
        if (auto it = live.find(name); it != live.end()) return &it->second;
        if (auto it = graph.initializers.find(name); it != graph.initializers.end())
            return &it->second;
        fail(n, "input '" + name + "' is not available");
    };
    auto need = [&](const Node& n, size_t index) -> const Tensor& {
        const Tensor* t = get(n, index);
        if (!t) fail(n, "missing input #" + std::to_string(index));
        return *t;
    };

    std::map<std::string, Tensor> result;
    size_t done = 0;
    for (const Node& n : nodes) {
        const Attrs& a = n.attrs;
        Tensor out;
        switch (n.op) {
            case Op::Conv:
                if (const ConvStructure* w =
                        n.inputs.size() > 1 ? graph.structure(n.inputs[1]) : nullptr) {
                    if (options.dense_structured)  // one dense weight at a time, freed after
                        out =
                            cpu::conv2d(need(n, 0), materialise(*w), get(n, 2), a, options.threads);
                    else
                        out = cpu::conv2d_structured(need(n, 0), *w, get(n, 2), a, options.threads);
                } else {
                    out = cpu::conv2d(need(n, 0), need(n, 1), get(n, 2), a, options.threads);
                }
                break;
            case Op::BatchNormalization:
                out = cpu::batchnorm(need(n, 0), need(n, 1), need(n, 2), need(n, 3), need(n, 4),
                                     a.epsilon);
                break;
            case Op::Relu: {
                // In place when this node is the input's last reader: saves an allocation and a
                // pass.
                const std::string& src = n.inputs.at(0);
                auto it = live.find(src);
                if (it != live.end() && pending[src] == 1 && !options.keep_intermediates) {
                    out = std::move(it->second);
                    live.erase(it);
                    for (float& v : out.data) v = relu_keep_nan(v);
                } else {
                    out = cpu::relu(need(n, 0));
                }
                break;
            }
            case Op::Add:
                out = cpu::add(need(n, 0), need(n, 1));
                break;
            case Op::Mul:
                out = cpu::mul(need(n, 0), need(n, 1));
                break;
            case Op::Max:
                out = cpu::max(need(n, 0), need(n, 1));
                break;
            case Op::Min:
                out = cpu::min(need(n, 0), need(n, 1));
                break;
            case Op::PRelu:
                out = cpu::prelu(need(n, 0), need(n, 1));
                break;
            case Op::Clip:
                out = cpu::clip(need(n, 0), a.clip_min, a.clip_max);
                break;
            case Op::ReduceMean:
                out = cpu::reduce_mean_spatial(need(n, 0), a.keepdims);
                break;
            case Op::MaxPool:
                out = cpu::max_pool(need(n, 0), a);
                break;
            case Op::AveragePool:
                out = cpu::average_pool(need(n, 0), a);
                break;
            case Op::GlobalAveragePool:
                out = cpu::global_average_pool(need(n, 0));
                break;
            case Op::Identity:
            case Op::Flatten:
            case Op::Reshape: {
                // Only the shape changes: move the data when this node is its last reader.
                const std::string& src = n.inputs.at(0);
                auto it = live.find(src);
                if (it != live.end() && pending[src] == 1 && !options.keep_intermediates) {
                    out = std::move(it->second);
                    live.erase(it);
                } else {
                    out = need(n, 0);
                }
                out.shape = shapes.at(n.outputs[0]);
                break;
            }
            case Op::Gemm:
                out = cpu::gemm(need(n, 0), need(n, 1), get(n, 2), a);
                break;
            case Op::MatMul:
                out = cpu::matmul(need(n, 0), need(n, 1));
                break;
            case Op::Softmax:
                out = cpu::softmax(need(n, 0), a.axis);
                break;
        }
        if (out.shape != shapes.at(n.outputs[0]))
            fail(n, "computed " + to_string(out.shape) + ", expected " +
                        to_string(shapes.at(n.outputs[0])));
        for (const auto& i : n.inputs) {
            if (i.empty()) continue;
            auto it = pending.find(i);
            if (it != pending.end() && --it->second == 0 && !options.keep_intermediates)
                live.erase(i);
        }
        if (options.keep_intermediates) result[n.outputs[0]] = out;
        live[n.outputs[0]] = std::move(out);
        if (options.on_node) options.on_node(++done, nodes.size());
    }
    for (const auto& o : graph.outputs) {
        auto it = live.find(o);
        if (it != live.end())
            result[o] = it->second;
        else if (graph.is_initializer(o))
            result[o] = graph.materialise(o);
    }
    return result;
}

}  // namespace rm
