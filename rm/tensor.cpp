#include "rm/tensor.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <new>

#include "rm/error.hpp"

namespace rm {

int64_t element_count(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string to_string(const Shape& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += shape[i] < 0 ? std::string("N") : std::to_string(shape[i]);
    }
    return s + "]";
}

Tensor::Tensor(Shape s, float fill) : shape(std::move(s)) {
    data.assign(static_cast<size_t>(element_count(shape)), fill);
}

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;
// Below this a huge page would waste more than it saves.
constexpr std::size_t kHugeThreshold = std::size_t{4} << 20;

std::size_t huge_rounded(std::size_t bytes) {
    return (bytes + kHugePage - 1) / kHugePage * kHugePage;
}

void check_size(const Shape& shape, std::size_t values) {
    if (element_count(shape) != static_cast<int64_t>(values))
        throw Error("tensor of shape " + to_string(shape) + " given " + std::to_string(values) +
                    " values");
}

}  // namespace

void* allocate_tensor_bytes(std::size_t bytes) {
    if (bytes < kHugeThreshold) return ::operator new(bytes);
    const std::size_t rounded = huge_rounded(bytes);
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (!p) throw std::bad_alloc();
    madvise(p, rounded, MADV_HUGEPAGE);  // a hint: failure only costs speed
    return p;
}

void free_tensor_bytes(void* p, std::size_t bytes) noexcept {
    if (bytes < kHugeThreshold)
        ::operator delete(p);
    else
        std::free(p);
}

Tensor::Tensor(Shape s, FloatBuffer values) : shape(std::move(s)), data(std::move(values)) {
    check_size(shape, data.size());
}

Tensor::Tensor(Shape s, const std::vector<float>& values)
    : shape(std::move(s)), data(values.begin(), values.end()) {
    check_size(shape, data.size());
}

}  // namespace rm
