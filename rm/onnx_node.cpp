// Reading ONNX nodes: one parser per operator, each with the versions of that operator that
// exist in opsets kMinOpset..kMaxOpset (ONNX's since_version) and what changed between them.
#include "rm/onnx_node.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "rm/onnx_io.hpp"

namespace rm::onnx_detail {

namespace {

// Spatial attribute values beyond this are corrupt, not models.
constexpr int64_t kMaxSpatial = 1 << 16;

void read_pool_attrs(NodeContext& c, Attrs& a, bool dilations) {
    auto kernel = c.get_ints("kernel_shape", 2, 1);
    if (!kernel) c.fail("attribute 'kernel_shape' is required");
    a.kernel = *kernel;
    if (auto v = c.get_ints("strides", 2, 1)) a.strides = *v;
    if (auto v = c.get_ints("pads", 4, 0)) a.pads = *v;
    if (auto v = c.get_string("auto_pad")) a.auto_pad = *v;
    a.ceil_mode = c.get_bool("ceil_mode", false);
    if (a.ceil_mode && c.loader.opset < 10) c.fail("ceil_mode needs opset 10 or later");
    if (dilations) {
        if (auto v = c.get_ints("dilations", 2, 1)) a.dilations = *v;
        if (a.dilations != std::vector<int64_t>{1, 1}) c.fail("dilated pooling is not supported");
    }
}

void require_constant(const NodeContext& c, size_t index, const char* what) {
    if (index >= static_cast<size_t>(c.proto.input_size())) return;
    const std::string& in = c.proto.input(static_cast<int>(index));
    if (in.empty()) return;
    if (!c.loader.graph.is_initializer(in))
        c.fail(std::string(what) + " '" + in + "' must be a constant initializer");
}

// Conv-1  (opsets 7-10)  X, W, optional B; kernel_shape, strides, pads, dilations, group,
//                        auto_pad.
// Conv-11 (11-21)        the same; only the text on pads and auto_pad was clarified.
void parse_conv(NodeContext& c, Attrs& a) {
    c.expect_inputs(2, 3);
    if (auto v = c.get_ints("kernel_shape", 2, 1)) a.kernel = *v;
    if (auto v = c.get_ints("strides", 2, 1)) a.strides = *v;
    if (auto v = c.get_ints("pads", 4, 0)) a.pads = *v;
    if (auto v = c.get_ints("dilations", 2, 1)) a.dilations = *v;
    if (auto v = c.get_string("auto_pad")) a.auto_pad = *v;
    a.group = c.get_int("group").value_or(1);
    if (a.group < 1 || a.group > kMaxElements)
        c.fail("group=" + std::to_string(a.group) + " is invalid");
    require_constant(c, 1, "weight");
    require_constant(c, 2, "bias");
}

// BatchNormalization-7  (7-8)   spatial (default 1: per-channel statistics; 0: statistics per
//                               activation, refused). BN-6's is_test is gone: extra outputs
//                               (mean, var, saved_mean, saved_var) mean training.
// BatchNormalization-9  (9-13)  spatial removed: always per channel.
// BatchNormalization-14 (14)    training_mode (default 0); outputs Y, running_mean, running_var.
// BatchNormalization-15 (15-21) scale/bias and mean/var may have different float types.
// Inference needs Y alone; any other output means training and is refused. Leftovers of BN-1/6
// that old converters kept (is_test=1, consumed_inputs) say nothing about inference values.
void parse_batchnorm(NodeContext& c, Attrs& a) {
    c.expect_inputs(5, 5);
    a.epsilon = c.get_float("epsilon").value_or(1e-5f);
    if (!(a.epsilon >= 0.0f)) c.fail("epsilon must be non-negative");
    c.ignore("momentum");  // the running-average rate: training only
    c.ignore("consumed_inputs");
    if (c.get_int("is_test").value_or(1) != 1)
        c.fail("is_test=0 (training mode) is not supported (export in eval mode)");
    if (auto s = c.get_int("spatial"); s && *s != 1)
        c.fail("spatial=" + std::to_string(*s) +
               " (statistics per activation, not per channel) is not supported; only spatial=1");
    if (c.get_int("training_mode").value_or(0) != 0)
        c.fail("training_mode=1 is not supported (export in eval mode)");
    for (int i = 1; i < c.proto.output_size(); ++i)
        if (!c.proto.output(i).empty())
            c.fail("training outputs (running mean/var) are not supported");
    for (size_t i = 1; i < 5; ++i) require_constant(c, i, "parameter");
}

// Relu-6 (7-12), Relu-13 (13) bfloat16, Relu-14 (14-21) integer types: the same for float32.
void parse_relu(NodeContext& c, Attrs&) {
    c.expect_inputs(1, 1);
    c.ignore("consumed_inputs");  // Relu-1's in-place hint, kept by some old converters
}

// GlobalAveragePool-1 (7-21): the only version.
void parse_unary(NodeContext& c, Attrs&) {
    c.expect_inputs(1, 1);
}

// Add-7 / Mul-7 (7-12): numpy-style broadcasting (the -6 versions' broadcast/axis attributes
// are gone, and are refused: axis changed which dimensions match). -13 (13) bfloat16, -14
// (14-21) more integer types.
// MatMul-1 (7-8), MatMul-9 (9-12) integer types, MatMul-13 (13-21) bfloat16.
void parse_binary(NodeContext& c, Attrs&) {
    c.expect_inputs(2, 2);
}

// MaxPool-1  (7)     Y only; kernel_shape, strides, pads, auto_pad.
// MaxPool-8  (8-9)   an optional second output, Indices (int64), laid out by storage_order.
// MaxPool-10 (10)    ceil_mode and dilations.
// MaxPool-11 (11)    the text on pads and auto_pad clarified.
// MaxPool-12 (12-21) int8/uint8 inputs.
// rmvk computes Y; an Indices output is accepted as long as nothing reads it (exporters at
// opset 8 name one), and storage_order, which only lays out Indices, is then irrelevant.
void parse_maxpool(NodeContext& c, Attrs& a) {
    c.expect_inputs(1, 1);
    read_pool_attrs(c, a, true);
    c.ignore("storage_order");
    if (c.proto.output_size() > 2) c.fail("has more than two outputs");
    if (c.proto.output_size() == 2 && !c.proto.output(1).empty()) {
        if (c.version < 8) c.fail("has two outputs; MaxPool has an Indices output from opset 8");
        c.not_computed.push_back(c.proto.output(1));
    }
}

// AveragePool-7  (7-9)   count_include_pad (default 0).
// AveragePool-10 (10)    ceil_mode.
// AveragePool-11 (11-18) the text on pads and auto_pad clarified.
// AveragePool-19 (19-21) dilations (refused unless all 1).
void parse_averagepool(NodeContext& c, Attrs& a) {
    c.expect_inputs(1, 1);
    read_pool_attrs(c, a, c.version >= 19);
    a.count_include_pad = c.get_bool("count_include_pad", false);
}

// Flatten-1  (7-8)   axis (default 1) in [0, rank].
// Flatten-9  (9-10)  integer types.
// Flatten-11 (11-12) negative axis.
// Flatten-13 (13-20) bfloat16.
// Flatten-21 (21)    float8 and int4 types.
// Identity-1 (7-12), 13 bfloat16, 14 sequences, 16 optionals, 19 float8, 21 int4; sequences
// and optionals never reach here (graph inputs must be float tensors).
void parse_flatten(NodeContext& c, Attrs& a) {
    c.expect_inputs(1, 1);
    a.axis = c.get_int("axis").value_or(1);
}

// Reshape-5  (7-12)  the target shape is an int64 input (an attribute before 5); 0 copies the
//                    input's dimension, -1 is inferred.
// Reshape-13 (13)    bfloat16.
// Reshape-14 (14-18) allowzero (default 0): 1 makes a 0 an empty dimension; refused when the
//                    target has a 0, since then it changes the result.
// Reshape-19 (19-20) float8 types; Reshape-21 (21) int4 types.
void parse_reshape(NodeContext& c, Attrs& a) {
    c.expect_inputs(2, 2);
    const bool allow_zero = c.get_bool("allowzero", false);
    const auto& ints = c.loader.integer_constants;
    auto it = ints.find(c.proto.input(1));
    if (it == ints.end())
        c.fail("shape input '" + c.proto.input(1) + "' must be a constant int64 tensor");
    a.shape = it->second;
    int minus_ones = 0;
    for (int64_t d : a.shape) {
        if (d < -1 || d > kMaxElements)
            c.fail("target shape value " + std::to_string(d) + " is invalid");
        if (d == 0 && allow_zero) c.fail("allowzero=1 with a zero in the shape is not supported");
        minus_ones += d == -1;
    }
    if (minus_ones > 1) c.fail("target shape has more than one -1");
    c.tensor_inputs = 1;
}

// Gemm-7  (7-8)   C required, broadcast one way to (M, N); Gemm-6's broadcast attribute is gone.
// Gemm-9  (9-10)  integer types.
// Gemm-11 (11-12) C optional.
// Gemm-13 (13-21) bfloat16.
// Files converted from Gemm-6 may still say broadcast=1, which is what Gemm-7 always does;
// broadcast=0 demanded a C of shape (M, N), so it is accepted only for a rank-2 C.
void parse_gemm(NodeContext& c, Attrs& a) {
    c.expect_inputs(2, 3);
    a.alpha = c.get_float("alpha").value_or(1.0f);
    a.beta = c.get_float("beta").value_or(1.0f);
    a.trans_a = c.get_bool("transA", false);
    a.trans_b = c.get_bool("transB", false);
    if (!c.get_bool("broadcast", true)) {
        const auto& inits = c.loader.graph.initializers;
        auto it = c.proto.input_size() > 2 ? inits.find(c.proto.input(2)) : inits.end();
        if (it == inits.end() || it->second.shape.size() != 2)
            c.fail("broadcast=0 needs a constant C of shape (M, N)");
    }
}

// Softmax-1  (7-10)  axis (default 1): the input is flattened to 2-D at axis and each row
//                    normalized, i.e. one softmax over all the axes from axis on.
// Softmax-11 (11-12) negative axis; otherwise Softmax-1.
// Softmax-13 (13-21) axis default -1; one softmax along that axis alone.
// rmvk's Softmax is Softmax-13. Where the two differ (an axis after `axis` longer than 1),
// load_onnx rewrites a Softmax-1/11 as Reshape, last-axis Softmax, Reshape back.
void parse_softmax(NodeContext& c, Attrs& a) {
    c.expect_inputs(1, 1);
    a.axis = c.get_int("axis").value_or(c.version < 13 ? 1 : -1);
}

// A float constant of one value (Clip's bounds); nullopt when the input is absent.
std::optional<float> scalar_input(NodeContext& c, int index, const char* what) {
    if (index >= c.proto.input_size() || c.proto.input(index).empty()) return std::nullopt;
    const std::string& in = c.proto.input(index);
    auto it = c.loader.graph.initializers.find(in);
    if (it == c.loader.graph.initializers.end() || it->second.size() != 1)
        c.fail(std::string(what) + " '" + in + "' must be a constant float scalar");
    return it->second.data[0];
}

// Clip-6  (7-10)  min, max attributes (default -/+ the largest float).
// Clip-11 (11)    min, max as optional inputs (absent: unbounded).
// Clip-12 (12)    integer types; Clip-13 (13-21) bfloat16.
// rmvk keeps the bounds as attributes; they must be constants.
void parse_clip(NodeContext& c, Attrs& a) {
    if (c.version < 11) {
        c.expect_inputs(1, 1);
        a.clip_min = c.get_float("min").value_or(-std::numeric_limits<float>::max());
        a.clip_max = c.get_float("max").value_or(std::numeric_limits<float>::max());
    } else {
        c.expect_inputs(1, 3);
        a.clip_min = scalar_input(c, 1, "min").value_or(-std::numeric_limits<float>::infinity());
        a.clip_max = scalar_input(c, 2, "max").value_or(std::numeric_limits<float>::infinity());
    }
    if (std::isnan(a.clip_min) || std::isnan(a.clip_max)) c.fail("a bound is NaN");
    c.tensor_inputs = 1;
}

// PRelu-7 (7-8) unidirectional broadcasting of slope; PRelu-9 (9-15) integer types;
// PRelu-16 (16-21) bfloat16.
void parse_prelu(NodeContext& c, Attrs&) {
    c.expect_inputs(2, 2);
    c.ignore("consumed_inputs");
}

// Max-6 / Min-6 (7) no broadcasting; -8 (8-11) numpy broadcasting; -12 (12) integer types;
// -13 (13-21) bfloat16. Variadic in ONNX: rmvk reads the two-operand form.
void parse_max_min(NodeContext& c, Attrs&) {
    c.expect_inputs(2, 2);
}

// ReduceMean-1 (7-10), -11 (11-12) negative axes, -13 (13-17) bfloat16: axes, keepdims
// attributes. ReduceMean-18 (18-21): axes as an optional int64 input, noop_with_empty_axes.
// rmvk computes the mean over H and W of an NCHW tensor (infer_shapes checks the axes).
void parse_reduce_mean(NodeContext& c, Attrs& a) {
    a.keepdims = c.get_bool("keepdims", true);
    if (c.version < 18) {
        c.expect_inputs(1, 1);
        auto* axes = c.take("axes", onnx::AttributeProto::INTS);
        if (!axes) c.fail("attribute 'axes' is required (a mean over every axis is not supported)");
        a.axes.assign(axes->ints().begin(), axes->ints().end());
    } else {
        c.expect_inputs(1, 2);
        if (c.get_bool("noop_with_empty_axes", false))
            c.fail("noop_with_empty_axes=1 is not supported");
        const auto& ints = c.loader.integer_constants;
        auto it = c.proto.input_size() > 1 ? ints.find(c.proto.input(1)) : ints.end();
        if (it == ints.end()) c.fail("input 'axes' must be a constant int64 tensor");
        a.axes = it->second;
    }
    c.tensor_inputs = 1;
}

// Constant-1  (7-8)   value (a tensor).
// Constant-9  (9-10)  integer and bool tensors.
// Constant-11 (11)    sparse_value (refused).
// Constant-12 (12)    value_float(s), value_int(s), value_string(s) (strings refused).
// Constant-13 (13-18) bfloat16; Constant-19 (19-20) float8; Constant-21 (21) int4: refused by
//                     the tensor decoder, as are other non-float, non-integer types.
void load_constant(Loader& l, NodeContext& c) {
    if (c.proto.output_size() != 1 || c.proto.output(0).empty()) c.fail("must have one output");
    const std::string where = l.label + ": node '" + c.name + "' (Constant)";
    Constant value;
    if (auto* t = c.take("value", onnx::AttributeProto::TENSOR)) {
        value = decode_tensor(t->t(), where, l.base_dir);
    } else if (auto f = c.get_float("value_float")) {
        value.values = Tensor(Shape{}, std::vector<float>{*f});
    } else if (auto* fs = c.take("value_floats", onnx::AttributeProto::FLOATS)) {
        std::vector<float> v(fs->floats().begin(), fs->floats().end());
        value.values = Tensor(Shape{static_cast<int64_t>(v.size())}, std::move(v));
    } else if (auto i = c.get_int("value_int")) {
        value.is_float = false;
        value.integers = {*i};
    } else if (auto* is = c.take("value_ints", onnx::AttributeProto::INTS)) {
        value.is_float = false;
        value.shape = {is->ints_size()};
        value.integers.assign(is->ints().begin(), is->ints().end());
    } else {
        c.fail("only tensor, float and int values are supported");
    }
    c.finish();
    add_constant(l, c.proto.output(0), std::move(value));
}

struct OperatorSpec {
    const char* name;
    // ONNX versions (since_version) in force somewhere in opsets kMinOpset..kMaxOpset,
    // ascending; all of them are read by `parse`.
    std::vector<int> versions;
    void (*parse)(NodeContext&, Attrs&);  // nullptr: Constant, which makes no node
};

const std::vector<OperatorSpec>& operator_specs() {
    static const std::vector<OperatorSpec> specs{
        {"Conv", {1, 11}, parse_conv},
        {"BatchNormalization", {7, 9, 14, 15}, parse_batchnorm},
        {"Relu", {6, 13, 14}, parse_relu},
        {"Add", {7, 13, 14}, parse_binary},
        {"Mul", {7, 13, 14}, parse_binary},
        {"MaxPool", {1, 8, 10, 11, 12}, parse_maxpool},
        {"AveragePool", {7, 10, 11, 19}, parse_averagepool},
        {"GlobalAveragePool", {1}, parse_unary},
        {"Flatten", {1, 9, 11, 13, 21}, parse_flatten},
        {"Reshape", {5, 13, 14, 19, 21}, parse_reshape},
        {"Gemm", {7, 9, 11, 13}, parse_gemm},
        {"MatMul", {1, 9, 13}, parse_binary},
        {"Identity", {1, 13, 14, 16, 19, 21}, parse_unary},
        {"Softmax", {1, 11, 13}, parse_softmax},
        {"Clip", {6, 11, 12, 13}, parse_clip},
        {"PRelu", {7, 9, 16}, parse_prelu},
        {"Max", {6, 8, 12, 13}, parse_max_min},
        {"Min", {6, 8, 12, 13}, parse_max_min},
        {"ReduceMean", {1, 11, 13, 18}, parse_reduce_mean},
        {"Constant", {1, 9, 11, 12, 13, 19, 21}, nullptr},
    };
    return specs;
}

std::string join(const std::vector<int>& v) {
    std::string s;
    for (int x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
    return s;
}

// The operator's version in force at the model's opset, or a refusal naming both.
int version_at(const NodeContext& c, const OperatorSpec& spec) {
    const int64_t opset = c.loader.opset;
    const std::string known = "rmvk knows " + std::string(spec.name) + " in opsets " +
                              std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) +
                              " (versions " + join(spec.versions) + ")";
    if (opset > kMaxOpset) c.fail("opset " + std::to_string(opset) + " is too new: " + known);
    int version = 0;
    for (int v : spec.versions)
        if (v <= opset) version = v;
    if (version == 0) c.fail("does not exist in opset " + std::to_string(opset) + "; " + known);
    return version;
}

}  // namespace

void add_constant(Loader& l, const std::string& name, Constant c) {
    if (c.is_float) {
        l.graph.initializers[name] = std::move(c.values);
        l.integer_constants.erase(name);
    } else {
        l.integer_constants[name] = std::move(c.integers);
        l.graph.initializers.erase(name);
    }
    l.known.insert(name);
}

void NodeContext::fail(const std::string& what) const {
    throw Error(loader.label + ": node '" + name + "' (" + proto.op_type() + "): " + what);
}

const onnx::AttributeProto* NodeContext::take(const std::string& attr,
                                              onnx::AttributeProto::AttributeType type) {
    auto it = attrs.find(attr);
    if (it == attrs.end()) return nullptr;
    const onnx::AttributeProto* a = it->second;
    attrs.erase(it);
    // Some exporters omit the type field; then infer it from which value is present.
    if (a->type() != type && a->type() != onnx::AttributeProto::UNDEFINED)
        fail("attribute '" + attr + "' has the wrong type");
    return a;
}

std::optional<int64_t> NodeContext::get_int(const std::string& attr) {
    auto* a = take(attr, onnx::AttributeProto::INT);
    return a ? std::optional<int64_t>(a->i()) : std::nullopt;
}

std::optional<float> NodeContext::get_float(const std::string& attr) {
    auto* a = take(attr, onnx::AttributeProto::FLOAT);
    return a ? std::optional<float>(a->f()) : std::nullopt;
}

std::optional<std::string> NodeContext::get_string(const std::string& attr) {
    auto* a = take(attr, onnx::AttributeProto::STRING);
    return a ? std::optional<std::string>(a->s()) : std::nullopt;
}

std::optional<std::vector<int64_t>> NodeContext::get_ints(const std::string& attr, size_t count,
                                                          int64_t lo) {
    auto* a = take(attr, onnx::AttributeProto::INTS);
    if (!a) return std::nullopt;
    std::vector<int64_t> v(a->ints().begin(), a->ints().end());
    if (v.size() != count)
        fail("attribute '" + attr + "' has " + std::to_string(v.size()) +
             " values; only 2-D operators (" + std::to_string(count) + " values) are supported");
    for (int64_t x : v)
        if (x < lo || x > kMaxSpatial)
            fail("attribute '" + attr + "' value " + std::to_string(x) + " is out of range");
    return v;
}

bool NodeContext::get_bool(const std::string& attr, bool fallback) {
    auto v = get_int(attr);
    if (!v) return fallback;
    if (*v != 0 && *v != 1) fail("attribute '" + attr + "' must be 0 or 1");
    return *v == 1;
}

void NodeContext::finish() const {
    if (!attrs.empty()) fail("attribute '" + attrs.begin()->first + "' is not supported");
}

void NodeContext::expect_inputs(size_t lo, size_t hi) const {
    const auto n = static_cast<size_t>(proto.input_size());
    if (n < lo || n > hi)
        fail("has " + std::to_string(n) + " inputs, expected " +
             (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)));
}

