// Finding structure in conv weights (describe_conv, conv_regions) and checking it
// (check_structure): on RM outputs, hand-built edge cases and near-Dirac kernels.
#include "rm/conv_structure.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "conv_structure_test_util.hpp"
#include "rm/error.hpp"
#include "rm/resnet_builder.hpp"
#include "rm/rm_transform.hpp"

using namespace rm;
using namespace structtest;

namespace {

// True when some kernel of a block is all zeros (describe_conv leaves those out of blocks).
bool has_zero_kernel(const ConvStructure& s) {
    for (const auto& b : s.blocks) {
        const Tensor& w = *b.weight;
        const int64_t taps = w.shape[2] * w.shape[3];
        for (int64_t k = 0; k < w.size() / taps; ++k)
            if (std::all_of(w.ptr() + k * taps, w.ptr() + (k + 1) * taps,
                            [](float v) { return v == 0.0f; }))
                return true;
    }
    return false;
}

// True when some input channel is read by no block and no Dirac entry: the zero channels RM pads
// a reserved copy with up to whole groups. describe_conv sees those columns as zeros and may
// describe the blocks around them differently (still the same weight, checked bit for bit).
bool leaves_inputs_unread(const ConvStructure& s) {
    std::vector<bool> read(static_cast<size_t>(s.shape[1] * s.group), false);
    for (const auto& b : s.blocks)
        for (int64_t i = b.in_begin; i < b.in_end; ++i) read.at(static_cast<size_t>(i)) = true;
    for (const auto& d : s.diracs) read.at(static_cast<size_t>(d.in)) = true;
    return std::find(read.begin(), read.end(), false) != read.end();
}

std::vector<ConvRegion> regions_of(const Tensor& w, int64_t group, const Tensor* bias = nullptr) {
    return conv_regions(describe_conv(w, group), bias);
}

bool has_region(const std::vector<ConvRegion>& r, RegionKind kind, int64_t out0, int64_t out1,
                int64_t in0, int64_t in1) {
    for (const auto& x : r)
        if (x.kind == kind && x.out_begin == out0 && x.out_end == out1 && x.in_begin == in0 &&
            x.in_end == in1)
            return true;
    return false;
}

int count_kind(const std::vector<ConvRegion>& r, RegionKind kind) {
    int n = 0;
    for (const auto& x : r) n += x.kind == kind;
    return n;
}

}  // namespace

TEST_CASE(
    "RM records blocks and Dirac entries; describe_conv finds them again in the dense weight") {
    int structured = 0;
    for (const auto& [name, plain] : plain_models()) {
        CAPTURE(name);
        for (const auto& [wname, s] : plain.structured_weights) {
            CAPTURE(wname);
            ++structured;
            CHECK_NOTHROW(check_structure(s, wname));
            const Tensor dense = materialise(s);
            const ConvStructure found = describe_conv(dense, s.group);
            CHECK_NOTHROW(check_structure(found, wname));
            const Tensor back = materialise(found);
            CHECK(std::equal(back.data.begin(), back.data.end(), dense.data.begin()));
            // A 1x1 conv's projection merge is indistinguishable from the block beside it: the
            // dense weight is one full block there; a block with zero columns (a shortcut scaled
            // by 0) is found as narrower blocks. Everywhere else: the same description.
            const bool merged_1x1 = s.shape[2] == 1 && s.diracs.empty();
            const bool padded = leaves_inputs_unread(s);
            // A grouped first conv widened by RM keeps its groups inside one block; the dense
            // weight reads as one block per group (the same weight, checked above).
            const bool grouped_inside = std::any_of(
                s.blocks.begin(), s.blocks.end(), [](const DenseBlock& b) { return b.group > 1; });
            if (merged_1x1)
                CHECK((is_plain_dense(found) || has_zero_kernel(s) || padded));
            else if (!has_zero_kernel(s) && !padded && !grouped_inside)
                CHECK(same_structure(found, s));
            // Streaming in pieces gives the same values.
            std::vector<float> rows(dense.data.size());
            const int64_t oc = s.out_channels(), per = dense.size() / oc;
            for (int64_t r0 = 0; r0 < oc; r0 += 3)
                materialise_rows(s, r0, std::min(oc, r0 + 3), rows.data() + r0 * per);
            CHECK(std::memcmp(rows.data(), dense.ptr(), rows.size() * sizeof(float)) == 0);
        }
    }
    CHECK(structured > 40);
}

