// Loading ONNX models into rm::Graph. Saving lives in onnx_save.cpp.
#include "rm/onnx_io.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "onnx/onnx_pb.h"
#include "rm/error.hpp"
#include "rm/onnx_tensor.hpp"
#include "rm/shape_inference.hpp"

namespace rm {

namespace {

using onnx_detail::Constant;

// Spatial attribute values beyond this are corrupt, not models.
constexpr int64_t kMaxSpatial = 1 << 16;

struct Loader {
    std::string label;
    std::string base_dir;
    int64_t opset = 0;
    Graph graph;
    std::unordered_map<std::string, std::vector<int64_t>> integer_constants;
    std::unordered_set<std::string> known;  // every tensor defined so far

    [[noreturn]] void fail(const std::string& what) const { throw Error(label + ": " + what); }
};

struct NodeContext {
    const Loader& loader;
    const onnx::NodeProto& proto;
    std::string name;
    std::unordered_map<std::string, const onnx::AttributeProto*> attrs;

    [[noreturn]] void fail(const std::string& what) const {
        throw Error(loader.label + ": node '" + name + "' (" + proto.op_type() + "): " + what);
    }

    const onnx::AttributeProto* take(const std::string& attr,
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
    std::optional<int64_t> get_int(const std::string& attr) {
        auto* a = take(attr, onnx::AttributeProto::INT);
        return a ? std::optional<int64_t>(a->i()) : std::nullopt;
    }
    std::optional<float> get_float(const std::string& attr) {
        auto* a = take(attr, onnx::AttributeProto::FLOAT);
        return a ? std::optional<float>(a->f()) : std::nullopt;
    }
    std::optional<std::string> get_string(const std::string& attr) {
        auto* a = take(attr, onnx::AttributeProto::STRING);
        return a ? std::optional<std::string>(a->s()) : std::nullopt;
    }
    // A list of `count` spatial values, each within [lo, kMaxSpatial].
    std::optional<std::vector<int64_t>> get_ints(const std::string& attr, size_t count,
                                                 int64_t lo) {
        auto* a = take(attr, onnx::AttributeProto::INTS);
        if (!a) return std::nullopt;
        std::vector<int64_t> v(a->ints().begin(), a->ints().end());
        if (v.size() != count)
            fail("attribute '" + attr + "' has " + std::to_string(v.size()) +
                 " values; only 2-D operators (" + std::to_string(count) +
                 " values) are supported");
        for (int64_t x : v)
            if (x < lo || x > kMaxSpatial)
                fail("attribute '" + attr + "' value " + std::to_string(x) + " is out of range");
        return v;
    }
    bool get_bool(const std::string& attr, bool fallback) {
        auto v = get_int(attr);
        if (!v) return fallback;
        if (*v != 0 && *v != 1) fail("attribute '" + attr + "' must be 0 or 1");
        return *v == 1;
    }
    void ignore(const std::string& attr) { attrs.erase(attr); }
    // Attributes left over are ones rmvk does not understand: refusing beats silently
    // computing something else.
    void finish() const {
        if (!attrs.empty()) fail("attribute '" + attrs.begin()->first + "' is not supported");
    }
    void expect_inputs(size_t lo, size_t hi) const {
        const auto n = static_cast<size_t>(proto.input_size());
        if (n < lo || n > hi)
            fail(
                "has " + std::to_string(n) + " inputs, expected " +
                (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)));
    }
};

void read_pool_attrs(NodeContext& c, Attrs& a, bool max_pool, bool average_pool) {
    auto kernel = c.get_ints("kernel_shape", 2, 1);
    if (!kernel) c.fail("attribute 'kernel_shape' is required");
    a.kernel = *kernel;
    if (auto v = c.get_ints("strides", 2, 1)) a.strides = *v;
    if (auto v = c.get_ints("pads", 4, 0)) a.pads = *v;
    if (auto v = c.get_string("auto_pad")) a.auto_pad = *v;
    a.ceil_mode = c.get_bool("ceil_mode", false);
    if (max_pool) {
        if (auto v = c.get_ints("dilations", 2, 1)) a.dilations = *v;
        if (a.dilations != std::vector<int64_t>{1, 1}) c.fail("dilated pooling is not supported");
        if (c.get_int("storage_order").value_or(0) != 0) c.fail("storage_order=1 is not supported");
        if (c.proto.output_size() > 1 && !c.proto.output(1).empty())
            c.fail("the Indices output is not supported");
    }
    if (average_pool) a.count_include_pad = c.get_bool("count_include_pad", false);
}

void check_auto_pad(NodeContext& c, const std::string& v) {
    if (v != "NOTSET" && v != "SAME_UPPER" && v != "SAME_LOWER" && v != "VALID")
        c.fail("auto_pad '" + v + "' is not a valid value");
}

// The data input of a node must be a runtime tensor or a float constant; integer constants
// only feed Reshape's shape.
void check_float_inputs(const NodeContext& c, const Loader& l, size_t first, size_t last) {
    for (size_t i = first; i < last && i < static_cast<size_t>(c.proto.input_size()); ++i) {
        const std::string& in = c.proto.input(static_cast<int>(i));
        if (l.integer_constants.count(in))
            c.fail("input '" + in + "' is an integer tensor, expected float");
    }
}

void require_constant(const NodeContext& c, const Loader& l, size_t index, const char* what) {
    if (index >= static_cast<size_t>(c.proto.input_size())) return;
    const std::string& in = c.proto.input(static_cast<int>(index));
    if (in.empty()) return;
    if (!l.graph.is_initializer(in))
        c.fail(std::string(what) + " '" + in + "' must be a constant initializer");
}

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

// A Constant node: its value becomes an initializer.
void load_constant_node(Loader& l, NodeContext& c) {
    if (c.proto.output_size() != 1 || c.proto.output(0).empty()) c.fail("must have one output");
    const std::string where = l.label + ": node '" + c.name + "' (Constant)";
    Constant value;
    if (auto* t = c.take("value", onnx::AttributeProto::TENSOR)) {
        value = onnx_detail::decode_tensor(t->t(), where, l.base_dir);
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

// Converts one NodeProto (not a Constant) into a Node; returns false when it was folded away.
bool load_node(Loader& l, NodeContext& c, Node& node) {
    const auto op = op_from_name(c.proto.op_type());
    if (!op || !(c.proto.domain().empty() || c.proto.domain() == "ai.onnx"))
        c.fail(
            "operator '" + (c.proto.domain().empty() ? "" : c.proto.domain() + ".") +
            c.proto.op_type() +
            "' is not supported (rmvk supports Conv, BatchNormalization, Relu, Add, Mul, MaxPool, "
            "AveragePool, "
            "GlobalAveragePool, Flatten, Reshape, Gemm, MatMul, Identity, Softmax, Constant)");
    node.op = *op;
    Attrs& a = node.attrs;
    size_t float_inputs = static_cast<size_t>(c.proto.input_size());
    switch (*op) {
        case Op::Conv: {
            c.expect_inputs(2, 3);
            if (auto v = c.get_ints("kernel_shape", 2, 1)) a.kernel = *v;
            if (auto v = c.get_ints("strides", 2, 1)) a.strides = *v;
            if (auto v = c.get_ints("pads", 4, 0)) a.pads = *v;
            if (auto v = c.get_ints("dilations", 2, 1)) a.dilations = *v;
            if (auto v = c.get_string("auto_pad")) a.auto_pad = *v;
            a.group = c.get_int("group").value_or(1);
            if (a.group < 1 || a.group > onnx_detail::kMaxElements)
                c.fail("group=" + std::to_string(a.group) + " is invalid");
            require_constant(c, l, 1, "weight");
            require_constant(c, l, 2, "bias");
            break;
        }
        case Op::BatchNormalization: {
            c.expect_inputs(5, 5);
            a.epsilon = c.get_float("epsilon").value_or(1e-5f);
            if (!(a.epsilon >= 0.0f)) c.fail("epsilon must be non-negative");
            c.ignore("momentum");
            c.ignore("is_test");
            if (c.get_int("spatial").value_or(1) != 1) c.fail("spatial=0 is not supported");
            if (c.get_int("training_mode").value_or(0) != 0)
                c.fail("training_mode=1 is not supported (export in eval mode)");
            for (int i = 1; i < c.proto.output_size(); ++i)
                if (!c.proto.output(i).empty())
                    c.fail("training outputs (running mean/var) are not supported");
            for (size_t i = 1; i < 5; ++i) require_constant(c, l, i, "parameter");
            break;
        }
        case Op::Relu:
        case Op::GlobalAveragePool:
        case Op::Identity:
            c.expect_inputs(1, 1);
            break;
        case Op::Add:
        case Op::Mul:
        case Op::MatMul:
            c.expect_inputs(2, 2);
            break;
        case Op::MaxPool:
            c.expect_inputs(1, 1);
            read_pool_attrs(c, a, true, false);
            if (a.ceil_mode && l.opset < 10) c.fail("ceil_mode needs opset 10 or later");
            break;
        case Op::AveragePool:
            c.expect_inputs(1, 1);
            read_pool_attrs(c, a, false, true);
            if (a.ceil_mode && l.opset < 10) c.fail("ceil_mode needs opset 10 or later");
            break;
        case Op::Flatten:
            c.expect_inputs(1, 1);
            a.axis = c.get_int("axis").value_or(1);
            break;
        case Op::Reshape: {
            c.expect_inputs(2, 2);
            const bool allow_zero = c.get_bool("allowzero", false);
            auto it = l.integer_constants.find(c.proto.input(1));
            if (it == l.integer_constants.end())
                c.fail("shape input '" + c.proto.input(1) + "' must be a constant int64 tensor");
            a.shape = it->second;
            int minus_ones = 0;
            for (int64_t d : a.shape) {
                if (d < -1 || d > onnx_detail::kMaxElements)
                    c.fail("target shape value " + std::to_string(d) + " is invalid");
                if (d == 0 && allow_zero)
                    c.fail("allowzero=1 with a zero in the shape is not supported");
                minus_ones += d == -1;
            }
            if (minus_ones > 1) c.fail("target shape has more than one -1");
            float_inputs = 1;
            break;
        }
        case Op::Gemm:
            c.expect_inputs(2, 3);
            a.alpha = c.get_float("alpha").value_or(1.0f);
            a.beta = c.get_float("beta").value_or(1.0f);
            a.trans_a = c.get_bool("transA", false);
            a.trans_b = c.get_bool("transB", false);
            break;
        case Op::Softmax:
            c.expect_inputs(1, 1);
            a.axis = c.get_int("axis").value_or(l.opset < 13 ? 1 : -1);
            break;
    }
    c.finish();
    if (a.auto_pad != "NOTSET") check_auto_pad(c, a.auto_pad);
    check_float_inputs(c, l, 0, float_inputs);

    for (size_t i = 0; i < float_inputs; ++i) {
        const std::string& in = c.proto.input(static_cast<int>(i));
        if (!in.empty() && !l.known.count(in))
            c.fail("input '" + in +
                   "' is not a graph input, an initializer or an earlier node's output");
        node.inputs.push_back(in);
    }
    if (c.proto.output_size() < 1 || c.proto.output(0).empty()) c.fail("has no output");
    node.outputs.push_back(
        c.proto.output(0));  // extra outputs (BN training stats) were refused above

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

Shape value_info_shape(const Loader& l, const onnx::ValueInfoProto& vi) {
    if (!vi.type().has_tensor_type()) l.fail("graph input '" + vi.name() + "' is not a tensor");
    const auto& tt = vi.type().tensor_type();
    if (tt.elem_type() != onnx::TensorProto::FLOAT)
        l.fail("graph input '" + vi.name() + "' has element type " +
               std::to_string(tt.elem_type()) + "; only float32 is supported");
    Shape shape;
    int64_t n = 1;
    for (const auto& d : tt.shape().dim()) {
        if (d.has_dim_value()) {
            const int64_t v = d.dim_value();
            if (v < 0)
                l.fail("graph input '" + vi.name() + "' has negative dimension " +
                       std::to_string(v));
            if (v > onnx_detail::kMaxElements || (v > 0 && n > onnx_detail::kMaxElements / v))
                l.fail("graph input '" + vi.name() + "' has absurdly large dimensions");
            n *= v;
            shape.push_back(v);
        } else {
            shape.push_back(-1);  // symbolic (dim_param) or unknown
        }
    }
    return shape;
}

void load_graph(Loader& l, const onnx::GraphProto& g) {
    l.graph.name = g.name();
    std::unordered_set<std::string> initializer_names;
    for (const auto& t : g.initializer()) {
        if (t.name().empty()) l.fail("an initializer has no name");
        if (!initializer_names.insert(t.name()).second)
            l.fail("initializer '" + t.name() + "' appears twice");
        add_constant(l, t.name(),
                     onnx_detail::decode_tensor(t, l.label + ": initializer '" + t.name() + "'",
                                                l.base_dir));
    }
    if (g.sparse_initializer_size() > 0) l.fail("sparse initializers are not supported");
    for (const auto& in : g.input()) {
        if (initializer_names.count(in.name()))
            continue;  // a constant, listed as input by older exporters
        if (in.name().empty()) l.fail("a graph input has no name");
        if (!l.known.insert(in.name()).second)
            l.fail("graph input '" + in.name() + "' is declared twice");
        l.graph.inputs.push_back({in.name(), value_info_shape(l, in)});
    }
    if (l.graph.inputs.empty()) l.fail("the graph has no runtime input");

    std::set<std::string> names;
    for (int i = 0; i < g.node_size(); ++i) {
        const auto& p = g.node(i);
        NodeContext c{l, p, p.name(), {}};
        // Unnamed or duplicate node names get a unique one so every node can be addressed.
        if (c.name.empty() || names.count(c.name)) c.name = p.op_type() + "_" + std::to_string(i);
        while (names.count(c.name)) c.name += "_";
        names.insert(c.name);
        for (const auto& a : p.attribute()) c.attrs[a.name()] = &a;
        for (const auto& out : p.output())
            if (!out.empty() && l.known.count(out))
                c.fail("output '" + out + "' is already defined");
        if (p.op_type() == "Constant" && (p.domain().empty() || p.domain() == "ai.onnx")) {
            load_constant_node(l, c);
            continue;
        }
        Node node;
        node.name = c.name;
        if (!load_node(l, c, node)) continue;
        l.known.insert(node.outputs[0]);
        l.graph.nodes.push_back(std::move(node));
    }
    for (const auto& out : g.output()) {
        if (!l.known.count(out.name()))
            l.fail("graph output '" + out.name() + "' is never produced");
        l.graph.outputs.push_back(out.name());
    }
    if (l.graph.outputs.empty()) l.fail("the graph has no output");
    if (l.graph.nodes.empty()) l.fail("the graph has no operators");
}

int64_t read_opset(const Loader& l, const onnx::ModelProto& model) {
    int64_t opset = -1;
    for (const auto& o : model.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
    if (opset < 0) l.fail("the model imports no ONNX opset");
    if (opset < 9 || opset > 17)
        l.fail("opset " + std::to_string(opset) + " is not supported (rmvk reads opsets 9 to 17)");
    return opset;
}

// After shapes are known: opset < 13 Softmax means "flatten from axis, softmax, unflatten",
// which equals a per-axis softmax only when the axis is the last one.
void check_old_softmax(const Loader& l, const ShapeMap& shapes) {
    if (l.opset >= 13) return;
    for (const auto& n : l.graph.nodes) {
        if (n.op != Op::Softmax) continue;
        auto it = shapes.find(n.inputs[0]);
        if (it == shapes.end()) continue;
        const auto rank = static_cast<int64_t>(it->second.size());
        const int64_t axis = n.attrs.axis < 0 ? n.attrs.axis + rank : n.attrs.axis;
        if (axis != rank - 1)
            throw Error(l.label + ": node '" + n.name + "' (Softmax): opset " +
                        std::to_string(l.opset) + " Softmax over several axes (axis " +
                        std::to_string(n.attrs.axis) + " of a rank-" + std::to_string(rank) +
                        " tensor) is not supported");
    }
}

}  // namespace

Graph load_onnx_bytes(const void* data, size_t size, const std::string& label,
                      const std::string& base_dir) {
    if (size == 0) throw Error(label + ": the file is empty, not an ONNX model");
    if (size > static_cast<size_t>(INT_MAX))
        throw Error(label + ": larger than 2 GB; save the weights as ONNX external data");
    onnx::ModelProto model;
    if (!model.ParseFromArray(data, static_cast<int>(size)))
        throw Error(label + ": not a valid ONNX model (corrupt or truncated protobuf)");
    if (!model.has_graph()) throw Error(label + ": not an ONNX model (no graph)");

    Loader l;
    l.label = label;
    l.base_dir = base_dir;
    l.opset = read_opset(l, model);
    load_graph(l, model.graph());
    for (const auto& kv : model.metadata_props()) l.graph.metadata[kv.key()] = kv.value();
    onnx::ModelProto().Swap(&model);  // release the protobuf copy of the weights early
    ShapeMap shapes;
    try {
        shapes = infer_shapes(l.graph);
    } catch (const Error& e) {
        const std::string msg = e.what();
        if (msg.rfind(label + ":", 0) == 0) throw;
        throw Error(label + ": " + msg);
    }
    check_old_softmax(l, shapes);
    // A plain model (written by rmvk or another tool) keeps its Dirac and zero blocks as
    // structure, not values.
    structure_conv_weights(l.graph);
    return std::move(l.graph);
}

Graph load_onnx(const std::string& path) {
    namespace fs = std::filesystem;
    const std::string label = fs::path(path).filename().string();
    std::error_code ec;
    if (!fs::exists(path, ec)) throw Error(path + ": no such file");
    if (fs::is_directory(path, ec)) throw Error(path + ": is a directory, not an ONNX model");
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw Error(path + ": cannot open");
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        throw Error(path + ": cannot read");
    }
    const auto size = static_cast<size_t>(st.st_size);
    if (size > static_cast<size_t>(INT_MAX)) {
        ::close(fd);
        throw Error(label + ": larger than 2 GB; save the weights as ONNX external data");
    }
    std::string dir = fs::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
    if (size == 0) {
        ::close(fd);
        return load_onnx_bytes(nullptr, 0, label, dir);
    }
    // Mapping the file (rather than reading it into a buffer) saves one copy of the weights.
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) throw Error(path + ": cannot read");
    struct Unmap {
        void* p;
        size_t n;
        ~Unmap() { ::munmap(p, n); }
    } unmap{map, size};
    ::madvise(map, size, MADV_SEQUENTIAL);
    return load_onnx_bytes(map, size, label, dir);
}

}  // namespace rm
