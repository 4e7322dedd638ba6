#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rm {

// Dimensions, outermost first (NCHW for feature maps, [out, in/group, kh, kw] for conv weights).
// A negative dimension in a graph input means "symbolic" (the batch size chosen at run time).
using Shape = std::vector<int64_t>;

int64_t element_count(const Shape& shape);
std::string to_string(const Shape& shape);  // "[1, 64, 56, 56]"

// Big tensors (plain ResNet-152 holds 3.3 GB of weights) are backed by transparent huge pages:
// with 4 KiB pages, first-touch page faults were most of `rmvk convert`'s time.
void* allocate_tensor_bytes(std::size_t bytes);
void free_tensor_bytes(void* p, std::size_t bytes) noexcept;

template <class T>
struct TensorAllocator {
    using value_type = T;
    TensorAllocator() = default;
    template <class U>
    TensorAllocator(const TensorAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(allocate_tensor_bytes(n * sizeof(T))); }
    void deallocate(T* p, std::size_t n) noexcept { free_tensor_bytes(p, n * sizeof(T)); }
    template <class U>
    bool operator==(const TensorAllocator<U>&) const noexcept {
        return true;
    }
};

using FloatBuffer = std::vector<float, TensorAllocator<float>>;

inline bool operator==(const FloatBuffer& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// A dense fp32 tensor in C order.
struct Tensor {
    Shape shape;
    FloatBuffer data;

    Tensor() = default;
    explicit Tensor(Shape s, float fill = 0.0f);
    Tensor(Shape s, FloatBuffer values);                // throws rm::Error when sizes differ
    Tensor(Shape s, const std::vector<float>& values);  // copies; for small literal tensors

    int64_t size() const { return static_cast<int64_t>(data.size()); }
    float* ptr() { return data.data(); }
    const float* ptr() const { return data.data(); }
};

}  // namespace rm
