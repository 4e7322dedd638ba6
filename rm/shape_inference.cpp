#include "rm/shape_inference.hpp"

#include <algorithm>
#include <limits>

#include "rm/error.hpp"

namespace rm {

namespace {

// One tensor may hold at most 2^31 elements (GPU buffers index with 32-bit integers), and all
// activations together at most 64 GiB: anything beyond is a corrupt or hostile model.
constexpr int64_t kMaxTensorElements = int64_t(1) << 31;
constexpr int64_t kMaxTotalActivationBytes = int64_t(64) << 30;

[[noreturn]] void fail(const Node& n, const std::string& message) {
    throw Error("node '" + n.name + "' (" + std::string(op_name(n.op)) + "): " + message);
}

// Element count that saturates instead of overflowing, so absurd dims are reported, not wrapped.
int64_t safe_count(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0) return -1;
        if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
            return std::numeric_limits<int64_t>::max();
        n *= d;
    }
    return n;
}

std::string ints(const std::vector<int64_t>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s;
}

const Shape& input_shape(const Node& n, const ShapeMap& shapes, size_t i, const char* what) {
    if (i >= n.inputs.size() || n.inputs[i].empty()) fail(n, std::string("missing input ") + what);
    auto it = shapes.find(n.inputs[i]);
    if (it == shapes.end())
        fail(n, std::string("input ") + what + " '" + n.inputs[i] +
                    "' is neither a graph input, an initializer nor an earlier node's output");
    return it->second;
}

const Shape* optional_input(const Node& n, const ShapeMap& shapes, size_t i, const char* what) {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return nullptr;
    return &input_shape(n, shapes, i, what);
}

void require_rank(const Node& n, const Shape& s, size_t rank, const char* what) {
    if (s.size() != rank)
        fail(n, std::string(what) + " must have rank " + std::to_string(rank) + ", got " +
                    to_string(s));
}

void check_spatial_attrs(const Node& n, Attrs& a, bool has_dilation) {
    if (a.strides.empty()) a.strides = {1, 1};
    if (a.dilations.empty()) a.dilations = {1, 1};
    if (a.pads.empty()) a.pads = {0, 0, 0, 0};
    if (a.kernel.size() != 2)
        fail(n, "kernel_shape must have 2 values, got [" + ints(a.kernel) + "]");
    if (a.strides.size() != 2) fail(n, "strides must have 2 values, got [" + ints(a.strides) + "]");
    if (a.dilations.size() != 2)
        fail(n, "dilations must have 2 values, got [" + ints(a.dilations) + "]");
    if (a.pads.size() != 4) fail(n, "pads must have 4 values, got [" + ints(a.pads) + "]");
    for (int64_t k : a.kernel)
        if (k <= 0 || k > 4096) fail(n, "kernel_shape [" + ints(a.kernel) + "] is not valid");
    for (int64_t s : a.strides)
        if (s <= 0 || s > 4096) fail(n, "strides [" + ints(a.strides) + "] are not valid");
    for (int64_t d : a.dilations)
        if (d <= 0 || d > 4096 || (!has_dilation && d != 1))
            fail(n, "dilations [" + ints(a.dilations) + "] are not valid");
    for (int64_t p : a.pads)
        if (p < 0 || p > 4096) fail(n, "pads [" + ints(a.pads) + "] are not valid");
}

// Replaces auto_pad by explicit pads (ONNX: output = ceil(in / stride); SAME_UPPER puts the odd
// pixel at the end, SAME_LOWER at the beginning).
void resolve_auto_pad(const Node& n, Attrs& a, const Shape& x) {
    if (a.auto_pad.empty() || a.auto_pad == "NOTSET") return;
    if (a.auto_pad == "VALID") {
        a.pads = {0, 0, 0, 0};
    } else if (a.auto_pad == "SAME_UPPER" || a.auto_pad == "SAME_LOWER") {
        for (int i = 0; i < 2; ++i) {
            int64_t in = x[2 + i];
            int64_t out = (in + a.strides[i] - 1) / a.strides[i];
            int64_t eff = (a.kernel[i] - 1) * a.dilations[i] + 1;
            int64_t total = std::max<int64_t>(0, (out - 1) * a.strides[i] + eff - in);
            int64_t small = total / 2, big = total - small;
            bool upper = a.auto_pad == "SAME_UPPER";
            a.pads[i] = upper ? small : big;
            a.pads[i + 2] = upper ? big : small;
        }
    } else {
        fail(n, "unknown auto_pad '" + a.auto_pad + "'");
    }
    a.auto_pad = "NOTSET";
}