TEST_CASE("regions of the RM convs: reserved copies, identity merges, projection merges") {
    ResNetConfig c;
    c.input_height = c.input_width = 40;
    c.base_width = 8;
    c.num_classes = 10;
    c.arch = "resnet18";
    RmResult basic = rm_transform(build_resnet(c));
    auto regions = [](const Graph& g, const std::string& node) {
        const Node* n = g.find_node(node);
        REQUIRE(n);
        const ConvStructure* s = g.structure(n->inputs[1]);
        REQUIRE(s);
        return conv_regions(*s, &g.initializers.at(n->inputs[2]));
    };
    // BasicBlock, 8 channels: conv1' copies x into [0, 8), then the folded conv1.
    auto r = regions(basic.plain, "layer1.0.conv1.rm");
    CHECK(r.size() == 2);
    CHECK(has_region(r, RegionKind::Block, 8, 16, 0, 8));
    CHECK(has_region(r, RegionKind::Copy, 0, 8, 0, 8));
    // conv2' with an identity shortcut: the folded conv2 over [8, 16) plus a merge of [0, 8).
    r = regions(basic.plain, "layer1.0.conv2.rm");
    CHECK(r.size() == 2);
    CHECK(has_region(r, RegionKind::Block, 0, 8, 8, 16));
    CHECK(has_region(r, RegionKind::Merge, 0, 8, 0, 8));
    // conv2' with a projection shortcut: a centre-only block over the reserved 8 channels.
    r = regions(basic.plain, "layer2.0.conv2.rm");
    CHECK(r.size() == 2);
    CHECK(has_region(r, RegionKind::Block, 0, 16, 0, 8));
    CHECK(basic.plain.structure(basic.plain.find_node("layer2.0.conv2.rm")->inputs[1])
              ->blocks[0]
              .centre_only);
    CHECK(has_region(r, RegionKind::Block, 0, 16, 8, 24));

    c.arch = "resnet50";
    RmResult bottleneck = rm_transform(build_resnet(c));
    // Bottleneck layer2.0 (input 32 channels, width 16): the middle conv copies the reserved 32
    // channels (stride 2) and has zero cross blocks; only the folded conv2 is multiplied.
    r = regions(bottleneck.plain, "layer2.0.conv2.rm");
    CHECK(r.size() == 2);
    CHECK(has_region(r, RegionKind::Copy, 0, 32, 0, 32));
    CHECK(has_region(r, RegionKind::Block, 32, 48, 32, 48));
}

