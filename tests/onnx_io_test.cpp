// ONNX save/load: round trips keep every tensor and attribute, files pass onnx::checker,
// external data works both ways, and loading is fast.
#include "rm/onnx_io.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <ctime>
#include <filesystem>

#include "onnx/checker.h"
#include "onnx_test_models.hpp"
#include "rm/error.hpp"
#include "rm/onnx_check.hpp"
#include "rm/shape_inference.hpp"

namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
    fs::path dir = fs::temp_directory_path() / ("rmvk_onnx_io_test_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

void check_same_graph(const rm::Graph& a, const rm::Graph& b) {
    REQUIRE(a.inputs.size() == b.inputs.size());
    for (size_t i = 0; i < a.inputs.size(); ++i) {
        CHECK(a.inputs[i].name == b.inputs[i].name);
        CHECK(a.inputs[i].shape == b.inputs[i].shape);
    }
    CHECK(a.outputs == b.outputs);
    CHECK(a.metadata == b.metadata);
    REQUIRE(a.nodes.size() == b.nodes.size());
    for (size_t i = 0; i < a.nodes.size(); ++i) {
        const rm::Node& x = a.nodes[i];
        const rm::Node& y = b.nodes[i];
        INFO("node " << x.name);
        CHECK(x.name == y.name);
        CHECK(x.op == y.op);
        CHECK(x.inputs == y.inputs);
        CHECK(x.outputs == y.outputs);
        CHECK(x.attrs.kernel == y.attrs.kernel);
        CHECK(x.attrs.strides == y.attrs.strides);
        CHECK(x.attrs.pads == y.attrs.pads);
        CHECK(x.attrs.dilations == y.attrs.dilations);
        CHECK(x.attrs.auto_pad == y.attrs.auto_pad);
        CHECK(x.attrs.group == y.attrs.group);
        CHECK(x.attrs.ceil_mode == y.attrs.ceil_mode);
        CHECK(x.attrs.count_include_pad == y.attrs.count_include_pad);
        CHECK(x.attrs.epsilon == y.attrs.epsilon);
        CHECK(x.attrs.axis == y.attrs.axis);
        CHECK(x.attrs.alpha == y.attrs.alpha);
        CHECK(x.attrs.beta == y.attrs.beta);
        CHECK(x.attrs.trans_a == y.attrs.trans_a);
        CHECK(x.attrs.trans_b == y.attrs.trans_b);
        CHECK(x.attrs.shape == y.attrs.shape);
    }
    REQUIRE(a.initializers.size() == b.initializers.size());
    for (const auto& [name, t] : a.initializers) {
        INFO("initializer " << name);
        REQUIRE(b.is_initializer(name));
        const rm::Tensor& u = b.initializers.at(name);
        CHECK(t.shape == u.shape);
        CHECK(t.data == u.data);  // bit-exact
    }
}

}  // namespace

// What `g` reads back as after saving at `opset`: before 11, axes are written from the front.
rm::Graph as_written(rm::Graph g, int64_t opset) {
    const rm::ShapeMap shapes = rm::infer_shapes(g);
    g.opset = opset;
    for (auto& n : g.nodes)
        if ((n.op == rm::Op::Softmax || n.op == rm::Op::Flatten) && n.attrs.axis < 0 && opset < 11)
            n.attrs.axis += static_cast<int64_t>(shapes.at(n.inputs[0]).size());
    return g;
}

