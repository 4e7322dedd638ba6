#pragma once
// max and ReLU that keep NaN, as PyTorch and ONNX Runtime do. `x > 0 ? x : 0` and
// std::max(best, x) both drop a NaN silently (every comparison with NaN is false), which would
// turn a broken input or weight into finite, plausible outputs.
#include <cmath>

namespace rm {

inline float relu_keep_nan(float x) {
    return x > 0.0f || std::isnan(x) ? x : 0.0f;
}

// NaN when either is NaN; otherwise the larger.
inline float max_keep_nan(float a, float b) {
    return a > b || std::isnan(a) ? a : b;
}

}  // namespace rm
