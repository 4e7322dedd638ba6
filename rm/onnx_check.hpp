#pragma once
#include <string>

namespace rm {

// Checks an ONNX file rmvk wrote. Up to the newest opset ONNX's own checker knows (17 for
// Debian's ONNX 1.12) that checker runs; above it, rmvk's structural checks do: the protobuf
// parses, one ONNX opset is imported, names are defined once and before use, every node is an
// operator rmvk writes, tensors hold as many values as their dimensions say; then rmvk's
// loader reads it back with that opset's operator versions. Returns one line saying which
// check ran; throws rm::Error naming the file and what is wrong.
std::string check_onnx_file(const std::string& path);

// The newest opset ONNX's checker (as linked) knows.
int onnx_checker_max_opset();

}  // namespace rm
