// Fuzz target: the Fashion-MNIST IDX reader (rm::read_fashion_mnist_test, used by rmvk eval).
// The input holds both files: a 2-byte little-endian length L, L bytes of the labels file, then
// the images file. Both are written under their real names (gzip or not: zlib reads either).
// Any pair must load or throw rm::Error; a loaded set must be consistent.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "rm/error.hpp"
#include "rm/fashion_mnist.hpp"
#include "tests/fuzz/fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const size_t labels_size = std::min<size_t>(data[0] | (data[1] << 8), size - 2);
    const auto& dir = rmvk_fuzz::scratch();
    dir.write("t10k-labels-idx1-ubyte.gz", data + 2, labels_size);
    dir.write("t10k-images-idx3-ubyte.gz", data + 2 + labels_size, size - 2 - labels_size);
    try {
        const rm::LabelledImages set = rm::read_fashion_mnist_test(dir.dir());
        if (set.pixels.size() != static_cast<size_t>(set.count * set.rows * set.cols) ||
            set.labels.size() != static_cast<size_t>(set.count))
            std::abort();
        for (uint8_t label : set.labels)
            if (label >= 10) std::abort();
    } catch (const rm::Error&) {
    }
    return 0;
}