TEST_CASE("near-Dirac kernels are not copies: exact comparisons only") {
    const float one_plus = std::nextafter(1.0f, 2.0f);  // 1 + 1.19e-7: what 1 + 1e-7 rounds to
    const int64_t c = 4;                                // centre tap of a 3x3 kernel
    Tensor w = weight_with({7, 7, 3, 3}, {
                                             {0, 0, c, 1.0f},      // a copy
                                             {1, 1, 0, 1.0f},      // a 1 off the centre
                                             {2, 2, c, one_plus},  // not exactly 1
                                             {3, 3, c, 1.0f},      // ... with a bias below
                                             {4, 4, c, 1.0f},      // a tiny value elsewhere
                                             {4, 6, c, 1e-30f},    // (another centre)
                                             {5, 5, c, 1.0f},      // a tiny value off-centre
                                             {5, 6, 8, 1e-30f},    //
                                             {6, 0, c, -0.0f},     // -0.0 is zero: a zero row
                                         });
    Tensor bias(Shape{7});
    bias.data[3] = 1e-30f;
    const ConvStructure s = describe_conv(w, 1);
    CHECK_NOTHROW(check_structure(s, "w"));
    auto r = conv_regions(s, &bias);
    CHECK(has_region(r, RegionKind::Copy, 0, 1, 0, 1));
    CHECK(has_region(r, RegionKind::Block, 1, 2, 1, 2));  // the off-centre 1 is multiplied
    CHECK(has_region(r, RegionKind::ScaledCopy, 2, 3, 2, 3));
    for (const auto& x : r)
        if (x.kind == RegionKind::ScaledCopy) CHECK(x.scale == one_plus);
    // Row 3 adds its 1 to a bias; rows 4 and 5 add theirs to a block that multiplies the tiny
    // values (input channel 6 has two of them, so it is no merge column): one run of merges.
    CHECK(has_region(r, RegionKind::Merge, 3, 6, 3, 6));
    CHECK(has_region(r, RegionKind::Block, 4, 5, 6, 7));
    CHECK(s.blocks[1].centre_only);
    CHECK(has_region(r, RegionKind::Block, 5, 6, 6, 7));
    CHECK(has_region(r, RegionKind::Zero, 6, 7, 0, 0));
    CHECK(count_kind(r, RegionKind::Copy) == 1);
    // The description holds every value exactly (-0.0 comes back as 0.0, the same value).
    const Tensor back = materialise(s);
    for (size_t i = 0; i < w.data.size(); ++i) CHECK(back.data[i] == w.data[i]);

    // Without the bias, row 3 is a copy too; with no bias at all, the same.
    CHECK(count_kind(conv_regions(s, nullptr), RegionKind::Copy) == 2);

    // A merge column with a tiny value in another row is a centre-only block, not a merge.
    Tensor m = weight_with({2, 3, 3, 3}, {{0, 0, c, 1.0f},
                                          {1, 0, c, 1e-30f},
                                          {0, 1, 0, 0.5f},
                                          {0, 2, 0, 0.5f},
                                          {1, 1, 0, 0.5f},
                                          {1, 2, 0, 0.5f}});
    r = regions_of(m, 1);
    CHECK(count_kind(r, RegionKind::Merge) == 0);
    CHECK(has_region(r, RegionKind::Block, 0, 2, 0, 1));
    CHECK(describe_conv(m, 1).blocks[0].centre_only);
    CHECK(has_region(r, RegionKind::Block, 0, 2, 1, 3));
}

