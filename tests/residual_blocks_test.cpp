#include "rm/residual_blocks.hpp"

#include <doctest/doctest.h>

#include "pass_test_graphs.hpp"
#include "rm/error.hpp"
#include "rm/rm_transform.hpp"

using passtest::GraphMaker;
using rm::Op;
using rm::ResidualBlock;

namespace {

struct BlockSpec {
    int64_t stride = 1;
    bool bn = true;                   // BN kept (else BN fused: conv with bias)
    bool swap_add = false;            // shortcut as the Add's first input
    std::vector<int64_t> conv1_pads;  // empty: centred
    int64_t group = 1;                // of the bottleneck's 3x3
    int64_t dilation = 1;
    bool force_projection = false;
};

std::string unit(GraphMaker& m, const std::string& name, const std::string& x, int64_t cin,
                 int64_t cout, int64_t k, int64_t stride, const BlockSpec& s,
                 std::vector<int64_t> pads = {}, int64_t group = 1, int64_t dilation = 1) {
    std::string y = m.conv(name, x, cin, cout, k, stride, pads, group, dilation, !s.bn);
    return s.bn ? m.bn(name + "_bn", y, cout) : y;
}

std::string finish(GraphMaker& m, const std::string& p, const std::string& main,
                   const std::string& x, int64_t cin, int64_t cout, const BlockSpec& s) {
    std::string sc = x;
    if (s.stride != 1 || cin != cout || s.force_projection)
        sc = unit(m, p + "downsample", x, cin, cout, 1, s.stride, s, {0, 0, 0, 0});
    std::string sum =
        s.swap_add ? m.op(p + "add", Op::Add, {sc, main}) : m.op(p + "add", Op::Add, {main, sc});
    return m.op(p + "relu_out", Op::Relu, {sum});
}

std::string basic(GraphMaker& m, const std::string& p, const std::string& x, int64_t cin,
                  int64_t planes, const BlockSpec& s) {
    std::string y =
        unit(m, p + "conv1", x, cin, planes, 3, s.stride, s, s.conv1_pads, 1, s.dilation);
    y = m.op(p + "relu", Op::Relu, {y});
    y = unit(m, p + "conv2", y, planes, planes, 3, 1, s, {}, 1, s.dilation);
    return finish(m, p, y, x, cin, planes, s);
}

std::string bottleneck(GraphMaker& m, const std::string& p, const std::string& x, int64_t cin,
                       int64_t width, int64_t cout, const BlockSpec& s) {
    std::string y = unit(m, p + "conv1", x, cin, width, 1, 1, s);
    y = m.op(p + "relu1", Op::Relu, {y});
    y = unit(m, p + "conv2", y, width, width, 3, s.stride, s, s.conv1_pads, s.group, s.dilation);
    y = m.op(p + "relu2", Op::Relu, {y});
    y = unit(m, p + "conv3", y, width, cout, 1, 1, s);
    return finish(m, p, y, x, cin, cout, s);
}

// stem: conv + relu so that the first block's input is provably non-negative.
std::string stem(GraphMaker& m, int64_t cin, int64_t cout) {
    std::string y = m.conv("stem", "input", cin, cout, 3, 1, {}, 1, 1, true);
    return m.op("stem_relu", Op::Relu, {y});
}

// Converts and checks plain == residual on a random input; returns the transform result.
rm::RmResult convert_and_compare(const rm::Graph& g, const rm::Shape& input_shape,
                                 int expect_converted) {
    rm::RmResult r = rm::rm_transform(g);
    CHECK(r.converted == expect_converted);
    auto cmp = passtest::compare_outputs(g, r.plain, passtest::random_input(input_shape));
    CHECK(cmp.max_abs_ref > 0.1);
    CHECK(cmp.max_abs_diff <= 1e-4 * cmp.max_abs_ref);
    return r;
}

}  // namespace

