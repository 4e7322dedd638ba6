// IDX files (http://yann.lecun.com/exdb/mnist/ format) read straight from their .gz with zlib.
#include "rm/fashion_mnist.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <memory>
#include <vector>

#include "rm/error.hpp"

namespace rm {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned byte, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned byte, 1 dimension
constexpr uint32_t kMaxCount = 1'000'000;
constexpr uint32_t kMaxSide = 1024;

struct GzCloser {
    void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

class IdxReader {
  public:
    explicit IdxReader(std::string path)
        : path_(std::move(path)), file_(gzopen(path_.c_str(), "rb")) {
        if (!file_) throw Error(path_ + ": cannot open");
    }

    void read(void* dst, size_t bytes) {
        auto* out = static_cast<unsigned char*>(dst);
        while (bytes > 0) {
            const unsigned chunk = static_cast<unsigned>(std::min<size_t>(bytes, 1u << 30));
            int got = gzread(file_.get(), out, chunk);
            if (got <= 0) {
                int err = 0;
                const char* msg = gzerror(file_.get(), &err);
                throw Error(path_ + (err != Z_OK && err != Z_BUF_ERROR
                                         ? ": corrupt gzip data (" + std::string(msg) + ")"
                                         : ": file is truncated"));
            }
            out += got;
            bytes -= static_cast<size_t>(got);
        }
    }

    // `bytes` bytes, allocated as they arrive: a header that claims a million 1024x1024 images
    // must fail on the missing data, not allocate a terabyte for it first.
    std::vector<uint8_t> read_bytes(size_t bytes) {
        constexpr size_t kChunk = size_t{1} << 24;
        std::vector<uint8_t> out;
        while (out.size() < bytes) {
            const size_t done = out.size();
            out.resize(done + std::min(kChunk, bytes - done));
            read(out.data() + done, out.size() - done);
        }
        return out;
    }

    uint32_t read_u32() {
        std::array<unsigned char, 4> b{};
        read(b.data(), b.size());
        return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    }

    void expect_magic(uint32_t magic) {
        uint32_t got = read_u32();
        if (got != magic)
            throw Error(path_ + ": not an IDX file of the expected kind (magic " +
                        std::to_string(got) + ", expected " + std::to_string(magic) + ")");
    }

    const std::string& path() const { return path_; }

  private:
    std::string path_;
    GzFile file_;
};

}  // namespace

bool fashion_mnist_available(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    return fs::is_regular_file(dir + "/t10k-images-idx3-ubyte.gz", ec) &&
           fs::is_regular_file(dir + "/t10k-labels-idx1-ubyte.gz", ec);
}

namespace {

// Images [skip, skip + take) of an IDX pair (take 0: to the end).
LabelledImages read_idx_pair(const std::string& images_path, const std::string& labels_path,
                             int64_t skip, int64_t take, bool from_end) {
    IdxReader images(images_path);
    IdxReader labels(labels_path);
    images.expect_magic(kImagesMagic);
    labels.expect_magic(kLabelsMagic);
    const uint32_t count = images.read_u32(), rows = images.read_u32(), cols = images.read_u32();
    const uint32_t label_count = labels.read_u32();
    if (count == 0 || count > kMaxCount || rows == 0 || rows > kMaxSide || cols == 0 ||
        cols > kMaxSide)
        throw Error(images.path() + ": implausible sizes " + std::to_string(count) + " x " +
                    std::to_string(rows) + " x " + std::to_string(cols));
    if (label_count != count)
        throw Error(labels.path() + ": has " + std::to_string(label_count) + " labels for " +
                    std::to_string(count) + " images");
    if (from_end) {  // the last `skip` images
        if (skip > count)
            throw Error(images.path() + ": has " + std::to_string(count) + " images, fewer than " +
                        std::to_string(skip));
        skip = count - skip;
    }
    const int64_t available = count - skip;
    LabelledImages set;
    set.count = take > 0 ? std::min<int64_t>(take, available) : available;
    set.rows = rows;
    set.cols = cols;
    // Skipped images are read in bounded pieces too: a header may claim more than the file holds.
    std::vector<uint8_t> discard(static_cast<size_t>(rows * cols));
    for (int64_t i = 0; i < skip; ++i) images.read(discard.data(), discard.size());
    for (int64_t i = 0; i < skip; ++i) labels.read(discard.data(), 1);
    set.labels = labels.read_bytes(static_cast<size_t>(set.count));
    set.pixels = images.read_bytes(static_cast<size_t>(set.count * rows * cols));
    for (int64_t i = 0; i < set.count; ++i)
        if (set.labels[static_cast<size_t>(i)] >= 10)
            throw Error(labels.path() + ": label " +
                        std::to_string(set.labels[static_cast<size_t>(i)]) + " of image " +
                        std::to_string(i + skip) + " is not a Fashion-MNIST class");
    return set;
}

}  // namespace

LabelledImages read_fashion_mnist_test(const std::string& dir, int64_t limit) {
    if (!fashion_mnist_available(dir))
        throw Error("Fashion-MNIST test set not found in " + dir +
                    " (install the Debian package dataset-fashion-mnist)");
    return read_idx_pair(dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz", 0,
                         limit, false);
}

bool fashion_mnist_train_available(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    return fs::is_regular_file(dir + "/train-images-idx3-ubyte.gz", ec) &&
           fs::is_regular_file(dir + "/train-labels-idx1-ubyte.gz", ec);
}

LabelledImages read_fashion_mnist_validation(const std::string& dir, int64_t limit) {
    if (!fashion_mnist_train_available(dir))
        throw Error("Fashion-MNIST training set (its last " +
                    std::to_string(kFashionMnistValidation) +
                    " images are the validation split) "
                    "not found in " +
                    dir + " (install the Debian package dataset-fashion-mnist)");
    return read_idx_pair(dir + "/train-images-idx3-ubyte.gz", dir + "/train-labels-idx1-ubyte.gz",
                         kFashionMnistValidation, limit, true);
}

Tensor image_batch(const LabelledImages& set, int64_t begin, int64_t end,
                   const Preprocessing& pre) {
    const int64_t per_image = pre.channels * pre.height * pre.width;
    Tensor x({end - begin, pre.channels, pre.height, pre.width});
    const size_t image_bytes = static_cast<size_t>(set.rows * set.cols);
    for (int64_t i = begin; i < end; ++i) {
        Image img;
        img.width = static_cast<int>(set.cols);
        img.height = static_cast<int>(set.rows);
        img.channels = 1;
        auto first = set.pixels.begin() + static_cast<std::ptrdiff_t>(i * image_bytes);
        img.pixels.assign(first, first + static_cast<std::ptrdiff_t>(image_bytes));
        Tensor one = preprocess(img, pre);
        std::copy(one.data.begin(), one.data.end(), x.data.begin() + (i - begin) * per_image);
    }
    return x;
}

}  // namespace rm