TEST_CASE("hand-built structures: grouped, depthwise, 1x1, partial groups") {
    const int64_t c = 4;
    // Depthwise 3x3 with 3 reserved Dirac channels first (an inverted residual's depthwise').
    Tensor dw(Shape{7, 1, 3, 3});
    for (int64_t o = 0; o < 3; ++o) dw.data[o * 9 + c] = 1.0f;
    for (int64_t o = 3; o < 7; ++o)
        for (int64_t t = 0; t < 9; ++t) dw.data[o * 9 + t] = 0.1f * float(o + t + 1);
    ConvStructure s = describe_conv(dw, 7);
    REQUIRE(s.blocks.size() == 1);
    CHECK(s.blocks[0].group == 4);
    CHECK(s.blocks[0].in_begin == 3);
    CHECK(s.diracs.size() == 3);
    auto r = conv_regions(s, nullptr);
    CHECK(has_region(r, RegionKind::Copy, 0, 3, 0, 3));

    // Group 2 over [4, 2, 3, 3]: group 0 full, group 1 has one zero input channel: per-group
    // blocks, the second over one input channel only.
    Tensor g(Shape{4, 2, 3, 3}, 0.25f);
    for (int64_t o = 2; o < 4; ++o)
        for (int64_t t = 0; t < 9; ++t) g.data[(o * 2 + 1) * 9 + t] = 0.0f;
    s = describe_conv(g, 2);
    CHECK_NOTHROW(check_structure(s, "g"));
    REQUIRE(s.blocks.size() == 2);
    CHECK((s.blocks[0].out_begin == 0 && s.blocks[0].out_end == 2 && s.blocks[0].in_end == 2));
    CHECK((s.blocks[1].out_begin == 2 && s.blocks[1].in_begin == 2 && s.blocks[1].in_end == 3));
    CHECK(same_bits(materialise(s), g));

    // A dense conv is one full block; a 1x1 identity merge is found in a 1x1 conv too.
    CHECK(is_plain_dense(describe_conv(Tensor(Shape{3, 2, 3, 3}, 0.5f), 1)));
    Tensor p = weight_with({2, 4, 1, 1}, {{0, 0, 0, 1.0f},
                                          {1, 1, 0, 1.0f},
                                          {0, 2, 0, 0.5f},
                                          {0, 3, 0, 0.5f},
                                          {1, 2, 0, 0.5f},
                                          {1, 3, 0, 0.5f}});
    r = regions_of(p, 1);
    CHECK(has_region(r, RegionKind::Merge, 0, 2, 0, 2));
    CHECK(has_region(r, RegionKind::Block, 0, 2, 2, 4));
    CHECK_FALSE(describe_conv(p, 1).blocks[0].centre_only);  // 1x1: a plain block

    CHECK_THROWS_AS(describe_conv(Tensor(Shape{3, 2, 3}), 1), Error);
    CHECK_THROWS_AS(describe_conv(Tensor(Shape{3, 2, 3, 3}), 2), Error);
}

TEST_CASE("check_structure refuses inconsistent structures") {
    auto block = [](int64_t o0, int64_t o1, int64_t i0, int64_t i1, int64_t k) {
        return DenseBlock{
            o0, o1, i0, i1, 1, false, std::make_shared<Tensor>(Shape{o1 - o0, i1 - i0, k, k})};
    };
    ConvStructure s;
    s.shape = {4, 4, 3, 3};
    s.blocks = {block(2, 4, 2, 4, 3)};
    s.diracs = {{0, 0, 1.0f}, {1, 1, 1.0f}};
    CHECK_NOTHROW(check_structure(s, "ok"));
    ConvStructure bad = s;
    bad.blocks.push_back(block(3, 4, 3, 4, 3));
    CHECK_THROWS_WITH_AS(check_structure(bad, "w"), doctest::Contains("overlaps"), Error);
    bad = s;
    bad.blocks = {block(2, 5, 2, 4, 3)};
    CHECK_THROWS_WITH_AS(check_structure(bad, "w"), doctest::Contains("outside"), Error);
    bad = s;
    bad.blocks = {block(2, 4, 2, 4, 1)};
    CHECK_THROWS_WITH_AS(check_structure(bad, "w"), doctest::Contains("shape"), Error);
    bad = s;
    bad.diracs = {{1, 1, 1.0f}, {0, 0, 1.0f}};
    CHECK_THROWS_WITH_AS(check_structure(bad, "w"), doctest::Contains("sorted"), Error);
    bad = s;
    bad.diracs.push_back({3, 3, 1.0f});
    CHECK_THROWS_WITH_AS(check_structure(bad, "w"), doctest::Contains("inside a block"), Error);
    bad = s;
    bad.shape = {4, 2, 3, 3};
    bad.group = 2;
    bad.blocks = {DenseBlock{1, 3, 0, 2, 1, false, std::make_shared<Tensor>(Shape{2, 2, 3, 3})}};
    bad.diracs.clear();
    CHECK_THROWS_WITH_AS(check_structure(bad, "w"), doctest::Contains("straddles"), Error);
    bad.blocks.clear();
    bad.diracs = {{0, 3, 1.0f}};
    CHECK_THROWS_WITH_AS(check_structure(bad, "w"), doctest::Contains("groups"), Error);
}