TEST_CASE("BasicBlocks are found in BN-kept and BN-fused form, either Add order") {
    for (bool bn : {true, false})
        for (bool swap : {false, true}) {
            CAPTURE(bn);
            CAPTURE(swap);
            GraphMaker m({1, 3, 12, 10});
            BlockSpec s;
            s.bn = bn;
            s.swap_add = swap;
            std::string x = stem(m, 3, 8);
            x = basic(m, "b1.", x, 8, 8, s);
            BlockSpec down = s;
            down.stride = 2;
            x = basic(m, "b2.", x, 8, 16, down);
            m.output(x);
            auto blocks = rm::find_residual_blocks(m.g);
            REQUIRE(blocks.size() == 2);
            CHECK(blocks[0].name == "b1");
            CHECK(blocks[0].kind == ResidualBlock::Kind::Basic);
            CHECK(blocks[0].input == "stem_relu");
            CHECK(blocks[0].output == "b1.relu_out");
            CHECK(blocks[0].shortcut_nodes.empty());
            CHECK(blocks[0].input_non_negative);
            CHECK(blocks[0].convertible);
            CHECK(blocks[1].stride == 2);
            CHECK(blocks[1].shortcut_nodes.at(0) == "b2.downsample");
            CHECK(blocks[1].input == "b1.relu_out");
            CHECK(blocks[1].convertible);
            auto r = convert_and_compare(m.g, {1, 3, 12, 10}, 2);
            CHECK(passtest::count_op(r.plain, Op::Add) == 0);
        }
}

TEST_CASE("Bottlenecks with identity and projection shortcuts convert exactly") {
    for (bool bn : {true, false}) {
        CAPTURE(bn);
        GraphMaker m({2, 3, 11, 9});
        BlockSpec s;
        s.bn = bn;
        s.force_projection = true;
        std::string x = stem(m, 3, 8);
        x = bottleneck(m, "l1.0.", x, 8, 4, 16, s);
        BlockSpec id = s;
        id.force_projection = false;
        x = bottleneck(m, "l1.1.", x, 16, 4, 16, id);
        BlockSpec down = id;
        down.stride = 2;
        down.swap_add = true;
        x = bottleneck(m, "l2.0.", x, 16, 8, 32, down);
        m.output(x);
        auto blocks = rm::find_residual_blocks(m.g);
        REQUIRE(blocks.size() == 3);
        for (const auto& b : blocks) {
            CHECK(b.kind == ResidualBlock::Kind::Bottleneck);
            CHECK(b.convertible);
        }
        CHECK(blocks[2].stride == 2);
        auto r = convert_and_compare(m.g, {2, 3, 11, 9}, 3);
        CHECK(passtest::count_op(r.plain, Op::Add) == 0);
        // The middle conv of l1.1 is dense over Cin + w channels.
        const rm::Node* mid = r.plain.find_node("l1.1.conv2.rm");
        REQUIRE(mid);
        CHECK(*r.plain.initializer_shape(mid->inputs[1]) == rm::Shape{20, 20, 3, 3});
    }
}

TEST_CASE("a block whose input may be negative converts with an identity reserve") {
    GraphMaker m({1, 3, 8, 8});
    std::string x = m.conv("stem", "input", 3, 8, 3, 1, {}, 1, 1, true);  // no ReLU
    x = basic(m, "b1.", x, 8, 8, BlockSpec{});
    x = basic(m, "b2.", x, 8, 8, BlockSpec{});
    m.output(x);
    auto blocks = rm::find_residual_blocks(m.g);
    REQUIRE(blocks.size() == 2);
    CHECK_FALSE(blocks[0].input_non_negative);
    CHECK(blocks[0].convertible);
    CHECK(blocks[1].input_non_negative);  // b1's final ReLU

    rm::RmResult r = convert_and_compare(m.g, {1, 3, 8, 8}, 2);
    CHECK(passtest::count_op(r.plain, Op::Add) == 0);
    // b1's inner ReLU keeps the reserved copy: a PRelu with slope 1 there, 0 elsewhere.
    const rm::Node* act = r.plain.find_node("b1.relu.rm");
    REQUIRE(act);
    CHECK(act->op == Op::PRelu);
    const rm::Tensor& slope = r.plain.initializers.at(act->inputs[1]);
    REQUIRE(slope.size() == 16);
    for (int64_t c = 0; c < 16; ++c) CHECK(slope.data[c] == (c < 8 ? 1.0f : 0.0f));
    // b2's input is non-negative: a plain ReLU, as in any post-activation ResNet.
    CHECK(r.plain.find_node("b2.relu.rm")->op == Op::Relu);
}

TEST_CASE("a graph-input block input converts too") {
    GraphMaker m({1, 8, 6, 6});
    std::string x = basic(m, "b.", "input", 8, 8, BlockSpec{});
    m.output(x);
    auto blocks = rm::find_residual_blocks(m.g);
    REQUIRE(blocks.size() == 1);
    CHECK_FALSE(blocks[0].input_non_negative);
    CHECK(blocks[0].convertible);
    convert_and_compare(m.g, {1, 8, 6, 6}, 1);
}

