// Writing rm::Graph as an ONNX model. Weights are written with plain fwrite calls straight
// from the tensors: inline ones as protobuf pieces appended to the serialized model (protobuf
// merges repeated occurrences of a message field), large models with ONNX external data.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <unordered_set>

#include "onnx/onnx_pb.h"
#include "rm/error.hpp"
#include "rm/onnx_io.hpp"
#include "rm/onnx_save_node.hpp"
#include "rm/shape_inference.hpp"

namespace rm {

namespace {

namespace fs = std::filesystem;

// Protobuf refuses messages of 2 GiB or more; keep a margin for the graph structure.
constexpr uint64_t kInlineLimit = (uint64_t(1) << 31) - (uint64_t(64) << 20);
constexpr int64_t kExternalAlignment = 4096;

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

class Writer {
  public:
    explicit Writer(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "wb")) {
        if (!file_) throw Error(path + ": cannot open for writing");
    }
    void write(const void* data, size_t size) {
        if (size && std::fwrite(data, 1, size, file_.get()) != size)
            throw Error(path_ + ": write failed (disk full?)");
        offset_ += static_cast<int64_t>(size);
        if (size) sparse_end_ = false;
    }
    void write(const std::string& s) { write(s.data(), s.size()); }
    // The same, but runs of whole zero pages are skipped with a seek: the file system keeps
    // them as holes, which read back as zeros. A plain model's weights are mostly the zeros
    // of its Dirac and cross blocks (ResNet-152: 3.26 GB, of which 0.24 GB are not zero).
    void write_weights(const void* data, size_t size) {
        const char* p = static_cast<const char*>(data);
        const int64_t base = offset_;  // the file offset of p[0]
        size_t pending = 0;            // p[pending, i) is still to be written
        size_t i = static_cast<size_t>((kPage - base % kPage) % kPage);
        while (i + kPage <= size) {
            if (!zero_page(p + i)) {
                i += kPage;
                continue;
            }
            size_t end = i + kPage;
            while (end + kPage <= size && zero_page(p + end)) end += kPage;
            write(p + pending, i - pending);
            skip(end - i);
            pending = i = end;
        }
        write(p + pending, size - pending);
    }
    void pad_to(int64_t alignment) {
        static const char zeros[kExternalAlignment] = {};
        const int64_t rem = offset_ % alignment;
        if (rem) write(zeros, static_cast<size_t>(alignment - rem));
    }
    int64_t offset() const { return offset_; }
    void close() {
        // A hole at the very end is only a seek: give the file its full length.
        if (sparse_end_ && (std::fflush(file_.get()) != 0 ||
                            ftruncate(fileno(file_.get()), static_cast<off_t>(offset_)) != 0))
            throw Error(path_ + ": write failed (disk full?)");
        if (std::fclose(file_.release()) != 0) throw Error(path_ + ": write failed (disk full?)");
    }

  private:
    static constexpr int64_t kPage = 4096;
    void skip(size_t bytes) {
        if (std::fflush(file_.get()) != 0 ||
            fseeko(file_.get(), static_cast<off_t>(bytes), SEEK_CUR) != 0)
            throw Error(path_ + ": write failed (disk full?)");
        offset_ += static_cast<int64_t>(bytes);
        sparse_end_ = true;
    }
    static bool zero_page(const char* p) {
        uint64_t acc = 0;
        for (int64_t i = 0; i < kPage; i += 8) {
            uint64_t v;
            std::memcpy(&v, p + i, 8);
            acc |= v;
        }
        return acc == 0;
    }

