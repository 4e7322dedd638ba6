// What changed between ONNX operator versions in opsets 7 to 21, read and written as each
// version means it (the notes beside each parser in rm/onnx_node.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "onnx/checker.h"
#include "onnx_test_models.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/error.hpp"
#include "rm/onnx_check.hpp"
#include "rm/onnx_io.hpp"
#include "rm/shape_inference.hpp"

namespace fs = std::filesystem;

namespace {

// tiny_model(opset) (x [1, 3, 8, 8] -> Conv -> Relu -> y) followed by one more node `op` reading
// y; the graph output becomes that node's first output.
struct Model {
    onnx::ModelProto m;
    onnx::NodeProto* node;

    Model(int64_t opset, const std::string& op, std::vector<std::string> outputs = {"z"}) {
        m = rmtest::tiny_model(opset);
        node = m.mutable_graph()->add_node();
        node->set_name("n");
        node->set_op_type(op);
        node->add_input("y");
        for (const auto& o : outputs) node->add_output(o);
        m.mutable_graph()->mutable_output(0)->set_name(outputs[0]);
    }
    Model& attr(const std::string& name, int64_t v) {
        auto* a = node->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INT);
        a->set_i(v);
        return *this;
    }
    Model& ints(const std::string& name, std::vector<int64_t> v) {
        auto* a = node->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INTS);
        for (int64_t x : v) a->add_ints(x);
        return *this;
    }
    // A constant input of the node.
    Model& constant(const std::string& name, std::vector<int64_t> dims, std::vector<float> v) {
        auto* t = m.mutable_graph()->add_initializer();
        t->set_name(name);
        t->set_data_type(onnx::TensorProto::FLOAT);
        for (int64_t d : dims) t->add_dims(d);
        for (float x : v) t->add_float_data(x);
        node->add_input(name);
        return *this;
    }
    Model& shape_input(std::vector<int64_t> v) {
        auto* t = m.mutable_graph()->add_initializer();
        t->set_name("shape");
        t->set_data_type(onnx::TensorProto::INT64);
        t->add_dims(static_cast<int64_t>(v.size()));
        for (int64_t x : v) t->add_int64_data(x);
        node->add_input("shape");
        return *this;
    }
    rm::Graph load() const {
        const std::string bytes = rmtest::bytes_of(m);
        return rm::load_onnx_bytes(bytes.data(), bytes.size(), "m.onnx");
    }
    std::string error() const {
        try {
            load();
        } catch (const rm::Error& e) {
            return e.what();
        }
        return "(loaded)";
    }
};

rm::Tensor run(const rm::Graph& g) {
    return rm::run_cpu(g, {{"x", rmtest::random_tensor({1, 3, 8, 8}, 11)}}).at(g.outputs[0]);
}

std::string saved_at(const rm::Graph& g, int64_t opset, const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / "rmvk_onnx_opsets_test";
    fs::create_directories(dir);
    const std::string path = (dir / name).string();
    rm::SaveOptions options;
    options.opset = opset;
    rm::save_onnx(g, path, options);
    return path;
}

}  // namespace

TEST_CASE("BatchNormalization: spatial and is_test of BN-6/7 files") {
    auto bn = [](int64_t opset) {
        Model m(opset, "BatchNormalization");
        for (const char* p : {"scale", "bias", "mean", "var"}) m.constant(p, {4}, {1, 1, 1, 1});
        return m;
    };
    CHECK(bn(7).error() == "(loaded)");
    CHECK(bn(7).attr("spatial", 1).error() == "(loaded)");
    CHECK(bn(8).attr("spatial", 0).error() ==
          "m.onnx: node 'n' (BatchNormalization): spatial=0 (statistics per activation, not per "
          "channel) is not supported; only spatial=1");
    CHECK(bn(7).attr("is_test", 1).error() == "(loaded)");
    CHECK(bn(7).attr("is_test", 0).error().find("is_test=0 (training mode) is not supported") !=
          std::string::npos);
    CHECK(bn(15).attr("training_mode", 1).error().find("training_mode=1") != std::string::npos);
}

