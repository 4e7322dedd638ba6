// Bad model files get one clear rm::Error (file, node, operator), never a crash or another
// exception type.
#include <doctest/doctest.h>

#include <filesystem>
#include <random>

#include "onnx_test_models.hpp"
#include "rm/error.hpp"
#include "rm/model_loader.hpp"
#include "rm/onnx_io.hpp"

namespace fs = std::filesystem;

namespace {

std::string load_error(const std::string& bytes, const std::string& base_dir = "") {
    try {
        rm::load_onnx_bytes(bytes.data(), bytes.size(), "bad.onnx", base_dir);
    } catch (const rm::Error& e) {
        return e.what();
    }
    return "(loaded)";
}

std::string load_error(const onnx::ModelProto& m, const std::string& base_dir = "") {
    return load_error(rmtest::bytes_of(m), base_dir);
}

// Loads `bytes`; anything but success or rm::Error (another exception, a crash) fails the test.
bool loads_or_refuses(const std::string& bytes) {
    try {
        rm::load_onnx_bytes(bytes.data(), bytes.size(), "fuzz.onnx");
        return true;
    } catch (const rm::Error&) {
        return true;
    } catch (const std::exception& e) {
        FAIL("unexpected exception: " << e.what());
        return false;
    }
}

std::string fixture_bytes() {
    return rmtest::read_file(
        (fs::path(RMVK_FIXTURE_DIR) / "pytorch" / "basic_fused_op13_b1_32x32.onnx").string());
}

}  // namespace

TEST_CASE("the tiny model itself loads") {
    CHECK(load_error(rmtest::tiny_model()) == "(loaded)");
}

TEST_CASE("missing files are named") {
    CHECK_THROWS_WITH_AS(rm::load_onnx("/nonexistent/model.onnx"),
                         "/nonexistent/model.onnx: no such file", rm::Error);
    CHECK_THROWS_WITH_AS(rm::load_model("/nonexistent/model.onnx"),
                         doctest::Contains("no such file"), rm::Error);
    CHECK_THROWS_WITH_AS(rm::load_onnx(RMVK_FIXTURE_DIR), doctest::Contains("is a directory"),
                         rm::Error);
}

TEST_CASE("empty, truncated and random files are refused cleanly") {
    CHECK(load_error("") == "bad.onnx: the file is empty, not an ONNX model");
    const std::string good = fixture_bytes();
    REQUIRE(good.size() > 10000);
    // Truncation at many points, including inside the weights.
    for (size_t cut = 1; cut < good.size(); cut += good.size() / 97 + 1) {
        INFO("cut at " << cut);
        const std::string msg = load_error(good.substr(0, cut));
        CHECK(msg.rfind("bad.onnx: ", 0) == 0);
        CHECK(msg != "(loaded)");
    }
    std::mt19937 gen(1234);
    for (int i = 0; i < 300; ++i) {
        std::string noise(gen() % 4096, '\0');
        for (auto& c : noise) c = static_cast<char>(gen());
        CHECK(loads_or_refuses(noise));
    }
    // Byte flips in a real model: each must load or give rm::Error.
    for (int i = 0; i < 300; ++i) {
        std::string bytes = good;
        for (int k = 0; k < 4; ++k) bytes[gen() % bytes.size()] = static_cast<char>(gen());
        CHECK(loads_or_refuses(bytes));
    }
}

TEST_CASE("an unsupported operator names the node and the operator") {
    onnx::ModelProto m = rmtest::tiny_model();
    auto* relu = m.mutable_graph()->mutable_node(1);
    relu->set_op_type("Sigmoid");
    relu->set_name("act_7");
    CHECK(load_error(m).rfind(
              "bad.onnx: node 'act_7' (Sigmoid): operator 'Sigmoid' is not supported", 0) == 0);
}

TEST_CASE("unsupported attributes and opsets are refused") {
    onnx::ModelProto m = rmtest::tiny_model();
    auto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
    a->set_name("dilations");
    a->set_type(onnx::AttributeProto::INTS);
    a->add_ints(1);
    a->add_ints(1);
    a->add_ints(1);
    CHECK(load_error(m) ==
          "bad.onnx: node 'conv' (Conv): attribute 'dilations' has 3 values; only 2-D operators (2 "
          "values) are supported");
    CHECK(load_error(rmtest::tiny_model(6)) ==
          "bad.onnx: opset 6 is not supported (rmvk reads opsets 7 to 21)");
    // Above 21 the first node says which operator rmvk does not know at that opset.
    CHECK(load_error(rmtest::tiny_model(22)) ==
          "bad.onnx: node 'conv' (Conv): opset 22 is too new: rmvk knows Conv in opsets 7 to 21 "
          "(versions 1, 11)");
    for (int64_t opset : {7, 8, 18, 19, 21})
        CHECK(load_error(rmtest::tiny_model(opset)) == "(loaded)");
}

