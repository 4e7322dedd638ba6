// The linear 1x1 fusion pass: consecutive 1x1 convs with nothing between compose exactly (the
// first may be strided); a k x k conv is never composed; after RM of inverted residuals each
// project' and the next expand' become one conv.
#include "rm/fuse_linear.hpp"

#include <doctest/doctest.h>

#include <filesystem>

#include "pass_test_graphs.hpp"
#include "rm/compare.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/npy.hpp"
#include "rm/onnx_io.hpp"
#include "rm/rm_transform.hpp"

using passtest::GraphMaker;
using rm::Op;

TEST_CASE("two 1x1 convs (the first strided, both with bias) compose exactly") {
    GraphMaker m({1, 5, 9, 7});
    std::string x = m.conv("a", "input", 5, 12, 1, 2, {0, 0, 0, 0}, 1, 1, true);
    x = m.conv("b", x, 12, 6, 1, 1, {0, 0, 0, 0}, 1, 1, true);
    x = m.op("relu", Op::Relu, {x});
    m.output(x);
    rm::Graph g = m.g;
    rm::NodeMapping mapping{
        {"a", {{"a"}, {}, "blk"}}, {"b", {{"b"}, {}, ""}}, {"relu", {{"relu"}, {}, ""}}};
    const auto r = rm::fuse_linear_1x1(g, &mapping);
    CHECK(r.fused == 1);
    CHECK(passtest::count_op(g, Op::Conv) == 1);
    const rm::Node* b = g.find_node("b");
    REQUIRE(b);
    CHECK(b->inputs[0] == "input");
    CHECK(b->attrs.strides == std::vector<int64_t>{2, 2});
    CHECK(*g.initializer_shape(b->inputs[1]) == rm::Shape{6, 5, 1, 1});
    CHECK(mapping.count("a") == 0);
    CHECK(mapping.at("b").residual_nodes == std::vector<std::string>{"a", "b"});
    CHECK(mapping.at("b").block == "blk");
    auto cmp = passtest::compare_outputs(m.g, g, passtest::random_input({1, 5, 9, 7}));
    CHECK(cmp.max_abs_ref > 0.1);
    CHECK(cmp.max_abs_diff <= 1e-5 * cmp.max_abs_ref);
}

TEST_CASE("a pair through a narrow middle stays apart unless every pair is asked for") {
    // 8 -> 2 -> 8 costs 2 * (8 + 8) = 32 multiply-adds per pixel; composed, 8 * 8 = 64.
    GraphMaker m({1, 8, 6, 5});
    std::string x = m.conv("a", "input", 8, 2, 1, 1, {0, 0, 0, 0}, 1, 1, true);
    x = m.conv("b", x, 2, 8, 1, 1, {0, 0, 0, 0}, 1, 1, true);
    m.output(x);
    rm::Graph g = m.g;
    const auto kept = rm::fuse_linear_1x1(g);
    CHECK(kept.fused == 0);
    CHECK(kept.skipped == 1);
    CHECK(passtest::count_op(g, Op::Conv) == 2);
    const auto all = rm::fuse_linear_1x1(g, nullptr, rm::FuseLinear::all);
    CHECK(all.fused == 1);
    CHECK(all.skipped == 0);
    CHECK(passtest::count_op(g, Op::Conv) == 1);
    const auto cmp = passtest::compare_outputs(m.g, g, passtest::random_input({1, 8, 6, 5}));
    CHECK(cmp.max_abs_ref > 0.01);
    CHECK(cmp.max_abs_diff <= 1e-5 * cmp.max_abs_ref);
}

TEST_CASE("not composed: an activation between, a k x k conv, a strided second, a shared tensor") {
    GraphMaker m({1, 4, 8, 8});
    std::string x = m.conv("a", "input", 4, 8, 1, 1, {0, 0, 0, 0}, 1, 1, true);
    x = m.op("act", Op::Relu, {x});
    x = m.conv("b", x, 8, 8, 1, 1, {0, 0, 0, 0}, 1, 1, true);
    x = m.conv("k3", x, 8, 8, 3, 1, {}, 1, 1, true);  // 1x1 then 3x3 with padding: no
    x = m.conv("c", x, 8, 8, 1, 1, {0, 0, 0, 0}, 1, 1, true);
    x = m.conv("d", x, 8, 8, 1, 2, {0, 0, 0, 0}, 1, 1, true);  // strided second: no
    x = m.op("act2", Op::Relu, {x});
    std::string y = m.conv("e", x, 8, 8, 1, 1, {0, 0, 0, 0}, 1, 1, true);
    std::string z = m.conv("f", y, 8, 8, 1, 1, {0, 0, 0, 0}, 1, 1, true);
    std::string w = m.op("sum", Op::Add, {y, z});  // y has two readers: e and f stay apart
    m.output(w);
    rm::Graph g = m.g;
    CHECK(rm::fuse_linear_1x1(g).fused == 0);
    CHECK(g.nodes.size() == m.g.nodes.size());
}

TEST_CASE("after RM of inverted residuals, project' and the next expand' compose exactly") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(RMVK_FIXTURE_DIR) / "pytorch";
    const std::string stem = "rmfam_invres_relu6_op13_b2_20x28";
    rm::Graph g = rm::load_onnx((dir / (stem + ".onnx")).string());
    rm::RmResult r = rm::rm_transform(g);
    REQUIRE(r.converted == 3);
    const int convs = passtest::count_op(r.plain, Op::Conv);
    // Each composed conv would be dense over both widened sides: by default they stay apart.
    rm::Graph kept = r.plain;
    const auto k = rm::fuse_linear_1x1(kept, nullptr);
    CHECK(k.fused == 0);
    CHECK(k.skipped == 3);
    CHECK(passtest::count_op(kept, Op::Conv) == convs);
    const auto f = rm::fuse_linear_1x1(r.plain, &r.mapping, rm::FuseLinear::all);
    // Blocks 0-1, 1-2 (both converted) and the strided block's project into block 3's expand'.
    CHECK(f.fused == 3);
    CHECK(passtest::count_op(r.plain, Op::Conv) == convs - 3);
    for (const auto& n : r.plain.nodes) CHECK(r.mapping.count(n.name) == 1);
    const rm::Tensor x = rm::read_npy((dir / (stem + ".input.npy")).string());
    const rm::Tensor want = rm::read_npy((dir / (stem + ".output.npy")).string());
    const rm::Tensor got = rm::run_cpu(r.plain, {{"input", x}}).at(r.plain.outputs.at(0));
    const auto cmp = rm::compare_outputs(want, got);
    MESSAGE("fused plain vs PyTorch: max|d|/max|ref| = " << cmp.relative_error());
    CHECK(cmp.relative_error() <= 1e-4);
}