TEST_CASE("MaxPool: opset 8's Indices output is fine while nothing reads it") {
    auto pool = [](int64_t opset) {
        Model m(opset, "MaxPool", {"z", "idx"});
        m.ints("kernel_shape", {2, 2}).attr("storage_order", 1);
        return m;
    };
    rm::Graph g = pool(8).load();
    REQUIRE(g.nodes.back().op == rm::Op::MaxPool);
    CHECK(g.nodes.back().outputs == std::vector<std::string>{"z"});
    CHECK(run(g).shape == rm::Shape{1, 4, 7, 7});
    CHECK(pool(12).error() == "(loaded)");

    CHECK(
        pool(7).error() ==
        "m.onnx: node 'n' (MaxPool): has two outputs; MaxPool has an Indices output from opset 8");
    Model read = pool(8);
    auto* relu = read.m.mutable_graph()->add_node();
    relu->set_name("after");
    relu->set_op_type("Relu");
    relu->add_input("idx");
    relu->add_output("after_out");
    read.m.mutable_graph()->mutable_output(0)->set_name("after_out");
    CHECK(read.error() ==
          "m.onnx: node 'after' (Relu): input 'idx' is the Indices output of MaxPool 'n', which "
          "rmvk does not compute");
    Model out = pool(8);
    out.m.mutable_graph()->mutable_output(0)->set_name("idx");
    CHECK(out.error() ==
          "m.onnx: graph output 'idx' is the Indices output of MaxPool 'n', which rmvk does not "
          "compute");
}

TEST_CASE("Softmax: before opset 13 it normalizes all axes from its axis on") {
    // y is [1, 4, 8, 8]: Softmax-1/11 along axis 1 normalizes all 256 values together,
    // Softmax-13 each column of 4.
    Model old_m(11, "Softmax");
    old_m.attr("axis", 1);
    rm::Graph old_g = old_m.load();
    Model new_m(13, "Softmax");
    new_m.attr("axis", 1);
    rm::Graph new_g = new_m.load();
    CHECK(new_g.nodes.size() == 3);
    REQUIRE(old_g.nodes.size() == 5);  // Reshape, last-axis Softmax, Reshape back
    CHECK(old_g.nodes[2].op == rm::Op::Reshape);
    CHECK(old_g.nodes[2].attrs.shape == std::vector<int64_t>{0, -1});
    CHECK(old_g.nodes[3].attrs.axis == -1);
    CHECK(old_g.nodes[4].attrs.shape == std::vector<int64_t>{0, 4, 8, 8});

    const rm::Tensor a = run(old_g), b = run(new_g);
    REQUIRE(a.shape == rm::Shape{1, 4, 8, 8});
    double sum_all = 0, sum_column = 0;
    for (float v : a.data) sum_all += v;
    for (int c = 0; c < 4; ++c) sum_column += b.data[c * 64];
    CHECK(sum_all == doctest::Approx(1.0).epsilon(1e-5));
    CHECK(sum_column == doctest::Approx(1.0).epsilon(1e-5));

    // The default axis was 1 before 13 and -1 from 13 on.
    CHECK(Model(12, "Softmax").load().nodes.size() == 5);
    CHECK(Model(13, "Softmax").load().nodes.back().attrs.axis == -1);
    // Along the last axis both meanings agree: no rewrite.
    Model last(9, "Softmax");
    last.attr("axis", 3);
    CHECK(last.load().nodes.size() == 3);

    // Saved at opset 11 again, the lowered graph is Softmax-11 over the last axis only.
    const std::string path = saved_at(old_g, 11, "softmax11.onnx");
    CHECK_NOTHROW(onnx::checker::check_model(path));
    rm::Graph back = rm::load_onnx(path);
    CHECK(back.nodes.size() == 5);
    const rm::Tensor c = run(back);
    for (size_t i = 0; i < a.data.size(); ++i) REQUIRE(c.data[i] == a.data[i]);

    // rmvk's own single-axis Softmax cannot be written before 13.
    CHECK_THROWS_WITH_AS(saved_at(new_g, 12, "softmax12.onnx"),
                         doctest::Contains("node 'n' (Softmax): a Softmax along axis 1 of a [1, 4, "
                                           "8, 8] tensor cannot be written at opset 12"),
                         rm::Error);
}

