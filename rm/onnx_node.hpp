#pragma once
// Private to the ONNX loader: what the graph loader (onnx_io.cpp) and the per-operator parsers
// (onnx_node.cpp) share.
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "onnx/onnx_pb.h"
#include "rm/error.hpp"
#include "rm/graph.hpp"
#include "rm/onnx_tensor.hpp"

namespace rm::onnx_detail {

struct Loader {
    std::string label;
    std::string base_dir;
    int64_t opset = 0;
    Graph graph;
    std::unordered_map<std::string, std::vector<int64_t>> integer_constants;
    std::unordered_set<std::string> known;  // every tensor defined so far
    // Outputs rmvk does not compute (MaxPool's Indices): tensor name -> why, for the error
    // when something reads one.
    std::unordered_map<std::string, std::string> not_computed;

    [[noreturn]] void fail(const std::string& what) const { throw Error(label + ": " + what); }
};

struct NodeContext {
    const Loader& loader;
    const onnx::NodeProto& proto;
    std::string name;
    std::unordered_map<std::string, const onnx::AttributeProto*> attrs;
    int version = 0;  // the operator's ONNX version in force at the model's opset
    // How many leading inputs are float tensors (Reshape's shape is not); set by the parser.
    size_t tensor_inputs = 0;
    std::vector<std::string> not_computed;  // outputs the parser accepted but rmvk skips

    [[noreturn]] void fail(const std::string& what) const;
    const onnx::AttributeProto* take(const std::string& attr,
                                     onnx::AttributeProto::AttributeType type);
    std::optional<int64_t> get_int(const std::string& attr);
    std::optional<float> get_float(const std::string& attr);
    std::optional<std::string> get_string(const std::string& attr);
    // A list of `count` spatial values, each within [lo, kMaxSpatial].
    std::optional<std::vector<int64_t>> get_ints(const std::string& attr, size_t count, int64_t lo);
    bool get_bool(const std::string& attr, bool fallback);
    void ignore(const std::string& attr) { attrs.erase(attr); }
    // Attributes left over are ones rmvk does not understand: refusing beats silently
    // computing something else.
    void finish() const;
    void expect_inputs(size_t lo, size_t hi) const;
};

// Records a constant (initializer or Constant node) under `name`.
void add_constant(Loader& l, const std::string& name, Constant c);

// Converts one NodeProto into a Node (Constant nodes become initializers); returns false when
// the node was folded away. Refuses operators, versions and attributes rmvk does not know.
bool load_node(Loader& l, NodeContext& c, Node& node);

}  // namespace rm::onnx_detail
