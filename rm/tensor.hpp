#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rm {

// Dimensions, outermost first (NCHW for feature maps, [out, in/group, kh, kw] for conv weights).
// A negative dimension in a graph input means "symbolic" (the batch size chosen at run time).
using Shape = std::vector<int64_t>;

int64_t element_count(const Shape& shape);
std::string to_string(const Shape& shape);  // "[1, 64, 56, 56]"

// A dense fp32 tensor in C order.
struct Tensor {
    Shape shape;
    std::vector<float> data;

    Tensor() = default;
    explicit Tensor(Shape s, float fill = 0.0f);
    Tensor(Shape s, std::vector<float> values);  // throws rm::Error when sizes differ

    int64_t size() const { return static_cast<int64_t>(data.size()); }
    float* ptr() { return data.data(); }
    const float* ptr() const { return data.data(); }
};

}  // namespace rm