TEST_CASE("Reshape: allowzero from opset 14") {
    CHECK(Model(14, "Reshape").shape_input({0, -1}).load().nodes.back().attrs.shape ==
          std::vector<int64_t>{0, -1});
    CHECK(Model(14, "Reshape").shape_input({1, -1}).attr("allowzero", 1).error() == "(loaded)");
    CHECK(Model(14, "Reshape").shape_input({0, -1}).attr("allowzero", 1).error() ==
          "m.onnx: node 'n' (Reshape): allowzero=1 with a zero in the shape is not supported");
    // Reshape-19 and -21 only add element types.
    for (int64_t opset : {7, 19, 21})
        CHECK(Model(opset, "Reshape").shape_input({1, -1}).error() == "(loaded)");
}

TEST_CASE("Gemm: Gemm-6's broadcast attribute and Gemm-7's required C") {
    auto gemm = [](int64_t opset, std::vector<int64_t> c_dims) {
        Model m(opset, "Flatten");
        auto* g = m.m.mutable_graph()->add_node();
        g->set_name("fc");
        g->set_op_type("Gemm");
        g->add_input("z");
        g->add_output("logits");
        m.m.mutable_graph()->mutable_output(0)->set_name("logits");
        m.node = g;
        m.constant("fc_w", {256, 2}, std::vector<float>(512, 0.01f));
        int64_t n = 1;
        for (int64_t d : c_dims) n *= d;
        m.constant("fc_c", c_dims, std::vector<float>(static_cast<size_t>(n), 0.5f));
        return m;
    };
    CHECK(gemm(7, {2}).attr("broadcast", 1).error() == "(loaded)");
    CHECK(gemm(7, {1, 2}).attr("broadcast", 0).error() == "(loaded)");
    CHECK(gemm(7, {2}).attr("broadcast", 0).error() ==
          "m.onnx: node 'fc' (Gemm): broadcast=0 needs a constant C of shape (M, N)");

    // Without C, opsets before 11 get a zero C, which means the same.
    rm::Graph g = gemm(13, {2}).load();
    g.nodes.back().inputs.pop_back();
    const rm::Tensor want = run(g);
    for (int64_t opset : {7, 10}) {
        const std::string path = saved_at(g, opset, "gemm.onnx");
        CHECK_NOTHROW(onnx::checker::check_model(path));
        rm::Graph back = rm::load_onnx(path);
        CHECK(back.nodes.back().inputs.size() == 3);
        CHECK(run(back).data == want.data);
    }
    CHECK(rm::load_onnx(saved_at(g, 11, "gemm11.onnx")).nodes.back().inputs.size() == 2);
}

TEST_CASE("AveragePool: dilations exist from opset 19") {
    auto pool = [](int64_t opset, int64_t dilation) {
        Model m(opset, "AveragePool");
        m.ints("kernel_shape", {2, 2}).ints("dilations", {dilation, dilation});
        return m;
    };
    CHECK(pool(19, 1).error() == "(loaded)");
    CHECK(pool(21, 2).error() ==
          "m.onnx: node 'n' (AveragePool): dilated pooling is not supported");
    CHECK(pool(18, 1).error() ==
          "m.onnx: node 'n' (AveragePool): attribute 'dilations' is not supported");
}