TEST_CASE("round trip of every operator at every opset from 10 keeps tensors and attributes") {
    rm::Graph g = rmtest::every_op_graph();
    rm::infer_shapes(g);
    const fs::path dir = temp_dir("every_op");
    for (int64_t opset = 10; opset <= rm::kMaxOpset; ++opset) {
        INFO("opset " << opset);
        const std::string path = (dir / ("every_op_" + std::to_string(opset) + ".onnx")).string();
        rm::SaveOptions options;
        options.opset = opset;
        rm::save_onnx(g, path, options);
        // ONNX's checker up to the opset it knows, rmvk's structural checks above.
        const std::string checked = rm::check_onnx_file(path);
        CHECK(checked.find(opset <= rm::onnx_checker_max_opset()
                               ? "ONNX's checker passed"
                               : "rmvk's structural checks") == 0);
        CHECK_FALSE(fs::exists(path + ".data"));
        rm::Graph back = rm::load_onnx(path);
        CHECK(back.opset == opset);
        check_same_graph(as_written(g, opset), back);
    }
}

TEST_CASE("opsets 7 to 9 cannot express ceil_mode; saving says so") {
    rm::Graph g = rmtest::every_op_graph();
    for (int64_t opset : {7, 8, 9}) {
        INFO("opset " << opset);
        rm::SaveOptions options;
        options.opset = opset;
        const std::string path = (temp_dir("opset9") / "m.onnx").string();
        CHECK_THROWS_WITH_AS(rm::save_onnx(g, path, options),
                             doctest::Contains("node 'maxpool' (MaxPool): ceil_mode"), rm::Error);
        rm::Graph h = g;
        h.nodes[3].attrs.ceil_mode = false;  // then the graph changes shape: drop the ceil pool
        h.nodes[3].attrs.pads = {0, 0, 1, 1};
        rm::save_onnx(h, path, options);
        CHECK_NOTHROW(onnx::checker::check_model(path));
        check_same_graph(as_written(h, opset), rm::load_onnx(path));
    }
}

TEST_CASE("external data round trip") {
    rm::Graph g = rmtest::every_op_graph();
    rm::infer_shapes(g);
    const fs::path dir = temp_dir("external");
    const std::string path = (dir / "ext.onnx").string();
    rm::SaveOptions options;
    options.force_external_data = true;
    options.external_threshold_bytes =
        64;  // w1 (432 B) and fc_w (80 B) go outside, small ones stay
    rm::save_onnx(g, path, options);
    REQUIRE(fs::exists(path + ".data"));
    CHECK(fs::file_size(path + ".data") > 4096);  // aligned: the second tensor starts at 4096
    CHECK_NOTHROW(onnx::checker::check_model(path));
    check_same_graph(g, rm::load_onnx(path));

    // The loader resolves the data file beside the model, not in the working directory.
    const fs::path moved = dir / "sub";
    fs::create_directories(moved);
    fs::rename(path, moved / "ext.onnx");
    fs::rename(path + ".data", moved / "ext.onnx.data");
    check_same_graph(g, rm::load_onnx((moved / "ext.onnx").string()));

    // A truncated data file is an error naming the tensor, not a crash.
    fs::resize_file(moved / "ext.onnx.data", 100);
    CHECK_THROWS_WITH_AS(rm::load_onnx((moved / "ext.onnx").string()),
                         doctest::Contains("ext.onnx: initializer"), rm::Error);
}

TEST_CASE("PyTorch fixtures survive save and load unchanged") {
    int seen = 0;
    const fs::path dir = temp_dir("fixtures");
    for (const auto& entry : fs::directory_iterator(fs::path(RMVK_FIXTURE_DIR) / "pytorch")) {
        if (entry.path().extension() != ".onnx") continue;
        INFO(entry.path().filename().string());
        rm::Graph g = rm::load_onnx(entry.path().string());
        const std::string path = (dir / entry.path().filename()).string();
        rm::save_onnx(g, path);  // at the fixture's own opset
        CHECK_NOTHROW(rm::check_onnx_file(path));
        rm::Graph back = rm::load_onnx(path);
        CHECK(back.opset == g.opset);
        check_same_graph(g, back);
        ++seen;
    }
    CHECK(seen >= 10);
}