// Output size of a sliding window along one axis (i = 0 for H, 1 for W).
int64_t window_out(const Node& n, const Attrs& a, int64_t in, int i, bool ceil_mode) {
    int64_t eff = (a.kernel[i] - 1) * a.dilations[i] + 1;
    int64_t span = in + a.pads[i] + a.pads[i + 2] - eff;
    if (span < 0)
        fail(n, "kernel " + std::to_string(eff) + " is larger than the padded input " +
                    std::to_string(in + a.pads[i] + a.pads[i + 2]));
    int64_t out = span / a.strides[i] + 1;
    if (ceil_mode && span % a.strides[i] != 0) {
        ++out;
        // The last window must start inside the input or the left padding.
        if ((out - 1) * a.strides[i] >= in + a.pads[i]) --out;
    }
    return out;
}

Shape infer_conv(const Node& n, Attrs& a, const ShapeMap& shapes) {
    const Shape& x = input_shape(n, shapes, 0, "X");
    const Shape& w = input_shape(n, shapes, 1, "W (weight)");
    require_rank(n, x, 4, "input X");
    require_rank(n, w, 4, "weight W");
    if (a.group <= 0) fail(n, "group=" + std::to_string(a.group) + " is not positive");
    if (x[1] % a.group != 0)
        fail(n, "group=" + std::to_string(a.group) + " does not divide " + std::to_string(x[1]) +
                    " input channels");
    if (w[0] % a.group != 0)
        fail(n, "group=" + std::to_string(a.group) + " does not divide " + std::to_string(w[0]) +
                    " output channels");
    if (w[1] * a.group != x[1])
        fail(n, "weight " + to_string(w) + " expects " + std::to_string(w[1] * a.group) +
                    " input channels, input " + to_string(x) + " has " + std::to_string(x[1]));
    if (a.kernel.empty()) a.kernel = {w[2], w[3]};
    if (a.kernel.size() == 2 && (a.kernel[0] != w[2] || a.kernel[1] != w[3]))
        fail(n, "kernel_shape [" + ints(a.kernel) + "] does not match weight " + to_string(w));
    check_spatial_attrs(n, a, true);
    if (const Shape* b = optional_input(n, shapes, 2, "B (bias)"))
        if (b->size() != 1 || (*b)[0] != w[0])
            fail(n, "bias " + to_string(*b) + " does not match " + std::to_string(w[0]) +
                        " output channels");
    resolve_auto_pad(n, a, x);
    return {x[0], w[0], window_out(n, a, x[2], 0, false), window_out(n, a, x[3], 1, false)};
}

Shape infer_pool(const Node& n, Attrs& a, const ShapeMap& shapes) {
    const Shape& x = input_shape(n, shapes, 0, "X");
    require_rank(n, x, 4, "input X");
    check_spatial_attrs(n, a, true);
    resolve_auto_pad(n, a, x);
    return {x[0], x[1], window_out(n, a, x[2], 0, a.ceil_mode),
            window_out(n, a, x[3], 1, a.ceil_mode)};
}

Shape infer_batchnorm(const Node& n, const ShapeMap& shapes) {
    const Shape& x = input_shape(n, shapes, 0, "X");
    if (x.size() < 2) fail(n, "input X must have rank >= 2, got " + to_string(x));
    const char* names[] = {"scale", "B", "mean", "var"};
    for (size_t i = 1; i <= 4; ++i) {
        const Shape& p = input_shape(n, shapes, i, names[i - 1]);
        if (p.size() != 1 || p[0] != x[1])
            fail(n, std::string(names[i - 1]) + " " + to_string(p) + " does not match " +
                        std::to_string(x[1]) + " channels of " + to_string(x));
    }
    return x;
}

Shape broadcast(const Node& n, const Shape& a, const Shape& b) {
    Shape out(std::max(a.size(), b.size()));
    for (size_t i = 0; i < out.size(); ++i) {
        int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
        int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
        if (da != db && da != 1 && db != 1)
            fail(n, "shapes " + to_string(a) + " and " + to_string(b) + " cannot be broadcast");
        out[i] = da == 1 ? db : da;
    }
    return out;
}