    std::string path_;
    File file_;
    int64_t offset_ = 0;
    bool sparse_end_ = false;  // the last thing done was a seek past the end
};

void put_varint(std::string& s, uint64_t v) {
    while (v >= 0x80) {
        s.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    s.push_back(static_cast<char>(v));
}

size_t varint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

// Float initializers in the order nodes first use them (stable output, readable files).
std::vector<std::string> initializer_order(const Graph& graph) {
    std::vector<std::string> order;
    std::unordered_set<std::string> seen;
    for (const auto& n : graph.nodes)
        for (const auto& in : n.inputs)
            if (graph.is_initializer(in) && seen.insert(in).second) order.push_back(in);
    std::vector<std::string> rest;
    for (const auto& [name, t] : graph.initializers)
        if (!seen.count(name)) rest.push_back(name);
    for (const auto& [name, t] : graph.structured_weights)
        if (!seen.count(name)) rest.push_back(name);
    std::sort(rest.begin(), rest.end());
    order.insert(order.end(), rest.begin(), rest.end());
    return order;
}

// One initializer as a protobuf piece: ModelProto.graph { GraphProto.initializer { header,
// raw_data } }, whose raw bytes the caller writes right after.
std::string inline_tensor_prefix(const std::string& name, const Shape& shape) {
    onnx::TensorProto h;
    h.set_name(name);
    h.set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape) h.add_dims(d);
    const std::string header = h.SerializeAsString();
    const uint64_t bytes = uint64_t(element_count(shape)) * sizeof(float);
    const uint64_t tensor_len = header.size() + 1 + varint_size(bytes) + bytes;
    const uint64_t graph_len = 1 + varint_size(tensor_len) + tensor_len;
    std::string s;
    s.push_back(static_cast<char>((7 << 3) | 2));  // ModelProto.graph
    put_varint(s, graph_len);
    s.push_back(static_cast<char>((5 << 3) | 2));  // GraphProto.initializer
    put_varint(s, tensor_len);
    s += header;
    s.push_back(static_cast<char>((9 << 3) | 2));  // TensorProto.raw_data
    put_varint(s, bytes);
    return s;
}

// The graph without large weight values: shape inference needs only their shapes, and
// copying gigabytes of weights for it would dominate the save time.
Graph shape_only_copy(const Graph& graph) {
    Graph g;
    g.inputs = graph.inputs;
    g.outputs = graph.outputs;
    g.nodes = graph.nodes;
    for (const auto& [name, t] : graph.initializers) {
        if (t.data.size() <= 1024) {
            g.initializers.emplace(name, t);
        } else {
            Tensor shell;
            shell.shape = t.shape;
            g.initializers.emplace(name, std::move(shell));
        }
    }
    for (const auto& [name, s] : graph.structured_weights) {
        Tensor shell;
        shell.shape = s.shape;
        g.initializers.emplace(name, std::move(shell));
    }
    return g;
}

uint64_t bytes_of(const Graph& graph, const std::string& name) {
    return uint64_t(element_count(*graph.initializer_shape(name))) * sizeof(float);
}

// Writes the values of one initializer. A structured weight is materialised a few MB of output
// channels at a time, so no dense plain weight (up to ~240 MB each) is ever whole in memory.
void write_values(Writer& out, const Graph& graph, const std::string& name) {
    const ConvStructure* s = graph.structure(name);
    if (!s) {
        const Tensor& t = graph.initializers.at(name);
        out.write_weights(t.data.data(), t.data.size() * sizeof(float));
        return;
    }
    constexpr int64_t kChunkValues = int64_t(1) << 18;  // 1 MB: built, scanned and written in cache
    const int64_t rows = s->out_channels(), row = element_count(s->shape) / rows;
    const int64_t step = std::max<int64_t>(1, std::min(rows, kChunkValues / row));
    std::vector<float> chunk(static_cast<size_t>(step * row));
    for (int64_t r0 = 0; r0 < rows; r0 += step) {
        const int64_t r1 = std::min(rows, r0 + step);
        materialise_rows(*s, r0, r1, chunk.data());
        out.write_weights(chunk.data(), static_cast<size_t>((r1 - r0) * row) * sizeof(float));
    }
}

}  // namespace