TEST_CASE("Flatten: negative axes are written from the front before opset 11") {
    Model m(13, "Flatten");
    m.attr("axis", -1);
    rm::Graph g = m.load();
    const std::string path = saved_at(g, 9, "flatten9.onnx");
    CHECK_NOTHROW(onnx::checker::check_model(path));
    rm::Graph back = rm::load_onnx(path);
    CHECK(back.nodes.back().attrs.axis == 3);
    CHECK(rm::infer_shapes(back).at("z") == rm::Shape{1 * 4 * 8, 8});
}

TEST_CASE("every operator version is known through opset 21, none beyond") {
    // Identity, Flatten and Constant (whose later versions only add element types) at the
    // opsets that introduced them.
    for (int64_t opset : {7, 13, 14, 16, 19, 21})
        CHECK(Model(opset, "Identity").error() == "(loaded)");
    for (int64_t opset : {7, 9, 11, 13, 21}) CHECK(Model(opset, "Flatten").error() == "(loaded)");
    CHECK(Model(22, "Relu").error() ==
          "m.onnx: node 'conv' (Conv): opset 22 is too new: rmvk knows Conv in opsets 7 to 21 "
          "(versions 1, 11)");
    // The supported-operator list in messages and tests comes from the parsers themselves.
    const auto& names = rm::onnx_operator_names();
    CHECK(std::find(names.begin(), names.end(), "Constant") != names.end());
    CHECK(std::find(names.begin(), names.end(), "BatchNormalization") != names.end());
    CHECK(Model(13, "Sigmoid").error().find("(rmvk supports Conv, BatchNormalization, Relu") !=
          std::string::npos);
}

TEST_CASE("saving refuses opsets rmvk does not write") {
    rm::Graph g = Model(13, "Relu").load();
    CHECK_THROWS_WITH_AS(saved_at(g, 6, "six.onnx"),
                         doctest::Contains("opset 6 cannot be written (rmvk writes 7 to 21)"),
                         rm::Error);
    CHECK_THROWS_WITH_AS(saved_at(g, 22, "x.onnx"), doctest::Contains("opset 22 cannot be written"),
                         rm::Error);
    // By default a graph is written at the opset it was read at.
    g.opset = 8;
    const fs::path path = fs::temp_directory_path() / "rmvk_onnx_opsets_test" / "default.onnx";
    rm::save_onnx(g, path.string());
    CHECK(rm::load_onnx(path.string()).opset == 8);
}

TEST_CASE("above opset 17 rmvk's structural checks catch what ONNX's checker would") {
    rm::Graph g = Model(13, "Relu").load();
    const std::string path = saved_at(g, 21, "structural.onnx");
    CHECK(rm::check_onnx_file(path).find("rmvk's structural checks passed (opset 21") == 0);
    onnx::ModelProto good;
    REQUIRE(good.ParseFromString(rmtest::read_file(path)));
    auto refused = [&](void (*spoil)(onnx::ModelProto&)) {
        onnx::ModelProto m = good;
        spoil(m);
        rmtest::write_file(path, rmtest::bytes_of(m));
        try {
            rm::check_onnx_file(path);
        } catch (const rm::Error& e) {
            return std::string(e.what());
        }
        return std::string("(passed)");
    };
    CHECK(refused([](onnx::ModelProto& m) {
              m.mutable_graph()->mutable_node(1)->set_input(0, "nope");
          }).find("node 'relu' (Relu): input 'nope' is not defined before it") !=
          std::string::npos);
    CHECK(refused([](onnx::ModelProto& m) {
              m.mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(8);
          }).find("holds 2 values for dimensions of 108") != std::string::npos);
    CHECK(refused([](onnx::ModelProto& m) {
              m.mutable_graph()->mutable_node(0)->set_domain("com.x");
          }).find("is not an operator rmvk writes") != std::string::npos);
    CHECK(refused([](onnx::ModelProto& m) {
              m.mutable_graph()->mutable_node(2)->set_output(0, "c");
          }).find("'c' is defined twice") != std::string::npos);
    CHECK(refused([](onnx::ModelProto& m) {
              m.mutable_graph()->mutable_output(0)->set_name("q");
          }).find("graph output 'q' is never produced") != std::string::npos);
}
