#pragma once
// Private to the ONNX loader: turning TensorProtos (inline or external data) into rm tensors.
#include <cstdint>
#include <string>
#include <vector>

#include "onnx/onnx_pb.h"
#include "rm/tensor.hpp"

namespace rm::onnx_detail {

// The largest tensor rmvk accepts: 2^31 elements (8 GiB of fp32); anything bigger in a
// model file is corrupt or absurd, and refusing it early avoids huge allocations.
constexpr int64_t kMaxElements = int64_t(1) << 31;

// A decoded constant: fp32 values, or integers (shapes for Reshape).
struct Constant {
    Shape shape;
    bool is_float = true;
    Tensor values;                  // is_float
    std::vector<int64_t> integers;  // !is_float
};

// `where` prefixes error messages ("model.onnx: initializer 'fc.weight'").
// `base_dir` resolves external data; empty means external data is refused.
Constant decode_tensor(const onnx::TensorProto& proto, const std::string& where,
                       const std::string& base_dir);

// Checks dims are non-negative and their product is at most kMaxElements.
Shape checked_dims(const google::protobuf::RepeatedField<int64_t>& dims, const std::string& where);

}  // namespace rm::onnx_detail