bool load_node(Loader& l, NodeContext& c, Node& node) {
    const auto& specs = operator_specs();
    auto spec = std::find_if(specs.begin(), specs.end(),
                             [&](const OperatorSpec& s) { return s.name == c.proto.op_type(); });
    if (spec == specs.end() || !(c.proto.domain().empty() || c.proto.domain() == "ai.onnx")) {
        std::string list;
        for (const auto& n : onnx_operator_names()) list += (list.empty() ? "" : ", ") + n;
        c.fail("operator '" + (c.proto.domain().empty() ? "" : c.proto.domain() + ".") +
               c.proto.op_type() + "' is not supported (rmvk supports " + list + ")");
    }
    c.version = version_at(c, *spec);
    if (!spec->parse) {
        load_constant(l, c);
        return false;
    }
    const auto op = op_from_name(c.proto.op_type());
    if (!op) c.fail("has no rmvk operator");  // a table entry without an Op: a bug
    node.op = *op;
    c.tensor_inputs = static_cast<size_t>(c.proto.input_size());
    spec->parse(c, node.attrs);
    c.finish();
    const std::string& auto_pad = node.attrs.auto_pad;
    if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" &&
        auto_pad != "VALID")
        c.fail("auto_pad '" + auto_pad + "' is not a valid value");

    // The data inputs must be runtime tensors or float constants; integer constants only feed
    // Reshape's shape.
    for (size_t i = 0; i < c.tensor_inputs; ++i) {
        const std::string& in = c.proto.input(static_cast<int>(i));
        if (l.integer_constants.count(in))
            c.fail("input '" + in + "' is an integer tensor, expected float");
        if (auto it = l.not_computed.find(in); it != l.not_computed.end())
            c.fail("input '" + in + "' is " + it->second + ", which rmvk does not compute");
        if (!in.empty() && !l.known.count(in))
            c.fail("input '" + in +
                   "' is not a graph input, an initializer or an earlier node's output");
        node.inputs.push_back(in);
    }
    if (c.proto.output_size() < 1 || c.proto.output(0).empty()) c.fail("has no output");
    node.outputs.push_back(c.proto.output(0));  // parsers refused other outputs or noted them
    for (const auto& out : c.not_computed)
        l.not_computed[out] = "the Indices output of " + c.proto.op_type() + " '" + c.name + "'";

    // Identity of a constant (torch emits these for shared weights): alias the constant.
    if (*op == Op::Identity && l.graph.is_initializer(node.inputs[0])) {
        add_constant(l, node.outputs[0],
                     Constant{{}, true, l.graph.initializers.at(node.inputs[0]), {}});
        return false;
    }
    if (*op == Op::Identity && l.integer_constants.count(node.inputs[0])) {
        l.integer_constants[node.outputs[0]] = l.integer_constants.at(node.inputs[0]);
        l.known.insert(node.outputs[0]);
        return false;
    }
    return true;
}

}  // namespace rm::onnx_detail

namespace rm {

const std::vector<std::string>& onnx_operator_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (const auto& s : onnx_detail::operator_specs()) v.push_back(s.name);
        return v;
    }();
    return names;
}

}  // namespace rm