int64_t normalize_axis(const Node& n, int64_t axis, int64_t rank, bool inclusive) {
    int64_t lo = -rank, hi = inclusive ? rank : rank - 1;
    if (axis < lo || axis > hi)
        fail(n,
             "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    return axis < 0 ? axis + rank : axis;
}

Shape infer_flatten(const Node& n, const ShapeMap& shapes) {
    const Shape& x = input_shape(n, shapes, 0, "X");
    int64_t axis = normalize_axis(n, n.attrs.axis, static_cast<int64_t>(x.size()), true);
    Shape outer(x.begin(), x.begin() + axis), inner(x.begin() + axis, x.end());
    return {safe_count(outer), safe_count(inner)};
}

Shape infer_reshape(const Node& n, Attrs& a, const Graph& g, const ShapeMap& shapes) {
    const Shape& x = input_shape(n, shapes, 0, "data");
    if (a.shape.empty() && n.inputs.size() > 1 && !n.inputs[1].empty()) {
        // A constant shape given as an initializer (ONNX opset >= 5) becomes the attribute.
        auto it = g.initializers.find(n.inputs[1]);
        if (it == g.initializers.end())
            fail(n, "target shape '" + n.inputs[1] + "' must be a constant");
        for (float v : it->second.data) a.shape.push_back(static_cast<int64_t>(v));
    }
    Shape out = a.shape;
    int64_t infer_at = -1, known = 1;
    for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] == 0) {
            if (i >= x.size())
                fail(n, "target [" + ints(a.shape) + "] copies a dimension " + to_string(x) +
                            " lacks");
            out[i] = x[i];
        } else if (out[i] == -1) {
            if (infer_at >= 0) fail(n, "target [" + ints(a.shape) + "] has more than one -1");
            infer_at = static_cast<int64_t>(i);
            continue;
        } else if (out[i] < -1) {
            fail(n, "target [" + ints(a.shape) + "] has a negative dimension");
        }
        known = safe_count({known, out[i]});
    }
    int64_t total = safe_count(x);
    if (infer_at >= 0) {
        if (known == 0 || total % known != 0)
            fail(n, "cannot reshape " + to_string(x) + " to [" + ints(a.shape) + "]");
        out[infer_at] = total / known;
    }
    if (safe_count(out) != total)
        fail(n, "cannot reshape " + to_string(x) + " to [" + ints(a.shape) + "]");
    return out;
}

Shape infer_gemm(const Node& n, const ShapeMap& shapes) {
    const Shape& a = input_shape(n, shapes, 0, "A");
    const Shape& b = input_shape(n, shapes, 1, "B");
    require_rank(n, a, 2, "A");
    require_rank(n, b, 2, "B");
    int64_t m = n.attrs.trans_a ? a[1] : a[0], ka = n.attrs.trans_a ? a[0] : a[1];
    int64_t kb = n.attrs.trans_b ? b[1] : b[0], nn = n.attrs.trans_b ? b[0] : b[1];
    if (ka != kb)
        fail(n, "inner dimensions differ: A " + to_string(a) +
                    (n.attrs.trans_a ? " (transposed)" : "") + ", B " + to_string(b) +
                    (n.attrs.trans_b ? " (transposed)" : ""));
    Shape out{m, nn};
    if (const Shape* c = optional_input(n, shapes, 2, "C")) {
        if (c->size() > 2 || broadcast(n, out, *c) != out)
            fail(n, "C " + to_string(*c) + " cannot be broadcast to " + to_string(out));
    }
    return out;
}

