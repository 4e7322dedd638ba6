// NumPy .npy reading and writing (format versions 1.0, 2.0, 3.0; little-endian float32/64).
#include "rm/npy.hpp"

#include <cstdio>
#include <cstring>
#include <memory>

#include "rm/error.hpp"

namespace rm {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
// Arrays larger than this are refused before allocating (matches the ONNX loader's cap).
constexpr int64_t kMaxElements = int64_t(1) << 31;

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// Value of `key` in the header dict ({'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }).
std::string dict_value(const std::string& header, const std::string& key, const std::string& path) {
    const std::string quoted = "'" + key + "'";
    size_t pos = header.find(quoted);
    if (pos == std::string::npos) throw Error(path + ": .npy header has no '" + key + "'");
    pos = header.find(':', pos + quoted.size());
    if (pos == std::string::npos) throw Error(path + ": .npy header is malformed");
    ++pos;
    while (pos < header.size() && header[pos] == ' ') ++pos;
    if (pos >= header.size()) throw Error(path + ": .npy header is malformed");
    size_t end;
    if (header[pos] == '(') {
        end = header.find(')', pos);
        if (end == std::string::npos) throw Error(path + ": .npy header is malformed");
        return header.substr(pos, end - pos + 1);
    }
    if (header[pos] == '\'') {
        end = header.find('\'', pos + 1);
        if (end == std::string::npos) throw Error(path + ": .npy header is malformed");
        return header.substr(pos + 1, end - pos - 1);
    }
    end = header.find_first_of(",}", pos);
    if (end == std::string::npos) throw Error(path + ": .npy header is malformed");
    return header.substr(pos, end - pos);
}

Shape parse_shape(const std::string& tuple, const std::string& path) {
    Shape shape;
    int64_t n = 1;
    size_t i = 1;  // skip '('
    while (i < tuple.size()) {
        const char c = tuple[i];
        if (c >= '0' && c <= '9') {
            int64_t d = 0;
            while (i < tuple.size() && tuple[i] >= '0' && tuple[i] <= '9') {
                d = d * 10 + (tuple[i] - '0');
                if (d > kMaxElements)
                    throw Error(path + ": .npy shape " + tuple + " is absurdly large");
                ++i;
            }
            if (d > 0 && n > kMaxElements / d)
                throw Error(path + ": .npy shape " + tuple + " is absurdly large");
            n *= d;
            shape.push_back(d);
        } else if (c == ',' || c == ' ' || c == ')' || c == 'L') {
            ++i;
        } else {
            throw Error(path + ": .npy shape " + tuple + " is malformed");
        }
    }
    return shape;
}

}  // namespace

Tensor read_npy(const std::string& path) {
    File f(std::fopen(path.c_str(), "rb"));
    if (!f) throw Error(path + ": no such file");
    unsigned char pre[10];
    if (std::fread(pre, 1, 8, f.get()) != 8 || std::memcmp(pre, kMagic, 6) != 0)
        throw Error(path + ": not a .npy file");
    const int major = pre[6];
    uint32_t header_len = 0;
    if (major == 1) {
        if (std::fread(pre, 1, 2, f.get()) != 2) throw Error(path + ": truncated .npy header");
        header_len = pre[0] | (pre[1] << 8);
    } else if (major == 2 || major == 3) {
        if (std::fread(pre, 1, 4, f.get()) != 4) throw Error(path + ": truncated .npy header");
        header_len = pre[0] | (pre[1] << 8) | (pre[2] << 16) | (uint32_t(pre[3]) << 24);
        if (header_len > (1u << 20)) throw Error(path + ": .npy header is absurdly large");
    } else {
        throw Error(path + ": .npy format version " + std::to_string(major) + " is not supported");
    }
    std::string header(header_len, '\0');
    if (std::fread(header.data(), 1, header_len, f.get()) != header_len)
        throw Error(path + ": truncated .npy header");

    const std::string descr = dict_value(header, "descr", path);
    if (dict_value(header, "fortran_order", path) != "False")
        throw Error(path +
                    ": Fortran-order arrays are not supported; save with numpy.ascontiguousarray");
    size_t item = 0;
    if (descr == "<f4" || descr == "|f4")
        item = 4;
    else if (descr == "<f8" || descr == "|f8")
        item = 8;
    else
        throw Error(path + ": dtype '" + descr +
                    "' is not supported (float32 or float64 little-endian)");

    Tensor t;
    t.shape = parse_shape(dict_value(header, "shape", path), path);
    const auto n = static_cast<size_t>(element_count(t.shape));
    // Check the data is all there before allocating for it.
    const long data_start = std::ftell(f.get());
    std::fseek(f.get(), 0, SEEK_END);
    const long file_end = std::ftell(f.get());
    std::fseek(f.get(), data_start, SEEK_SET);
    if (data_start < 0 || file_end < 0 || static_cast<uint64_t>(file_end - data_start) < n * item)
        throw Error(path + ": truncated .npy data (shape " + to_string(t.shape) + " needs " +
                    std::to_string(n * item) + " bytes, file has " +
                    std::to_string(file_end - data_start) + ")");
    t.data.resize(n);
    if (n == 0) return t;  // fread must not be given the null data() of an empty vector
    if (item == 4) {
        if (std::fread(t.data.data(), 4, n, f.get()) != n)
            throw Error(path + ": truncated .npy data");
    } else {
        std::vector<double> tmp(n);
        if (std::fread(tmp.data(), 8, n, f.get()) != n) throw Error(path + ": truncated .npy data");
        for (size_t i = 0; i < n; ++i) t.data[i] = static_cast<float>(tmp[i]);
    }
    return t;
}

void write_npy(const std::string& path, const Tensor& tensor) {
    if (static_cast<int64_t>(tensor.data.size()) != element_count(tensor.shape))
        throw Error(path + ": tensor shape " + to_string(tensor.shape) +
                    " does not match its data");
    std::string shape = "(";
    for (int64_t d : tensor.shape) shape += std::to_string(d) + ", ";
    if (tensor.shape.size() > 1)
        shape.resize(shape.size() - 2);
    else if (tensor.shape.size() == 1)
        shape.resize(shape.size() - 1);
    shape += ")";
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    // Pad so that the data starts on a 64-byte boundary, ending the header with '\n'.
    const size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header.push_back('\n');
    File f(std::fopen(path.c_str(), "wb"));
    if (!f) throw Error(path + ": cannot open for writing");
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    pre[8] = static_cast<unsigned char>(header.size() & 0xff);
    pre[9] = static_cast<unsigned char>(header.size() >> 8);
    bool ok = std::fwrite(pre, 1, 10, f.get()) == 10 &&
              std::fwrite(header.data(), 1, header.size(), f.get()) == header.size() &&
              // An empty tensor's data() may be null, which fwrite must not be given.
              (tensor.data.empty() || std::fwrite(tensor.data.data(), 4, tensor.data.size(),
                                                  f.get()) == tensor.data.size());
    if (std::fclose(f.release()) != 0) ok = false;
    if (!ok) throw Error(path + ": write failed (disk full?)");
}

}  // namespace rm