TEST_CASE("inconsistent shapes surface at load with the node name") {
    onnx::ModelProto m = rmtest::tiny_model();
    // The conv weight expects 5 input channels; the input has 3.
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_float_data();
    w->set_dims(1, 5);
    for (int i = 0; i < 4 * 5 * 3 * 3; ++i) w->add_float_data(0.5f);
    const std::string msg = load_error(m);
    CHECK(msg.rfind("bad.onnx: ", 0) == 0);
    CHECK(msg.find("'conv'") != std::string::npos);
}

TEST_CASE("absurd and negative dimensions are refused before allocating") {
    {
        onnx::ModelProto m = rmtest::tiny_model();
        auto* w = m.mutable_graph()->mutable_initializer(0);
        w->set_dims(1, 1000000000);  // 10^9 input channels: 3.6e10 weights
        CHECK(load_error(m) ==
              "bad.onnx: initializer 'w': dimensions [4, 1000000000, 3, 3] are absurdly large");
        for (int i = 0; i < 4; ++i) w->set_dims(i, 1000000000);
        CHECK(load_error(m).find("absurdly large") != std::string::npos);
        w->set_dims(0, 4);
        w->set_dims(1, 3);
        w->set_dims(2, 3);
        w->set_dims(3, 3000000);  // plausible size, data for 432 bytes only
        CHECK(load_error(m) ==
              "bad.onnx: initializer 'w': data holds 432 bytes, the shape [4, 3, 3, 3000000] needs "
              "432000000");
        w->set_dims(0, -4);
        CHECK(load_error(m) == "bad.onnx: initializer 'w': negative dimension -4");
    }
    {
        onnx::ModelProto m = rmtest::tiny_model();
        auto* dims = m.mutable_graph()
                         ->mutable_input(0)
                         ->mutable_type()
                         ->mutable_tensor_type()
                         ->mutable_shape();
        dims->mutable_dim(1)->set_dim_value(1000000000);
        dims->mutable_dim(2)->set_dim_value(1000000000);
        CHECK(load_error(m) == "bad.onnx: graph input 'x' has absurdly large dimensions");
        dims->mutable_dim(2)->set_dim_value(-3);
        CHECK(load_error(m) == "bad.onnx: graph input 'x' has negative dimension -3");
    }
    {
        // 10^8 output channels with raw_data for 16 values: refused before allocating 1.08e9
        // floats.
        onnx::ModelProto m = rmtest::tiny_model();
        auto* w = m.mutable_graph()->mutable_initializer(0);
        w->clear_float_data();
        w->set_dims(0, 40000000);
        w->set_raw_data(std::string(64, '\0'));
        CHECK(load_error(m) ==
              "bad.onnx: initializer 'w': data holds 64 bytes, the shape [40000000, 3, 3, 3] needs "
              "4320000000");
    }
}

TEST_CASE("raw_data of the wrong length is refused") {
    onnx::ModelProto m = rmtest::tiny_model();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_float_data();
    w->set_raw_data(std::string(4 * 4 * 3 * 3 * 3 - 4, '\0'));
    CHECK(load_error(m) ==
          "bad.onnx: initializer 'w': data holds 428 bytes, the shape [4, 3, 3, 3] needs 432");
}

TEST_CASE("graph wiring errors") {
    onnx::ModelProto m = rmtest::tiny_model();
    m.mutable_graph()->mutable_node(1)->set_input(0, "nowhere");
    CHECK(load_error(m) ==
          "bad.onnx: node 'relu' (Relu): input 'nowhere' is not a graph input, an initializer or "
          "an earlier node's output");
    m = rmtest::tiny_model();
    m.mutable_graph()->mutable_output(0)->set_name("missing");
    CHECK(load_error(m) == "bad.onnx: graph output 'missing' is never produced");
    m = rmtest::tiny_model();
    m.mutable_graph()->mutable_node(0)->set_input(1, "x");  // runtime tensor as conv weight
    CHECK(load_error(m) ==
          "bad.onnx: node 'conv' (Conv): weight 'x' must be a constant initializer");
}

TEST_CASE("external data may not leave the model's folder") {
    const fs::path dir = fs::temp_directory_path() / "rmvk_bad_input_test";
    fs::create_directories(dir);
    fs::remove(dir / "w.bin");
    onnx::ModelProto m = rmtest::tiny_model();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_float_data();
    w->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* loc = w->add_external_data();
    loc->set_key("location");
    for (const char* where : {"../secret.bin", "/etc/passwd", "a/../../b"}) {
        loc->set_value(where);
        CHECK(load_error(m, dir.string())
                  .rfind("bad.onnx: initializer 'w': external data location", 0) == 0);
    }
    loc->set_value("w.bin");
    CHECK(load_error(m) ==
          "bad.onnx: initializer 'w': external data is not allowed for a model loaded from memory");
    CHECK(load_error(m, dir.string()) ==
          "bad.onnx: initializer 'w': cannot open external data file 'w.bin'");
    rmtest::write_file((dir / "w.bin").string(), std::string(432, '\0'));
    CHECK(load_error(m, dir.string()) == "(loaded)");
    rmtest::write_file((dir / "w.bin").string(), std::string(400, '\0'));
    CHECK(load_error(m, dir.string()) ==
          "bad.onnx: initializer 'w': external data holds 400 bytes, the shape needs 432");
}
