#include "rm/tensor.hpp"

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

Tensor::Tensor(Shape s, std::vector<float> values) : shape(std::move(s)), data(std::move(values)) {
    if (element_count(shape) != static_cast<int64_t>(data.size()))
        throw Error("tensor of shape " + to_string(shape) + " given " +
                    std::to_string(data.size()) + " values");
}

}  // namespace rm
