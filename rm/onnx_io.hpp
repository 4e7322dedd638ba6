#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "rm/graph.hpp"

namespace rm {

// Loads an ONNX model file (opsets 9-17): weights from raw_data, float_data or external data
// files beside the model; initializers that are also graph inputs are treated as constants;
// Constant nodes feeding Reshape become initializers. Throws rm::Error that names the file,
// the node and the operator ("model.onnx: node 'Conv_12' (Conv): group=3 does not divide 64
// input channels"). Runs infer_shapes before returning, and keeps conv weights that have Dirac
// or zero blocks (a plain model's widened convs) as structured weights (structure_conv_weights).
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
    int64_t opset = 13;
};

// Writes any graph as a valid ONNX model (onnx::checker passes on it).
void save_onnx(const Graph& graph, const std::string& path, const SaveOptions& options = {});

}  // namespace rm
