#pragma once
// Shared by the tests that hold two tensors to the same bits, CPU and GPU tests alike.
#include <cstring>

#include "rm/tensor.hpp"

namespace rmvk::test {

// The same shape and the same bits in every element (-0 is not 0 here).
inline bool same_bits(const rm::Tensor& a, const rm::Tensor& b) {
    return a.shape == b.shape &&
           std::memcmp(a.ptr(), b.ptr(), sizeof(float) * static_cast<size_t>(a.size())) == 0;
}

}  // namespace rmvk::test
