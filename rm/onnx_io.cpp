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
#include "rm/onnx_node.hpp"
#include "rm/shape_inference.hpp"

namespace rm {

namespace {

using onnx_detail::Loader;
using onnx_detail::NodeContext;

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
        onnx_detail::add_constant(l, t.name(),
                                  onnx_detail::decode_tensor(
                                      t, l.label + ": initializer '" + t.name() + "'", l.base_dir));
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
        NodeContext c{l, p, p.name(), {}, 0, 0, {}};
        // Unnamed or duplicate node names get a unique one so every node can be addressed.
        if (c.name.empty() || names.count(c.name)) c.name = p.op_type() + "_" + std::to_string(i);
        while (names.count(c.name)) c.name += "_";
        names.insert(c.name);
        for (const auto& a : p.attribute()) c.attrs[a.name()] = &a;
        for (const auto& out : p.output())
            if (!out.empty() && l.known.count(out))
                c.fail("output '" + out + "' is already defined");
        Node node;
        node.name = c.name;
        if (!load_node(l, c, node)) continue;
        l.known.insert(node.outputs[0]);
        l.graph.nodes.push_back(std::move(node));
    }
    for (const auto& out : g.output()) {
        if (auto it = l.not_computed.find(out.name()); it != l.not_computed.end())
            l.fail("graph output '" + out.name() + "' is " + it->second +
                   ", which rmvk does not compute");
        if (!l.known.count(out.name()))
            l.fail("graph output '" + out.name() + "' is never produced");
        l.graph.outputs.push_back(out.name());
    }
    if (l.graph.outputs.empty()) l.fail("the graph has no output");
    if (l.graph.nodes.empty()) l.fail("the graph has no operators");
}

// Opsets above kMaxOpset are refused per node, naming the operator (onnx_node.cpp).
int64_t read_opset(const Loader& l, const onnx::ModelProto& model) {
    int64_t opset = -1;
    for (const auto& o : model.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
    if (opset < 0) l.fail("the model imports no ONNX opset");
    if (opset < kMinOpset)
        l.fail("opset " + std::to_string(opset) + " is not supported (rmvk reads opsets " +
               std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) + ")");
    return opset;
}

std::string unused_name(const std::unordered_set<std::string>& taken, std::string name) {
    while (taken.count(name)) name += "_";
    return name;
}

// Softmax before opset 13 normalizes over all the axes from `axis` on together (the input
// flattened to 2-D). Where that differs from one softmax along `axis` (a later axis is longer
// than 1), the node becomes Reshape to [d0 .. d(axis-1), -1], Softmax along the last axis,
// Reshape back; the axes from `axis` on must then have fixed sizes.
void lower_old_softmax(Loader& l) {
    if (l.opset >= 13) return;
    // Shapes at two batch sizes tell which dimensions are fixed.
    const ShapeMap one = infer_shapes_of(l.graph, 1);
    ShapeMap two;
    try {
        two = infer_shapes_of(l.graph, 2);
    } catch (const Error&) {
    }
    std::unordered_set<std::string> node_names;
    for (const auto& n : l.graph.nodes) node_names.insert(n.name);
    std::vector<Node> nodes;
    for (auto& n : l.graph.nodes) {
        if (n.op != Op::Softmax) {
            nodes.push_back(std::move(n));
            continue;
        }
        const Shape& x = one.at(n.inputs[0]);
        const auto rank = static_cast<int64_t>(x.size());
        const int64_t axis = n.attrs.axis < 0 ? n.attrs.axis + rank : n.attrs.axis;
        auto fixed = [&](int64_t i) {
            return two.count(n.inputs[0]) && two.at(n.inputs[0])[i] == x[i];
        };
        bool together = false, all_fixed = true;
        for (int64_t i = axis; i < rank; ++i) {
            together = together || (i > axis && (x[i] > 1 || !fixed(i)));
            all_fixed = all_fixed && fixed(i);
        }
        if (!together) {
            nodes.push_back(std::move(n));
            continue;
        }
        if (!all_fixed)
            throw Error(l.label + ": node '" + n.name + "' (Softmax): opset " +
                        std::to_string(l.opset) + " Softmax normalizes axes " +
                        std::to_string(axis) + " to " + std::to_string(rank - 1) +
                        " together, and their sizes are not fixed");
        Node flatten, unflatten;
        flatten.name = unused_name(node_names, n.name + "_flatten");
        unflatten.name = unused_name(node_names, n.name + "_unflatten");
        node_names.insert(flatten.name);
        node_names.insert(unflatten.name);
        flatten.op = unflatten.op = Op::Reshape;
        flatten.inputs = n.inputs;
        flatten.outputs = {unused_name(l.known, n.outputs[0] + "_2d")};
        l.known.insert(flatten.outputs[0]);
        flatten.attrs.shape.assign(axis, 0);  // 0 copies the leading dimensions
        flatten.attrs.shape.push_back(-1);
        unflatten.outputs = n.outputs;
        unflatten.attrs.shape.assign(axis, 0);
        unflatten.attrs.shape.insert(unflatten.attrs.shape.end(), x.begin() + axis, x.end());
        n.inputs = flatten.outputs;
        n.outputs = {unused_name(l.known, n.outputs[0] + "_2d_softmax")};
        l.known.insert(n.outputs[0]);
        n.attrs.axis = -1;
        unflatten.inputs = n.outputs;
        nodes.push_back(std::move(flatten));
        nodes.push_back(std::move(n));
        nodes.push_back(std::move(unflatten));
    }
    l.graph.nodes = std::move(nodes);
}

}  // namespace

namespace {

// Clip's bounds (opset 11+ inputs) are attributes in rmvk's graph: the constants that held
// them go, unless something else reads them, so a saved and reloaded model has the same
// initializers.
void drop_clip_bounds(onnx_detail::Loader& l, const onnx::GraphProto& g) {
    std::unordered_set<std::string> bounds, read;
    for (const auto& n : g.node())
        if (n.op_type() == "Clip")
            for (int i = 1; i < n.input_size(); ++i) bounds.insert(n.input(i));
    if (bounds.empty()) return;
    for (const auto& n : l.graph.nodes)
        for (const auto& in : n.inputs) read.insert(in);
    for (const auto& o : l.graph.outputs) read.insert(o);
    for (const auto& b : bounds)
        if (!read.count(b)) l.graph.initializers.erase(b);
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
    l.graph.opset = l.opset;
    load_graph(l, model.graph());
    for (const auto& kv : model.metadata_props()) l.graph.metadata[kv.key()] = kv.value();
    drop_clip_bounds(l, model.graph());
    onnx::ModelProto().Swap(&model);  // release the protobuf copy of the weights early
    try {
        lower_old_softmax(l);
        infer_shapes(l.graph);
    } catch (const Error& e) {
        const std::string msg = e.what();
        if (msg.rfind(label + ":", 0) == 0) throw;
        throw Error(label + ": " + msg);
    }
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
