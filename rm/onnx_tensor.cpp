#include "rm/onnx_tensor.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <type_traits>

#include "rm/error.hpp"

namespace rm::onnx_detail {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw Error(where + ": " + what);
}

size_t element_size(int32_t type) {
    switch (type) {
        case onnx::TensorProto::FLOAT:
            return 4;
        case onnx::TensorProto::DOUBLE:
            return 8;
        case onnx::TensorProto::INT64:
            return 8;
        case onnx::TensorProto::INT32:
            return 4;
        default:
            return 0;
    }
}

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// Resolves an external data location beside the model, refusing paths that leave its folder
// (a model must not make rmvk read arbitrary files).
fs::path external_path(const std::string& location, const std::string& base_dir,
                       const std::string& where) {
    if (base_dir.empty())
        fail(where, "external data is not allowed for a model loaded from memory");
    if (location.empty()) fail(where, "external data has no location");
    fs::path rel(location);
    if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory())
        fail(where, "external data location '" + location + "' must be relative to the model");
    for (const auto& part : rel)
        if (part == "..")
            fail(where, "external data location '" + location + "' leaves the model's folder");
    std::error_code ec;
    fs::path base = fs::weakly_canonical(fs::path(base_dir), ec);
    if (ec) base = fs::path(base_dir);
    fs::path full = fs::weakly_canonical(base / rel, ec);
    if (ec) full = base / rel;
    auto [b, f] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
    if (b != base.end())
        fail(where, "external data location '" + location + "' leaves the model's folder");
    return full;
}

struct ExternalSpan {
    fs::path path;
    std::string location;
    int64_t offset = 0;
};

// Finds and checks where a tensor's external bytes are, before anything is allocated.
ExternalSpan locate_external(const onnx::TensorProto& proto, const std::string& base_dir,
                             const std::string& where, int64_t bytes) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto& kv : proto.external_data()) {
        try {
            if (kv.key() == "location")
                location = kv.value();
            else if (kv.key() == "offset")
                offset = std::stoll(kv.value());
            else if (kv.key() == "length")
                length = std::stoll(kv.value());
        } catch (const std::exception&) {
            fail(where, "external data " + kv.key() + " '" + kv.value() + "' is not a number");
        }
    }
    fs::path path = external_path(location, base_dir, where);
    std::error_code ec;
    auto file_size = static_cast<int64_t>(fs::file_size(path, ec));
    if (ec) fail(where, "cannot open external data file '" + location + "'");
    if (offset < 0 || offset > file_size)
        fail(where,
             "external data offset " + std::to_string(offset) + " is outside '" + location + "'");
    if (length < 0) length = file_size - offset;
    if (length != bytes)
        fail(where, "external data holds " + std::to_string(length) + " bytes, the shape needs " +
                        std::to_string(bytes));
    if (length > file_size - offset)
        fail(where, "external data file '" + location + "' is truncated");
    return {path, location, offset};
}

// Reads `bytes` bytes of external data straight into `dst`.
void read_external(const onnx::TensorProto& proto, const std::string& base_dir,
                   const std::string& where, void* dst, int64_t bytes) {
    ExternalSpan span = locate_external(proto, base_dir, where, bytes);
    File f(std::fopen(span.path.c_str(), "rb"));
    if (!f) fail(where, "cannot open external data file '" + span.location + "'");
    if (bytes == 0) return;
    if (fseeko(f.get(), span.offset, SEEK_SET) != 0 ||
        std::fread(dst, 1, static_cast<size_t>(bytes), f.get()) != static_cast<size_t>(bytes))
        fail(where, "cannot read external data file '" + span.location + "'");
}

// Refuses a tensor whose stored data does not match its shape before allocating for it, so
// a corrupt header claiming 2^31 elements costs nothing.
void check_data_size(const onnx::TensorProto& proto, const std::string& where,
                     const std::string& base_dir, int64_t n) {
    const int64_t bytes = static_cast<int64_t>(element_size(proto.data_type())) * n;
    if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
        locate_external(proto, base_dir, where, bytes);
        return;
    }
    int64_t have = 0;
    if (proto.has_raw_data()) {
        have = static_cast<int64_t>(proto.raw_data().size());
    } else {
        switch (proto.data_type()) {
            case onnx::TensorProto::FLOAT:
                have = proto.float_data_size() * 4;
                break;
            case onnx::TensorProto::DOUBLE:
                have = proto.double_data_size() * int64_t(8);
                break;
            case onnx::TensorProto::INT64:
                have = proto.int64_data_size() * int64_t(8);
                break;
            case onnx::TensorProto::INT32:
                have = proto.int32_data_size() * int64_t(4);
                break;
        }
    }
    if (have != bytes)
        fail(where, "data holds " + std::to_string(have) + " bytes, the shape " +
                        to_string(Shape(proto.dims().begin(), proto.dims().end())) + " needs " +
                        std::to_string(bytes));
}

