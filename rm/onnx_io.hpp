#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "rm/graph.hpp"

namespace rm {

// The ONNX opsets rmvk reads and writes. Each operator's versions within them, and what
// changed between those, are written beside its parser in onnx_node.cpp.
constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 21;

// The ONNX op_types rmvk reads (Constant included), for messages and tests.
const std::vector<std::string>& onnx_operator_names();

// Loads an ONNX model file (opsets kMinOpset to kMaxOpset): weights from raw_data, float_data or
// external data files beside the model; initializers that are also graph inputs are treated as
// constants; Constant nodes feeding Reshape become initializers. Throws rm::Error that names the
// file, the node and the operator ("model.onnx: node 'Conv_12' (Conv): group=3 does not divide 64
// input channels"), also for an opset or operator version it does not know. The graph keeps
// the model's opset. Runs infer_shapes before returning, and keeps conv weights that have
// Dirac or zero blocks (a plain model's widened convs) as structured weights
// (structure_conv_weights).
Graph load_onnx(const std::string& path);

// The same from bytes in memory (fuzzing, tests). `label` stands for the file name in errors;
// external data is resolved relative to `base_dir` (empty: not allowed).
Graph load_onnx_bytes(const void* data, size_t size, const std::string& label,
                      const std::string& base_dir = "");

struct SaveOptions {
    // Tensors larger than this go to a side file "<model file name>.data" when the whole model
    // would pass protobuf's 2 GB limit (or always, with force_external_data).
    int64_t external_threshold_bytes = 1024;
    bool force_external_data = false;
    // kMinOpset..kMaxOpset; 0: the graph's own opset, or 13 for a graph built by rmvk. Each
    // operator is written in that opset's form; what the opset cannot express is an error.
    int64_t opset = 0;
};

// Writes any graph as a valid ONNX model (onnx::checker passes on it up to opset 17, the newest
// it knows; check_onnx_file covers the rest).
void save_onnx(const Graph& graph, const std::string& path, const SaveOptions& options = {});

}  // namespace rm
