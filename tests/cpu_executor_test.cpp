#include "rm/cpu_executor.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "rm/compare.hpp"
#include "rm/cpu_ops.hpp"
#include "rm/error.hpp"
#include "rm/npy.hpp"
#include "rm/onnx_io.hpp"
#include "rm/resnet_builder.hpp"

using namespace rm;

namespace {

// x -> conv 1x1 (weights 1, 2; bias 0.5) -> relu -> add x -> flatten -> fc (sum) -> y
Graph small_graph() {
    Graph g;
    g.inputs.push_back({"x", {-1, 1, 2, 2}});
    g.initializers["w"] = Tensor({2, 1, 1, 1}, std::vector<float>{1, -2});
    g.initializers["b"] = Tensor({2}, std::vector<float>{0.5f, 0.5f});
    g.initializers["fc"] = Tensor({1, 8}, 1.0f);
    g.nodes.push_back({"conv", Op::Conv, {"x", "w", "b"}, {"c"}, {}});
    g.nodes.push_back({"relu", Op::Relu, {"c"}, {"r"}, {}});
    g.nodes.push_back({"add", Op::Add, {"r", "x"}, {"a"}, {}});  // x broadcasts over 2 channels
    g.nodes.push_back({"flatten", Op::Flatten, {"a"}, {"f"}, {}});
    Node fc{"fc", Op::Gemm, {"f", "fc"}, {"y"}, {}};
    fc.attrs.trans_b = true;
    g.nodes.push_back(fc);
    g.outputs = {"y"};
    return g;
}

std::string error_of(const Graph& g, const std::map<std::string, Tensor>& inputs) {
    try {
        run_cpu(g, inputs);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape == b.shape);
    const auto c = rm::compare_outputs(a, b);
    return c.finite() ? c.max_abs_diff : INFINITY;
}

}  // namespace

TEST_CASE("hand-computed run, keep_intermediates and progress") {
    Graph g = small_graph();
    Tensor x({1, 1, 2, 2}, std::vector<float>{1, -1, 2, 0});
    int calls = 0;
    CpuRunOptions options;
    options.on_node = [&](size_t done, size_t total) {
        CHECK(total == 5);
        CHECK(done == static_cast<size_t>(++calls));
    };
    auto out = run_cpu(g, {{"x", x}}, options);
    CHECK(calls == 5);
    REQUIRE(out.size() == 1);
    // channel 0: relu(x + 0.5) + x = {2.5, -1, 4.5, 0.5}; channel 1: relu(-2x + 0.5) + x = {1, 1.5,
    // 2, 0.5}
    CHECK(out.at("y").shape == Shape{1, 1});
    CHECK(out.at("y").data[0] == doctest::Approx(2.5 - 1 + 4.5 + 0.5 + 1 + 1.5 + 2 + 0.5));

    options.keep_intermediates = true;
    options.on_node = nullptr;
    auto all = run_cpu(g, {{"x", x}}, options);
    CHECK(all.size() == 5);
    CHECK(all.at("r").data == std::vector<float>{1.5f, 0, 2.5f, 0.5f, 0, 2.5f, 0, 0.5f});
    CHECK(all.at("f").shape == Shape{1, 8});
    CHECK(all.at("y").data == out.at("y").data);
}

TEST_CASE("inputs are validated with names and shapes") {
    Graph g = small_graph();
    CHECK(error_of(g, {}) == "missing input 'x' of shape [N, 1, 2, 2]");
    CHECK(error_of(g, {{"x", Tensor({1, 1, 3, 2})}}) ==
          "input 'x' has shape [1, 1, 3, 2], the model expects [N, 1, 2, 2]");
    CHECK(error_of(g, {{"x", Tensor({1, 2, 2})}}) ==
          "input 'x' has shape [1, 2, 2], the model expects [N, 1, 2, 2]");
    Tensor lying({1, 1, 2, 2});
    lying.data.resize(3);
    CHECK(error_of(g, {{"x", lying}}) ==
          "input 'x' holds 3 values, its shape [1, 1, 2, 2] needs 4");
    // A graph that is inconsistent reports the node.
    g.initializers["w"] = Tensor({2, 3, 1, 1});
    CHECK(error_of(g, {{"x", Tensor({1, 1, 2, 2})}}).find("node 'conv' (Conv):") == 0);
}

TEST_CASE("a batch of two equals two runs of one; auto_pad runs like explicit pads") {
    ResNetConfig c;
    c.arch = "resnet18";
    c.base_width = 8;
    c.input_height = 40;
    c.input_width = 36;
    c.num_classes = 7;
    Graph g = build_resnet(c);
    Tensor batch({2, 3, 40, 36});
    for (int64_t i = 0; i < batch.size(); ++i)
        batch.data[i] = std::sin(0.37f * static_cast<float>(i));
    Tensor first({1, 3, 40, 36},
                 std::vector<float>(batch.data.begin(), batch.data.begin() + batch.size() / 2));
    Tensor second({1, 3, 40, 36},
                  std::vector<float>(batch.data.begin() + batch.size() / 2, batch.data.end()));
    Tensor both = run_cpu(g, {{"input", batch}}).at("logits");
    Tensor a = run_cpu(g, {{"input", first}}).at("logits");
    Tensor b = run_cpu(g, {{"input", second}}).at("logits");
    REQUIRE(both.shape == Shape{2, 7});
    for (int i = 0; i < 7; ++i) {
        CHECK(both.data[i] == a.data[i]);
        CHECK(both.data[7 + i] == b.data[i]);
    }
    CHECK(a.data != b.data);

    // Every 3x3 stride-1 conv (pad 1) is SAME_UPPER: replacing the pads changes nothing.
    Graph same = g;
    for (auto& n : same.nodes)
        if (n.op == Op::Conv && n.attrs.kernel == std::vector<int64_t>{3, 3} &&
            n.attrs.strides[0] == 1) {
            n.attrs.pads = {0, 0, 0, 0};
            n.attrs.auto_pad = "SAME_UPPER";
        }
    CHECK(run_cpu(same, {{"input", first}}).at("logits").data == a.data);
}

TEST_CASE("matches PyTorch on the exported fixtures") {
    namespace fs = std::filesystem;
    int checked = 0;
    for (const auto& entry : fs::directory_iterator(fs::path(RMVK_FIXTURE_DIR) / "pytorch")) {
        if (entry.path().extension() != ".onnx") continue;
        std::string base = entry.path().string();
        base.resize(base.size() - 5);
        CAPTURE(base);
        Graph g = load_onnx(entry.path().string());
        Tensor x = read_npy(base + ".input.npy"), want = read_npy(base + ".output.npy");
        auto out = run_cpu(g, {{g.inputs.at(0).name, x}});
        // fp32 against PyTorch's fp32: outputs are O(0.5), differences O(1e-7).
        CHECK(max_abs_diff(out.at(g.outputs.at(0)), want) < 1e-5);
        ++checked;
    }
    CHECK(checked >= 8);
}