// Copies the values of a tensor (whatever field holds them) as type T into `out`.
template <typename T>
void copy_typed(const onnx::TensorProto& proto, const std::string& where,
                const std::string& base_dir, int64_t n, T* out) {
    const int32_t type = proto.data_type();
    const auto bytes = static_cast<int64_t>(element_size(type)) * n;
    auto convert = [&](auto* src) {
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(src[i]);
    };
    auto from_bytes = [&](const void* src) {
        switch (type) {
            case onnx::TensorProto::FLOAT:
                convert(static_cast<const float*>(src));
                break;
            case onnx::TensorProto::DOUBLE:
                convert(static_cast<const double*>(src));
                break;
            case onnx::TensorProto::INT64:
                convert(static_cast<const int64_t*>(src));
                break;
            case onnx::TensorProto::INT32:
                convert(static_cast<const int32_t*>(src));
                break;
        }
    };
    if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
        if (element_size(type) == sizeof(T) &&
            (std::is_floating_point_v<T> ==
             (type == onnx::TensorProto::FLOAT || type == onnx::TensorProto::DOUBLE))) {
            read_external(proto, base_dir, where, out, bytes);
        } else {
            std::vector<char> tmp(static_cast<size_t>(bytes));
            read_external(proto, base_dir, where, tmp.data(), bytes);
            from_bytes(tmp.data());
        }
        return;
    }
    if (proto.has_raw_data()) {
        if (static_cast<int64_t>(proto.raw_data().size()) != bytes)
            fail(where, "raw_data holds " + std::to_string(proto.raw_data().size()) +
                            " bytes, the shape " +
                            to_string(Shape(proto.dims().begin(), proto.dims().end())) + " needs " +
                            std::to_string(bytes));
        // Little-endian host assumed (x86, ARM): raw_data is copied as is.
        if (type == onnx::TensorProto::FLOAT && std::is_same_v<T, float>)
            std::memcpy(out, proto.raw_data().data(), static_cast<size_t>(bytes));
        else
            from_bytes(proto.raw_data().data());
        return;
    }
    auto take = [&](const auto& field, const char* field_name) {
        if (field.size() != n)
            fail(where, std::string(field_name) + " holds " + std::to_string(field.size()) +
                            " values, the shape needs " + std::to_string(n));
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(field.Get(static_cast<int>(i)));
    };
    switch (type) {
        case onnx::TensorProto::FLOAT:
            take(proto.float_data(), "float_data");
            break;
        case onnx::TensorProto::DOUBLE:
            take(proto.double_data(), "double_data");
            break;
        case onnx::TensorProto::INT64:
            take(proto.int64_data(), "int64_data");
            break;
        case onnx::TensorProto::INT32:
            take(proto.int32_data(), "int32_data");
            break;
    }
}

}  // namespace

Shape checked_dims(const google::protobuf::RepeatedField<int64_t>& dims, const std::string& where) {
    Shape shape;
    int64_t n = 1;
    for (int64_t d : dims) {
        if (d < 0) fail(where, "negative dimension " + std::to_string(d));
        if (d > kMaxElements || (d > 0 && n > kMaxElements / d))
            fail(where, "dimensions " + to_string(Shape(dims.begin(), dims.end())) +
                            " are absurdly large");
        n *= d;
        shape.push_back(d);
    }
    return shape;
}

Constant decode_tensor(const onnx::TensorProto& proto, const std::string& where,
                       const std::string& base_dir) {
    if (proto.has_segment()) fail(where, "segmented tensors are not supported");
    const int32_t type = proto.data_type();
    if (element_size(type) == 0)
        fail(where, "data type " +
                        onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(
                            onnx::TensorProto_DataType_IsValid(type) ? type : 0)) +
                        " is not supported (float32 weights, int64 shapes)");
    Constant c;
    c.shape = checked_dims(proto.dims(), where);
    const int64_t n = element_count(c.shape);
    c.is_float = type == onnx::TensorProto::FLOAT || type == onnx::TensorProto::DOUBLE;
    check_data_size(proto, where, base_dir, n);
    if (c.is_float) {
        c.values.shape = c.shape;
        c.values.data.resize(static_cast<size_t>(n));
        copy_typed<float>(proto, where, base_dir, n, c.values.data.data());
    } else {
        c.integers.resize(static_cast<size_t>(n));
        copy_typed<int64_t>(proto, where, base_dir, n, c.integers.data());
    }
    return c;
}

}  // namespace rm::onnx_detail