Shape infer_matmul(const Node& n, const ShapeMap& shapes) {
    Shape a = input_shape(n, shapes, 0, "A");
    Shape b = input_shape(n, shapes, 1, "B");
    if (a.empty() || b.empty()) fail(n, "inputs must have rank >= 1");
    bool a_vec = a.size() == 1, b_vec = b.size() == 1;
    if (a_vec) a.insert(a.begin(), 1);
    if (b_vec) b.push_back(1);
    if (a.back() != b[b.size() - 2])
        fail(n, "inner dimensions differ: " + to_string(input_shape(n, shapes, 0, "A")) + " x " +
                    to_string(input_shape(n, shapes, 1, "B")));
    Shape out = broadcast(n, Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
    if (!a_vec) out.push_back(a[a.size() - 2]);
    if (!b_vec) out.push_back(b.back());
    return out;
}

// ReduceMean over the spatial axes of an NCHW tensor: what rmvk runs as a global average pool.
Shape infer_reduce_mean(const Node& n, const ShapeMap& shapes) {
    Shape x = input_shape(n, shapes, 0, "data");
    if (x.size() != 4) fail(n, "only a 4-D (NCHW) input is supported, got " + to_string(x));
    std::vector<int64_t> axes;
    for (int64_t a : n.attrs.axes) axes.push_back(normalize_axis(n, a, 4, false));
    std::sort(axes.begin(), axes.end());
    if (axes != std::vector<int64_t>{2, 3})
        fail(n, "only a mean over the spatial axes (2, 3) is supported");
    if (n.attrs.keepdims) return {x[0], x[1], 1, 1};
    return {x[0], x[1]};
}

Shape infer_node(Node& n, const Graph& g, const ShapeMap& shapes) {
    switch (n.op) {
        case Op::Conv:
            return infer_conv(n, n.attrs, shapes);
        case Op::MaxPool:
        case Op::AveragePool:
            return infer_pool(n, n.attrs, shapes);
        case Op::BatchNormalization:
            return infer_batchnorm(n, shapes);
        case Op::Relu:
        case Op::Identity:
        case Op::Clip:
            return input_shape(n, shapes, 0, "X");
        case Op::PRelu: {
            const Shape& x = input_shape(n, shapes, 0, "X");
            if (broadcast(n, x, input_shape(n, shapes, 1, "slope")) != x)
                fail(n, "slope does not broadcast to the input's shape " + to_string(x));
            return x;
        }
        case Op::ReduceMean:
            return infer_reduce_mean(n, shapes);
        case Op::Softmax: {
            const Shape& x = input_shape(n, shapes, 0, "X");
            normalize_axis(n, n.attrs.axis, static_cast<int64_t>(x.size()), false);
            return x;
        }
        case Op::Add:
        case Op::Mul:
        case Op::Max:
        case Op::Min:
            return broadcast(n, input_shape(n, shapes, 0, "A"), input_shape(n, shapes, 1, "B"));
        case Op::GlobalAveragePool: {
            Shape x = input_shape(n, shapes, 0, "X");
            if (x.size() < 3) fail(n, "input X must have rank >= 3, got " + to_string(x));
            for (size_t i = 2; i < x.size(); ++i) x[i] = 1;
            return x;
        }
        case Op::Flatten:
            return infer_flatten(n, shapes);
        case Op::Reshape:
            return infer_reshape(n, n.attrs, g, shapes);
        case Op::Gemm:
            return infer_gemm(n, shapes);
        case Op::MatMul:
            return infer_matmul(n, shapes);
    }
    fail(n, "unsupported operator");
}

// Works on `nodes` (the graph's own or a copy) so a const graph's weights are never copied.
ShapeMap infer_impl(const Graph& graph, std::vector<Node>& nodes,
                    const std::vector<ValueInfo>& inputs, int64_t batch) {
    ShapeMap shapes;
    for (const auto& [name, t] : graph.initializers) shapes[name] = t.shape;
    for (const auto& [name, s] : graph.structured_weights) shapes[name] = s.shape;
    int64_t total_bytes = 0;
    for (const auto& in : inputs) {
        Shape s = in.shape;
        for (size_t i = 0; i < s.size(); ++i)
            if (s[i] < 0) s[i] = batch > 0 ? batch : 1;
        int64_t count = safe_count(s);
        if (count <= 0 || count > kMaxTensorElements)
            throw Error("graph input '" + in.name + "' has an unusable shape " + to_string(s));
        total_bytes += count * 4;
        shapes[in.name] = s;
    }
    for (auto& node : nodes) {
        if (node.outputs.empty() || node.outputs[0].empty()) fail(node, "has no output");
        Shape out = infer_node(node, graph, shapes);
        for (int64_t d : out)
            if (d <= 0) fail(node, "output shape " + to_string(out) + " is empty or negative");
        int64_t count = safe_count(out);
        if (count > kMaxTensorElements)
            fail(node,
                 "output shape " + to_string(out) + " is absurdly large (more than 2^31 elements)");
        total_bytes += count * 4;
        if (total_bytes > kMaxTotalActivationBytes)
            fail(node, "the activations of the graph exceed 64 GiB at this point");
        shapes[node.outputs[0]] = out;
    }
    for (const auto& out : graph.outputs)
        if (shapes.find(out) == shapes.end())
            throw Error("graph output '" + out + "' is not produced by any node");
    return shapes;
}

}  // namespace

ShapeMap infer_shapes(Graph& graph, int64_t batch) {
    return infer_impl(graph, graph.nodes, graph.inputs, batch);
}

ShapeMap infer_shapes_of(const Graph& graph, int64_t batch, std::vector<Node>* resolved_nodes) {
    std::vector<Node> nodes = graph.nodes;
    ShapeMap shapes = infer_impl(graph, nodes, graph.inputs, batch);
    if (resolved_nodes) *resolved_nodes = std::move(nodes);
    return shapes;
}

ShapeMap infer_shapes_for_inputs(const Graph& graph,
                                 const std::map<std::string, Shape>& input_shapes,
                                 std::vector<Node>* resolved_nodes) {
    std::vector<ValueInfo> inputs = graph.inputs;
    for (auto& in : inputs) {
        auto it = input_shapes.find(in.name);
        if (it == input_shapes.end())
            throw Error("missing input '" + in.name + "' of shape " + to_string(in.shape));
        in.shape = it->second;
    }
    std::vector<Node> nodes = graph.nodes;
    ShapeMap shapes = infer_impl(graph, nodes, inputs, 0);
    if (resolved_nodes) *resolved_nodes = std::move(nodes);
    return shapes;
}

}  // namespace rm
