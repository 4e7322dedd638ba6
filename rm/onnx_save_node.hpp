#pragma once
// Private to the ONNX writer (onnx_save.cpp): nodes and graph inputs/outputs as protobuf
// messages, in the form the target opset gives each operator.
#include <cstdint>
#include <string>
#include <unordered_set>

#include "onnx/onnx_pb.h"
#include "rm/graph.hpp"
#include "rm/shape_inference.hpp"

namespace rm::onnx_detail {

// Writes one node in the form `opset` gives its operator (see the version notes beside each
// parser in onnx_node.cpp), adding to `g` the initializers that form needs (Reshape's shape,
// ReduceMean's axes, ...) under names not yet in `taken`. `shapes` may be empty when shape
// inference failed.
void write_node(const Graph& graph, const Node& n, int64_t opset, const ShapeMap& shapes,
                onnx::GraphProto& g, std::unordered_set<std::string>& taken);

// A graph input or output: fp32 with `shape` (none when null), the batch dimension symbolic
// ("N") where `symbolic_batch` or the dimension is negative.
void set_value_info(onnx::ValueInfoProto& vi, const std::string& name, const Shape* shape,
                    bool symbolic_batch);

}  // namespace rm::onnx_detail
