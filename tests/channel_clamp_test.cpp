// The per-channel clamp (rm/channel_clamp) and the CPU twins of Clip, PRelu, Max, Min and
// ReduceMean: which nodes are clamps, composing them, and writing them back as ONNX operators.
#include "rm/channel_clamp.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "rm/cpu_executor.hpp"
#include "rm/cpu_ops.hpp"
#include "rm/error.hpp"
#include "rm/onnx_io.hpp"

using namespace rm;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Scratch files go to the temp directory, never into the directory ctest runs in.
std::string scratch(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("rmvk_channel_clamp_test_" + name)).string();
}

Node node(Op op, std::vector<std::string> inputs) {
    Node n;
    n.name = "n";
    n.op = op;
    n.inputs = std::move(inputs);
    n.outputs = {"y"};
    return n;
}

}  // namespace

TEST_CASE("Clip, PRelu, Max, Min keep NaN and clamp as PyTorch does") {
    Tensor x(Shape{1, 2, 1, 3}, std::vector<float>{-7, 3, 8, kNaN, -0.5f, 6.5f});
    Tensor c = cpu::clip(x, 0.0f, 6.0f);
    CHECK(c.data[0] == 0.0f);
    CHECK(c.data[1] == 3.0f);
    CHECK(c.data[2] == 6.0f);
    CHECK(std::isnan(c.data[3]));
    Tensor slope(Shape{1, 2, 1, 1}, std::vector<float>{0.25f, 2.0f});
    Tensor p = cpu::prelu(x, slope);
    CHECK(p.data[0] == -1.75f);
    CHECK(p.data[2] == 8.0f);
    CHECK(std::isnan(p.data[3]));
    CHECK(p.data[4] == -1.0f);
    Tensor lo(Shape{1, 2, 1, 1}, std::vector<float>{1.0f, -kInf});
    Tensor mx = cpu::max(x, lo), mn = cpu::min(lo, x);
    CHECK(mx.data[0] == 1.0f);
    CHECK(mx.data[4] == -0.5f);
    CHECK(std::isnan(mx.data[3]));
    CHECK(mn.data[1] == 1.0f);
    CHECK(mn.data[5] == -kInf);
    CHECK(std::isnan(mn.data[3]));
    Tensor cc = cpu::channel_clamp(x, {0.0f, -kInf}, {6.0f, kInf});
    CHECK(cc.data[0] == 0.0f);
    CHECK(cc.data[2] == 6.0f);
    CHECK(cc.data[4] == -0.5f);
    CHECK(cc.data[5] == 6.5f);
    CHECK(std::isnan(cc.data[3]));
}

TEST_CASE("ReduceMean over H, W is the global average pool, with or without the axes") {
    Tensor x(Shape{2, 3, 2, 2});
    for (int64_t i = 0; i < x.size(); ++i) x.data[i] = static_cast<float>(i);
    Tensor keep = cpu::reduce_mean_spatial(x, true), drop = cpu::reduce_mean_spatial(x, false);
    CHECK(keep.shape == Shape{2, 3, 1, 1});
    CHECK(drop.shape == Shape{2, 3});
    CHECK(drop.data[0] == 1.5f);
    CHECK(drop.data[5] == 21.5f);
    CHECK(keep.data == drop.data);
}

TEST_CASE("which nodes are per-channel clamps") {
    Graph g;
    g.initializers["s01"] = Tensor(Shape{1, 3, 1, 1}, std::vector<float>{0, 1, 0});
    g.initializers["s_half"] = Tensor(Shape{3, 1, 1}, std::vector<float>{0, 0.5f, 1});
    g.initializers["six"] = Tensor(Shape{}, std::vector<float>{6});
    g.initializers["row"] = Tensor(Shape{3}, std::vector<float>{1, 2, 3});  // aligns with W
    g.initializers["lo"] = Tensor(Shape{1, 3, 1, 1}, std::vector<float>{-kInf, 0, -1});

    auto relu = as_channel_clamp(g, node(Op::Relu, {"x"}), 3);
    REQUIRE(relu);
    CHECK(relu->is_relu());
    Node clip = node(Op::Clip, {"x"});
    clip.attrs.clip_min = 0;
    clip.attrs.clip_max = 6;
    auto relu6 = as_channel_clamp(g, clip, 3);
    REQUIRE(relu6);
    CHECK(relu6->is_uniform());
    CHECK(relu6->hi == std::vector<float>{6, 6, 6});

    auto mixed = as_channel_clamp(g, node(Op::PRelu, {"x", "s01"}), 3);
    REQUIRE(mixed);
    CHECK(mixed->lo == std::vector<float>{0, -kInf, 0});
    CHECK(mixed->hi == std::vector<float>{kInf, kInf, kInf});
    CHECK_FALSE(as_channel_clamp(g, node(Op::PRelu, {"x", "s_half"}), 3));  // a real slope

    auto min6 = as_channel_clamp(g, node(Op::Min, {"six", "x"}), 3);
    REQUIRE(min6);
    CHECK(min6->lo == std::vector<float>{-kInf, -kInf, -kInf});
    CHECK(min6->hi == std::vector<float>{6, 6, 6});
    auto max_lo = as_channel_clamp(g, node(Op::Max, {"x", "lo"}), 3);
    REQUIRE(max_lo);
    CHECK(max_lo->lo == std::vector<float>{-kInf, 0, -1});
    CHECK_FALSE(as_channel_clamp(g, node(Op::Max, {"x", "row"}), 3));
    CHECK_FALSE(as_channel_clamp(g, node(Op::Max, {"x", "lo"}), 4));  // channel count differs
    CHECK_FALSE(as_channel_clamp(g, node(Op::Max, {"x", "x2"}), 3));  // not a constant
    CHECK_FALSE(as_channel_clamp(g, node(Op::Add, {"x", "six"}), 3));

    // Max then Min is one clamp; a disjoint pair collapses to a constant.
    ChannelClamp both = compose(*max_lo, *min6);
    CHECK(both.lo == std::vector<float>{-kInf, 0, -1});
    CHECK(both.hi == std::vector<float>{6, 6, 6});
    ChannelClamp above = compose(ChannelClamp::uniform(1, 8, 9), ChannelClamp::uniform(1, 0, 6));
    CHECK(above.lo == std::vector<float>{6});
    CHECK(above.hi == std::vector<float>{6});
}

