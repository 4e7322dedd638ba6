// .npy reading and writing: round trips, files numpy wrote, and clear errors for the rest.
#include "rm/npy.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "rm/error.hpp"

namespace fs = std::filesystem;

namespace {

fs::path temp_path(const std::string& name) {
    fs::path dir = fs::temp_directory_path() / "rmvk_npy_test";
    fs::create_directories(dir);
    return dir / name;
}

// A .npy file with a hand-written header (version `major`) and raw payload.
std::string make_npy(int major, const std::string& dict, const std::string& payload) {
    std::string header = dict;
    const size_t prefix = major == 1 ? 10 : 12;
    header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
    header.push_back('\n');
    std::string s = "\x93NUMPY";
    s.push_back(static_cast<char>(major));
    s.push_back('\0');
    const uint32_t len = static_cast<uint32_t>(header.size());
    s.push_back(static_cast<char>(len & 0xff));
    s.push_back(static_cast<char>((len >> 8) & 0xff));
    if (major != 1) {
        s.push_back(static_cast<char>((len >> 16) & 0xff));
        s.push_back(static_cast<char>(len >> 24));
    }
    return s + header + payload;
}

std::string write(const std::string& name, const std::string& bytes) {
    const std::string path = temp_path(name).string();
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}

template <typename T>
std::string payload(const std::vector<T>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

}  // namespace

TEST_CASE("write then read gives the same tensor") {
    for (const rm::Shape& shape : {rm::Shape{}, rm::Shape{7}, rm::Shape{2, 3, 5},
                                   rm::Shape{1, 3, 33, 47}, rm::Shape{0, 4}}) {
        INFO(rm::to_string(shape));
        rm::Tensor t(shape);
        for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = static_cast<float>(i) * 0.25f - 3.0f;
        const std::string path = temp_path("rt.npy").string();
        rm::write_npy(path, t);
        CHECK(fs::file_size(path) % 64 == t.data.size() * 4 % 64);  // header padded to 64 bytes
        rm::Tensor back = rm::read_npy(path);
        CHECK(back.shape == t.shape);
        CHECK(back.data == t.data);
    }
}

TEST_CASE("reads files numpy wrote") {
    // Written by numpy.save in tests/fixtures/make_fixtures.py.
    rm::Tensor x =
        rm::read_npy(std::string(RMVK_FIXTURE_DIR) + "/pytorch/basic_kept_op13_b2_33x47.input.npy");
    CHECK(x.shape == rm::Shape{2, 3, 33, 47});
    float max_abs = 0;
    for (float v : x.data) max_abs = std::max(max_abs, std::abs(v));
    CHECK(max_abs > 2.0f);  // standard normal samples
    CHECK(max_abs < 10.0f);
}

TEST_CASE("versions 2.0 and 3.0 and float64") {
    const std::vector<float> f{1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -1.0f};
    for (int major : {1, 2, 3}) {
        const auto path = write(
            "v.npy", make_npy(major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                              payload(f)));
        rm::Tensor t = rm::read_npy(path);
        CHECK(t.shape == rm::Shape{2, 3});
        CHECK(t.data == f);
    }
    const std::vector<double> d{1.5, -2.0, 3.25};
    rm::Tensor t = rm::read_npy(write(
        "d.npy",
        make_npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", payload(d))));
    CHECK(t.shape == rm::Shape{3});
    CHECK(t.data == std::vector<float>{1.5f, -2.0f, 3.25f});
}

TEST_CASE("clear errors for what is not supported") {
    const std::vector<float> f(6, 1.0f);
    auto error_of = [](const std::string& path) {
        try {
            rm::read_npy(path);
        } catch (const rm::Error& e) {
            return std::string(e.what());
        }
        return std::string("(read)");
    };
    auto p = write(
        "fortran.npy",
        make_npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", payload(f)));
    CHECK(error_of(p) ==
          p + ": Fortran-order arrays are not supported; save with numpy.ascontiguousarray");
    p = write("int.npy", make_npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }",
                                  payload(f)));
    CHECK(error_of(p) == p + ": dtype '<i4' is not supported (float32 or float64 little-endian)");
    p = write(
        "big_endian.npy",
        make_npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", payload(f)));
    CHECK(error_of(p) == p + ": dtype '>f4' is not supported (float32 or float64 little-endian)");
    p = write(
        "short.npy",
        make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", payload(f)));
    CHECK(error_of(p) == p + ": truncated .npy data (shape [2, 4] needs 32 bytes, file has 24)");
    p = write(
        "huge.npy",
        make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 1000), }",
                 payload(f)));
    CHECK(error_of(p).find("absurdly large") != std::string::npos);
    p = write("not.npy", "hello world, not numpy");
    CHECK(error_of(p) == p + ": not a .npy file");
    p = write("cut.npy",
              make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", "")
                  .substr(0, 30));
    CHECK(error_of(p) == p + ": truncated .npy header");
    CHECK(error_of("/nonexistent/x.npy") == "/nonexistent/x.npy: no such file");
    CHECK_THROWS_AS(rm::write_npy("/nonexistent/dir/x.npy", rm::Tensor({2})), rm::Error);
}