TEST_CASE("Identity of a constant and Constant nodes become initializers") {
    onnx::ModelProto m = rmtest::tiny_model();
    auto* g = m.mutable_graph();
    // w -> Identity -> w_alias, used by the conv (torch emits this for shared weights).
    auto* id = g->add_node();
    id->set_op_type("Identity");
    id->add_input("w");
    id->add_output("w_alias");
    g->mutable_node()->SwapElements(0, 2);
    g->mutable_node()->SwapElements(1, 2);
    g->mutable_node(1)->set_input(1, "w_alias");
    // A Constant node providing the Reshape target shape.
    auto* c = g->add_node();
    c->set_op_type("Constant");
    c->add_output("target");
    auto* value = c->add_attribute();
    value->set_name("value");
    value->set_type(onnx::AttributeProto::TENSOR);
    value->mutable_t()->set_data_type(onnx::TensorProto::INT64);
    value->mutable_t()->add_dims(2);
    value->mutable_t()->add_int64_data(1);
    value->mutable_t()->add_int64_data(-1);
    auto* r = g->add_node();
    r->set_name("flat");
    r->set_op_type("Reshape");
    r->add_input("y");
    r->add_input("target");
    r->add_output("z");
    g->mutable_output(0)->set_name("z");
    const std::string bytes = rmtest::bytes_of(m);
    rm::Graph graph = rm::load_onnx_bytes(bytes.data(), bytes.size(), "m.onnx");
    REQUIRE(graph.nodes.size() == 3);
    CHECK(graph.nodes[0].op == rm::Op::Conv);
    CHECK(graph.nodes[0].inputs[1] == "w_alias");
    REQUIRE(graph.is_initializer("w_alias"));
    CHECK(graph.initializers.at("w_alias").data == graph.initializers.at("w").data);
    CHECK(graph.nodes[2].op == rm::Op::Reshape);
    CHECK(graph.nodes[2].inputs == std::vector<std::string>{"y"});
    CHECK(graph.nodes[2].attrs.shape == std::vector<int64_t>{1, -1});
    CHECK(rm::infer_shapes(graph).at("z") == rm::Shape{1, 4 * 8 * 8});
}

TEST_CASE("a 100 MB model saves and loads in well under a second") {
    // 40 convs of [256, 256, 3, 3]: 94 MB of weights, about a ResNet-50.
    rm::Graph g;
    g.inputs.push_back({"x", {1, 256, 4, 4}});
    std::string prev = "x";
    for (int i = 0; i < 40; ++i) {
        const std::string w = "w" + std::to_string(i), out = "c" + std::to_string(i);
        g.initializers[w] = rmtest::random_tensor({256, 256, 3, 3}, static_cast<uint32_t>(i));
        rm::Node n{"conv" + std::to_string(i), rm::Op::Conv, {prev, w}, {out}, {}};
        n.attrs.pads = {1, 1, 1, 1};
        g.nodes.push_back(n);
        prev = out;
    }
    g.outputs = {prev};
    const std::string path = (temp_dir("big") / "big.onnx").string();
    auto t0 = std::chrono::steady_clock::now();
    rm::save_onnx(g, path);
    auto t1 = std::chrono::steady_clock::now();
    const std::clock_t c1 = std::clock();
    rm::Graph back = rm::load_onnx(path);
    const std::clock_t c2 = std::clock();
    auto t2 = std::chrono::steady_clock::now();
    const double save_s = std::chrono::duration<double>(t1 - t0).count();
    const double load_s = std::chrono::duration<double>(t2 - t1).count();
    // CPU time, not wall time: CI machines run several test executables at once.
    const double load_cpu_s = double(c2 - c1) / CLOCKS_PER_SEC;
    MESSAGE("94 MB model: save " << save_s << " s, load " << load_s << " s wall, " << load_cpu_s
                                 << " s CPU");
    CHECK(back.initializers.at("w39").data == g.initializers.at("w39").data);
    CHECK(load_cpu_s < 0.5);
    CHECK(save_s < 5.0);
}
