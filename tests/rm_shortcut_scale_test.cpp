// RM of blocks whose shortcut carries a per-channel constant scale (a Mul by a [C,1,1] or
// scalar constant, or a BatchNormalization, on the identity path or around the projection):
// the merge columns carry the scales, exactly. PyTorch fixtures from
// tests/fixtures/make_shortcut_fixtures.py, and the sparse test model.
#include <doctest/doctest.h>

#include <filesystem>

#include "prune_test_graphs.hpp"
#include "rm/compare.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/npy.hpp"
#include "rm/onnx_io.hpp"
#include "rm/residual_blocks.hpp"
#include "rm/rm_transform.hpp"

namespace fs = std::filesystem;
using rm::Op;

TEST_CASE("scaled shortcuts from PyTorch convert exactly, every block") {
    const fs::path dir = fs::path(RMVK_FIXTURE_DIR) / "pytorch";
    struct Case {
        std::string stem;
        Op scale_op;  // what the identity shortcuts carry
        int scaled_projections;
    } cases[] = {
        {"shortcut_mul_basic_kept_op13_b2_32x32", Op::Mul, 3},
        {"shortcut_bn_postmul_basic_fused_op17_b1_33x29", Op::BatchNormalization, 3},
        {"shortcut_scalar_prebn_bottleneck_kept_op13_b2_32x32", Op::Mul, 4},
    };
    for (const auto& c : cases) {
        CAPTURE(c.stem);
        rm::Graph g = rm::load_onnx((dir / (c.stem + ".onnx")).string());
        const auto blocks = rm::find_residual_blocks(g);
        REQUIRE(blocks.size() == 5);
        int scaled_identity = 0, scaled_projection = 0;
        for (const auto& b : blocks) {
            CHECK_MESSAGE(b.convertible, b.name << ": " << b.reason);
            const rm::Node* first = g.find_node(b.shortcut_nodes.at(0));
            REQUIRE(first);
            if (b.projection) {
                // A Mul around the projection, or a BN before its conv.
                bool scaled = first->op == Op::BatchNormalization;
                for (const auto& name : b.shortcut_nodes)
                    scaled |= g.find_node(name)->op == Op::Mul;
                scaled_projection += scaled;
            } else {
                CHECK(b.shortcut_nodes.size() == 1);
                CHECK(first->op == c.scale_op);
                ++scaled_identity;
            }
        }
        CHECK(scaled_identity == 5 - c.scaled_projections);
        CHECK(scaled_projection == c.scaled_projections);
        rm::RmResult r = rm::rm_transform(g);
        CHECK(r.converted == 5);
        for (const auto& n : r.plain.nodes) {
            CHECK(n.op != Op::Add);
            CHECK(n.op != Op::Mul);
            CHECK(n.op != Op::BatchNormalization);
        }
        rm::Tensor x = rm::read_npy((dir / (c.stem + ".input.npy")).string());
        rm::Tensor want = rm::read_npy((dir / (c.stem + ".output.npy")).string());
        const rm::Tensor got = rm::run_cpu(r.plain, {{"input", x}}).at(r.plain.outputs.at(0));
        REQUIRE(got.shape == want.shape);
        const auto cmp = rm::compare_outputs(want, got);
        MESSAGE(c.stem << ": plain vs PyTorch max|d| = " << cmp.max_abs_diff << " (max|ref| "
                       << cmp.max_abs_ref << ")");
        CHECK(cmp.max_abs_ref > 0.1);
        CHECK(cmp.relative_error() <= 1e-5);
    }
}

TEST_CASE("the merge column of a reserved channel carries its scale, a zero scale a zero column") {
    rm::Graph g = prunetest::sparse_resnet();
    g.initializers.at("b1.scale").data = {0.5f, -2.0f, 0.0f, 1.0f, 3.0f, -0.25f};
    rm::RmResult r = rm::rm_transform(g);
    REQUIRE(r.converted == 2);
    const rm::Node* conv2 = r.plain.find_node("b1.conv2.rm");
    REQUIRE(conv2);
    const rm::Tensor w = r.plain.materialise(conv2->inputs[1]);
    REQUIRE(w.shape == rm::Shape{6, 12, 3, 3});
    const float want[] = {0.5f, -2.0f, 0.0f, 1.0f, 3.0f, -0.25f};
    for (int64_t o = 0; o < 6; ++o)
        for (int64_t j = 0; j < 6; ++j)
            for (int64_t k = 0; k < 9; ++k)
                CHECK(w.data[(o * 12 + j) * 9 + k] == (o == j && k == 4 ? want[o] : 0.0f));
    auto cmp = passtest::compare_outputs(g, r.plain, passtest::random_input({2, 3, 9, 9}));
    CHECK(cmp.max_abs_diff <= 1e-5 * cmp.max_abs_ref);
}

TEST_CASE("a shortcut scale with the wrong number of channels is refused with the reason") {
    rm::Graph g = prunetest::sparse_resnet();
    // [3,1,1] cannot scale 6 channels.
    g.initializers["b1.scale"] = rm::Tensor({3, 1, 1}, std::vector<float>{1, 2, 3});
    g.initializers["b2.scale"] = rm::Tensor({1, 6, 1, 1}, std::vector<float>{1, 1, 1, 1, 1, 1});
    const auto blocks = rm::find_residual_blocks(g);
    REQUIRE(blocks.size() == 2);
    CHECK_FALSE(blocks[0].convertible);
    CHECK(blocks[0].reason == "shortcut scale 'b1.shortcut' (Mul) has 3 values for 6 channels");
    CHECK(blocks[1].convertible);  // [1,C,1,1] is a per-channel constant too
}