TEST_CASE("padding that does not centre the strided conv is refused with the reason") {
    GraphMaker m({1, 3, 12, 12});
    std::string x = stem(m, 3, 8);
    BlockSpec s;
    s.stride = 2;
    s.conv1_pads = {0, 0, 1, 1};  // SAME_UPPER-style: output i reads input 2i+1
    x = basic(m, "b.", x, 8, 16, s);
    m.output(x);
    auto blocks = rm::find_residual_blocks(m.g);
    REQUIRE(blocks.size() == 1);
    CHECK_FALSE(blocks[0].convertible);
    CHECK(blocks[0].reason.find("pads") != std::string::npos);
    CHECK(blocks[0].reason.find("b.conv1") != std::string::npos);
    rm::RmResult r = convert_and_compare(m.g, {1, 3, 12, 12}, 0);
    CHECK(passtest::count_op(r.plain, Op::Add) == 1);
}

TEST_CASE("dilated convs convert when centred and are refused otherwise") {
    GraphMaker m({1, 3, 13, 11});
    std::string x = stem(m, 3, 8);
    BlockSpec s;
    s.dilation = 2;  // pads 2: centred
    x = basic(m, "ok.", x, 8, 8, s);
    m.output(x);
    convert_and_compare(m.g, {1, 3, 13, 11}, 1);

    GraphMaker bad({1, 3, 13, 11});
    std::string y = stem(bad, 3, 8);
    BlockSpec off;
    off.dilation = 2;
    off.conv1_pads = {1, 1, 3, 3};  // same output size, but shifted by one pixel
    y = basic(bad, "bad.", y, 8, 8, off);
    bad.output(y);
    auto blocks = rm::find_residual_blocks(bad.g);
    REQUIRE(blocks.size() == 1);
    CHECK_FALSE(blocks[0].convertible);
    CHECK(blocks[0].reason.find("pads") != std::string::npos);
}

TEST_CASE("grouped 3x3 (ResNeXt) converts with reserved whole groups, zero-padded if need be") {
    GraphMaker m({1, 3, 10, 10});
    std::string x = stem(m, 3, 16);
    BlockSpec s;
    s.group = 4;  // width 16 -> 4 channels per group; Cin 16 is a multiple
    s.force_projection = true;
    x = bottleneck(m, "x1.", x, 16, 16, 32, s);
    BlockSpec down = s;
    down.force_projection = false;
    down.stride = 2;
    x = bottleneck(m, "x2.", x, 32, 16, 64, down);
    m.output(x);
    auto blocks = rm::find_residual_blocks(m.g);
    REQUIRE(blocks.size() == 2);
    CHECK(blocks[0].groups == 4);
    CHECK(blocks[0].convertible);
    rm::RmResult r = convert_and_compare(m.g, {1, 3, 10, 10}, 2);
    const rm::Node* mid = r.plain.find_node("x1.conv2.rm");
    REQUIRE(mid);
    CHECK(mid->attrs.group == 4 + 16 / 4);
    CHECK(*r.plain.initializer_shape(mid->inputs[1]) == rm::Shape{32, 4, 3, 3});

    GraphMaker odd({1, 3, 10, 10});
    std::string y = stem(odd, 3, 6);
    BlockSpec g;
    g.group = 2;  // width 8 -> 4 channels per group; Cin 6 is padded to 8
    y = bottleneck(odd, "y.", y, 6, 8, 6, g);
    odd.output(y);
    auto padded = rm::find_residual_blocks(odd.g);
    REQUIRE(padded.size() == 1);
    CHECK(padded[0].convertible);
    CHECK(padded[0].padding_channels == 2);
    rm::RmResult rp = convert_and_compare(odd.g, {1, 3, 10, 10}, 1);
    const rm::Node* pm = rp.plain.find_node("y.conv2.rm");
    REQUIRE(pm);
    CHECK(pm->attrs.group == 2 + 8 / 4);
    CHECK(*rp.plain.initializer_shape(pm->inputs[1]) == rm::Shape{16, 4, 3, 3});
}

TEST_CASE("Identity nodes inside a block do not hide it") {
    GraphMaker m({1, 3, 8, 8});
    std::string x = stem(m, 3, 8);
    x = m.op("pass", Op::Identity, {x});
    x = basic(m, "b.", x, 8, 8, BlockSpec{});
    m.output(x);
    auto blocks = rm::find_residual_blocks(m.g);
    REQUIRE(blocks.size() == 1);
    CHECK(blocks[0].convertible);
    rm::RmResult r = convert_and_compare(m.g, {1, 3, 8, 8}, 1);
    CHECK(passtest::count_op(r.plain, Op::Identity) == 0);
}
