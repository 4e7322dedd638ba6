#pragma once
#include <string>

#include "rm/tensor.hpp"

namespace rm {

// NumPy .npy files, float32 little-endian C order (versions 1.0-3.0). Also reads float64 and
// converts. Throws rm::Error naming the file for anything else.
Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& tensor);

}  // namespace rm