void save_onnx(const Graph& graph, const std::string& path, const SaveOptions& options) {
    const int64_t opset_version = options.opset ? options.opset : graph.opset ? graph.opset : 13;
    if (opset_version < kMinOpset || opset_version > kMaxOpset)
        throw Error(path + ": opset " + std::to_string(opset_version) +
                    " cannot be written (rmvk writes " + std::to_string(kMinOpset) + " to " +
                    std::to_string(kMaxOpset) + ")");
    onnx::ModelProto m;
    // IR 8 can hold every opset rmvk writes (nothing here needs IR 9's float8 or IR 10's int4),
    // and it is the newest Debian's ONNX checker reads.
    m.set_ir_version(8);
    m.set_producer_name("rmvk");
    m.set_producer_version("0.1.0");
    auto* opset = m.add_opset_import();
    opset->set_domain("");
    opset->set_version(opset_version);
    for (const auto& [k, v] : graph.metadata) {
        auto* kv = m.add_metadata_props();
        kv->set_key(k);
        kv->set_value(v);
    }
    onnx::GraphProto& g = *m.mutable_graph();
    g.set_name(graph.name.empty() ? "rmvk" : graph.name);

    std::unordered_set<std::string> taken;
    for (const auto& [name, t] : graph.initializers) taken.insert(name);
    for (const auto& [name, t] : graph.structured_weights) taken.insert(name);
    for (const auto& n : graph.nodes)
        for (const auto& o : n.outputs) taken.insert(o);
    for (const auto& in : graph.inputs) taken.insert(in.name);
    ShapeMap shapes;
    try {
        Graph shell = shape_only_copy(graph);
        shapes = infer_shapes(shell);
    } catch (const Error&) {
        // Still write the model; outputs then carry only their element type.
    }
    try {
        for (const auto& n : graph.nodes)
            onnx_detail::write_node(graph, n, opset_version, shapes, g, taken);
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }

    bool symbolic_batch = false;
    for (const auto& in : graph.inputs) {
        symbolic_batch = symbolic_batch || (!in.shape.empty() && in.shape[0] < 0);
        onnx_detail::set_value_info(*g.add_input(), in.name, &in.shape, false);
    }
    for (const auto& out : graph.outputs) {
        auto it = shapes.find(out);
        onnx_detail::set_value_info(*g.add_output(), out,
                                    it == shapes.end() ? nullptr : &it->second, symbolic_batch);
    }

    const std::vector<std::string> order = initializer_order(graph);
    uint64_t total = 0;
    for (const auto& name : order) total += bytes_of(graph, name);
    const bool external = options.force_external_data || total > kInlineLimit;

    std::vector<std::string> inline_names;
    std::vector<std::string> external_names;
    for (const auto& name : order) {
        const auto bytes = static_cast<int64_t>(bytes_of(graph, name));
        (external && bytes > options.external_threshold_bytes ? external_names : inline_names)
            .push_back(name);
    }

    const std::string data_name = fs::path(path).filename().string() + ".data";
    if (!external_names.empty()) {
        Writer data(path + ".data");
        for (const auto& name : external_names) {
            data.pad_to(kExternalAlignment);
            auto* tp = g.add_initializer();
            tp->set_name(name);
            tp->set_data_type(onnx::TensorProto::FLOAT);
            for (int64_t d : *graph.initializer_shape(name)) tp->add_dims(d);
            tp->set_data_location(onnx::TensorProto::EXTERNAL);
            auto add = [&](const char* key, const std::string& value) {
                auto* kv = tp->add_external_data();
                kv->set_key(key);
                kv->set_value(value);
            };
            add("location", data_name);
            add("offset", std::to_string(data.offset()));
            add("length", std::to_string(bytes_of(graph, name)));
            write_values(data, graph, name);
        }
        data.close();
    }

    uint64_t inline_total = 0;
    for (const auto& name : inline_names) inline_total += bytes_of(graph, name);
    if (inline_total > kInlineLimit)
        throw Error(
            path + ": inline weights exceed protobuf's 2 GB limit; lower external_threshold_bytes");

    Writer out(path);
    out.write(m.SerializeAsString());
    for (const auto& name : inline_names) {
        out.write(inline_tensor_prefix(name, *graph.initializer_shape(name)));
        write_values(out, graph, name);
    }
    out.close();
}

}  // namespace rm