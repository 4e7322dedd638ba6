#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "rm/image.hpp"
#include "rm/tensor.hpp"

namespace rm {

// The Fashion-MNIST test set as the Debian package dataset-fashion-mnist installs it.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct LabelledImages {
    int64_t count = 0, rows = 0, cols = 0;
    std::vector<uint8_t> pixels;  // count * rows * cols, row-major, 0 = black
    std::vector<uint8_t> labels;  // count, each in [0, 10)
};

// Reads <dir>/t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (gzip'd IDX files),
// checking magic numbers, sizes and labels. At most `limit` images when limit > 0.
// Throws rm::Error naming the file; a missing directory says which package to install.
LabelledImages read_fashion_mnist_test(const std::string& dir = kFashionMnistDir,
                                       int64_t limit = 0);

// Both test-set files exist under `dir` (tests skip when the package is absent).
bool fashion_mnist_available(const std::string& dir = kFashionMnistDir);

// The validation split rmvk's sparsity-trained model held out: the last 5,000 of the 60,000
// training images (train-images-idx3-ubyte.gz). Choosing a pruning threshold looks at these
// only; the test set is for reporting.
inline constexpr int64_t kFashionMnistValidation = 5000;
LabelledImages read_fashion_mnist_validation(const std::string& dir = kFashionMnistDir,
                                             int64_t limit = 0);
bool fashion_mnist_train_available(const std::string& dir = kFashionMnistDir);

// Images [begin, end) of `set` as one preprocessed batch, exactly as 'rmvk run' feeds each.
Tensor image_batch(const LabelledImages& set, int64_t begin, int64_t end, const Preprocessing& pre);

}  // namespace rm