TEST_CASE("a clamp written as ONNX operators computes the clamp, and survives save and load") {
    const ChannelClamp cases[] = {
        ChannelClamp::uniform(3, 0, kInf),      // Relu
        ChannelClamp::uniform(3, 0, 6),         // Clip
        ChannelClamp::uniform(3, -kInf, kInf),  // Identity
        {{0, -kInf, 0}, {kInf, kInf, kInf}},    // PRelu 0/1
        {{0, -kInf, 0}, {6, kInf, 6}},          // Max, Min
        {{-kInf, -kInf, -kInf}, {6, kInf, 2}},  // Min only
        {{-2, 0, 1}, {kInf, kInf, kInf}},       // Max only
    };
    const Op first_op[] = {Op::Relu, Op::Clip, Op::Identity, Op::PRelu, Op::Max, Op::Min, Op::Max};
    Tensor x(Shape{2, 3, 2, 3});
    for (int64_t i = 0; i < x.size(); ++i) x.data[i] = static_cast<float>(i % 17) - 7.5f;
    x.data[4] = kNaN;
    int k = 0;
    for (const auto& clamp : cases) {
        CAPTURE(k);
        Graph g;
        g.name = "clamp";
        g.inputs = {{"x", x.shape}};
        g.outputs = {"y"};
        auto made = append_clamp_nodes(g, "act", "x", "y", clamp);
        REQUIRE_FALSE(made.empty());
        CHECK(g.nodes.front().op == first_op[k]);
        const Tensor want = cpu::channel_clamp(x, clamp.lo, clamp.hi);
        for (int64_t opset : {9, 13, 18}) {
            CAPTURE(opset);
            const std::string path = scratch(std::to_string(k) + ".onnx");
            SaveOptions o;
            o.opset = opset;
            save_onnx(g, path, o);
            Graph back = load_onnx(path);
            Tensor got = run_cpu(back, {{"x", x}}).at("y");
            REQUIRE(got.shape == want.shape);
            for (int64_t i = 0; i < got.size(); ++i) {
                // NaN through Relu is the CPU Relu's business (not this module's).
                if (std::isnan(want.data[i]) && first_op[k] != Op::Relu)
                    CHECK(std::isnan(got.data[i]));
                else if (std::isnan(want.data[i]))
                    continue;
                else
                    CHECK(got.data[i] == want.data[i]);
            }
        }
        ++k;
    }
}

TEST_CASE("ReduceMean survives save and load at every opset form") {
    Graph g;
    g.name = "mean";
    g.inputs = {{"x", {1, 2, 3, 3}}};
    g.outputs = {"y"};
    Node n = node(Op::ReduceMean, {"x"});
    n.attrs.axes = {-1, -2};
    n.attrs.keepdims = false;
    g.nodes = {n};
    Tensor x(Shape{1, 2, 3, 3});
    for (int64_t i = 0; i < x.size(); ++i) x.data[i] = static_cast<float>(i);
    const std::string path = scratch("reduce_mean.onnx");
    for (int64_t opset : {9, 13, 18}) {
        CAPTURE(opset);
        SaveOptions o;
        o.opset = opset;
        save_onnx(g, path, o);
        Tensor got = run_cpu(load_onnx(path), {{"x", x}}).at("y");
        CHECK(got.shape == Shape{1, 2});
        CHECK(got.data == std::vector<float>{4, 13});
    }
    n.attrs.axes = {1, 2};
    g.nodes = {n};
    save_onnx(g, path);
    CHECK_THROWS_WITH_AS(load_onnx(path), doctest::Contains("only a mean over the spatial axes"),
                         Error);
}
