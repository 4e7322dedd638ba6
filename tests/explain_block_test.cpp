#include "rm/explain_block.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "rm/error.hpp"
#include "rm/fold_batchnorm.hpp"
#include "rm/onnx_io.hpp"
#include "rm/resnet_builder.hpp"
#include "rm/shape_inference.hpp"

using namespace rm;

namespace {

struct Converted {
    Graph residual;
    RmResult rm;
    GraphCost residual_cost, plain_cost;
};

Converted convert(const std::string& spec) {
    Converted c;
    c.residual = build_resnet(*parse_builtin_spec(spec));
    c.rm = rm_transform(c.residual);
    c.residual_cost = compute_cost(c.residual, infer_shapes(c.residual));
    c.plain_cost = compute_cost(c.rm.plain, infer_shapes(c.rm.plain));
    return c;
}

BlockExplanation explain(const Converted& c, const std::string& block) {
    return explain_block(c.residual, c.residual_cost, c.rm, c.plain_cost, block);
}

const WeightPart* find_part(const ExplainedConv& c, WeightPartKind kind) {
    for (const auto& p : c.parts)
        if (p.kind == kind) return &p;
    return nullptr;
}

int count_parts(const ExplainedConv& c, WeightPartKind kind) {
    return int(std::count_if(c.parts.begin(), c.parts.end(),
                             [&](const WeightPart& p) { return p.kind == kind; }));
}

// The dense [out, in, kh, kw] weight of `c` (group 1).
Tensor dense(const ExplainedConv& c) {
    return materialise(c.weight);
}

// Every value of the part's rectangle, in dense-weight order.
std::vector<float> values_in(const Tensor& w, const WeightPart& p) {
    const int64_t in = w.shape[1], taps = w.shape[2] * w.shape[3];
    std::vector<float> v;
    for (int64_t o = p.out_begin; o < p.out_end; ++o)
        for (int64_t i = p.in_begin; i < p.in_end; ++i)
            for (int64_t t = 0; t < taps; ++t) v.push_back(w.data[(o * in + i) * taps + t]);
    return v;
}

// The parts tile the weight: every (out, in) cell in exactly one part.
void check_tiling(const ExplainedConv& c) {
    const int64_t outs = c.weight.out_channels(), ins = c.weight.in_channels();
    std::vector<int> covered(size_t(outs * ins), 0);
    for (const auto& p : c.parts)
        for (int64_t o = p.out_begin; o < p.out_end; ++o)
            for (int64_t i = p.in_begin; i < p.in_end; ++i) ++covered[size_t(o * ins + i)];
    CHECK(std::all_of(covered.begin(), covered.end(), [](int k) { return k == 1; }));
}

}  // namespace

TEST_CASE("a BasicBlock with identity shortcut: Dirac rows, identity merge, twice the MACs") {
    Converted c = convert("builtin:resnet18?size=32x32&classes=10&width=8");
    BlockExplanation e = explain(c, "layer1.0");
    REQUIRE(e.steps.size() == 4);
    const int64_t cin = e.in_channels;
    CHECK(cin == 8);
    // Step 1: the raw convs; step 2: folded with their BN (exactly fold_batchnorm's values).
    REQUIRE(e.steps[0].convs.size() == 2);
    CHECK(e.steps[0].convs[0].node == "layer1.0.conv1");
    CHECK(e.steps[0].convs[0].parts[0].source_bn.empty());
    CHECK(e.steps[1].convs[0].parts[0].source_bn == "layer1.0.bn1");
    const ExplainedConv& conv1 = e.steps[3].convs[0];
    REQUIRE(conv1.plain);
    // The reserved rows are the mapping's reserved range, copying the block input.
    const WeightPart* copy = find_part(conv1, WeightPartKind::ReservedCopy);
    REQUIRE(copy);
    const auto& channels = c.rm.mapping.at(conv1.node).channels;
    REQUIRE(channels.size() == 2);
    CHECK(channels[0].reserved);
    CHECK(copy->out_begin == channels[0].begin);
    CHECK(copy->out_end == channels[0].end);
    CHECK(copy->in_begin == 0);
    CHECK(copy->in_end == cin);
    CHECK(copy->source_weight == e.block.input);
    const WeightPart* orig = find_part(conv1, WeightPartKind::Original);
    REQUIRE(orig);
    CHECK(orig->out_begin == channels[1].begin);
    CHECK(orig->source_conv == "layer1.0.conv1");
    Tensor w1 = dense(conv1);
    // A Dirac row: 1 at the centre of its own channel, 0 elsewhere.
    std::vector<float> dirac = values_in(w1, *copy);
    CHECK(std::count(dirac.begin(), dirac.end(), 1.0f) == cin);
    CHECK(std::count(dirac.begin(), dirac.end(), 0.0f) == int64_t(dirac.size()) - cin);
    // The folded block of conv1' is step 2's folded conv1, value for value.
    CHECK(values_in(w1, *orig) ==
          std::vector<float>(e.steps[1].convs[0].weight.blocks[0].weight->data.begin(),
                             e.steps[1].convs[0].weight.blocks[0].weight->data.end()));
    check_tiling(conv1);

    const ExplainedConv& conv2 = e.steps[3].convs[1];
    const WeightPart* merge = find_part(conv2, WeightPartKind::IdentityMerge);
    REQUIRE(merge);
    CHECK(merge->in_begin == 0);
    CHECK(merge->in_end == cin);
    CHECK(merge->out_end - merge->out_begin == cin);
    CHECK(count_parts(conv2, WeightPartKind::Zero) == 0);
    check_tiling(conv2);
    // RM.md: an identity BasicBlock costs exactly twice the MACs once converted.
    CHECK(e.steps[3].cost.macs == 2 * e.steps[1].cost.macs);
    CHECK(e.steps[0].cost.params > e.steps[1].cost.params);  // BN's four vectors per conv go
}

TEST_CASE("a Bottleneck with projection: zero cross blocks, the folded 1x1 as merge columns") {
    Converted c = convert("builtin:resnet50?size=32x32&classes=10&width=8");
    BlockExplanation e = explain(c, "layer2.0");
    const int64_t cin = e.in_channels;
    CHECK(e.block.projection);
    REQUIRE(e.steps[3].convs.size() == 3);
    // Step 3 shows the two reserve convs and the folded last and shortcut convs.
    CHECK(e.steps[2].convs.size() == 4);
    const ExplainedConv& mid = e.steps[3].convs[1];
    CHECK(count_parts(mid, WeightPartKind::ReservedCopy) == 1);
    REQUIRE(count_parts(mid, WeightPartKind::Zero) == 2);
    const int64_t w = mid.weight.out_channels() - cin;
    for (const auto& p : mid.parts) {
        if (p.kind != WeightPartKind::Zero) continue;
        bool top_right =
            p.out_begin == 0 && p.out_end == cin && p.in_begin == cin && p.in_end == cin + w;
        bool bottom_left =
            p.out_begin == cin && p.out_end == cin + w && p.in_begin == 0 && p.in_end == cin;
        CHECK((top_right || bottom_left));
        std::vector<float> v = values_in(dense(mid), p);
        CHECK(std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; }));
    }
    check_tiling(mid);

    const ExplainedConv& last = e.steps[3].convs[2];
    const WeightPart* proj = find_part(last, WeightPartKind::ProjectionMerge);
    REQUIRE(proj);
    CHECK(proj->source_conv == "layer2.0.downsample.0");
    CHECK(proj->source_bn == "layer2.0.downsample.1");
    CHECK(proj->in_begin == 0);
    CHECK(proj->in_end == cin);
    // Its values are the shortcut's folded 1x1 weights at the centre tap, zero elsewhere.
    const Node* sc = c.residual.find_node("layer2.0.downsample.0");
    const Node* bn = c.residual.find_node("layer2.0.downsample.1");
    Tensor folded = folded_weight(c.residual, *sc, bn);
    Tensor wl = dense(last);
    const int64_t ins = wl.shape[1], taps = wl.shape[2] * wl.shape[3], centre = taps / 2;
    CHECK(taps == 1);  // torchvision's Bottleneck merges into its last 1x1 conv
    int64_t mismatches = 0;
    for (int64_t o = 0; o < wl.shape[0]; ++o)
        for (int64_t i = 0; i < cin; ++i)
            for (int64_t t = 0; t < taps; ++t) {
                float want = t == centre ? folded.data[o * cin + i] : 0.0f;
                mismatches += wl.data[(o * ins + i) * taps + t] != want;
            }
    CHECK(mismatches == 0);
    check_tiling(last);
    // Every part holds what it says, recomputed from the residual graph.
    for (const auto& conv : e.steps[3].convs)
        for (const auto& p : conv.parts) CHECK(part_difference(c.residual, conv, p) == 0.0);
    CHECK(e.steps[3].cost.macs > e.steps[1].cost.macs);
}

TEST_CASE("unknown or unconverted blocks are refused with a reason") {
    Converted c = convert("builtin:resnet18?size=32x32&classes=10&width=8");
    CHECK_THROWS_AS(explain(c, "layer9.9"), Error);
    CHECK(block_of_residual_node(c.rm, "layer1.0.conv2") == "layer1.0");
    CHECK(block_of_residual_node(c.rm, "conv1") == "");
}

TEST_CASE("kernel_row reads one output channel's kernels over an input range") {
    ConvStructure s;
    s.shape = {2, 3, 3, 3};
    s.diracs = {{0, 1, 1.0f}, {1, 2, 0.5f}};
    std::vector<float> r = kernel_row(s, 1, 1, 3);
    REQUIRE(r.size() == 18);
    CHECK(r[9 + 4] == 0.5f);
    CHECK(std::count(r.begin(), r.end(), 0.0f) == 17);
}

TEST_CASE("part_difference finds a value that is not where its part says") {
    Converted c = convert("builtin:resnet18?size=32x32&classes=10&width=8");
    BlockExplanation e = explain(c, "layer2.0");
    ExplainedConv last = e.steps[3].convs[1];
    for (const auto& p : last.parts) CHECK(part_difference(c.residual, last, p) == 0.0);
    const WeightPart* proj = find_part(last, WeightPartKind::ProjectionMerge);
    REQUIRE(proj);
    // Nudge one projection weight: its part no longer equals the folded 1x1 weights.
    for (auto& b : last.weight.blocks)
        if (b.centre_only) {
            auto t = std::make_shared<Tensor>(*b.weight);
            t->data[3] += 0.25f;
            b.weight = t;
        }
    CHECK(part_difference(c.residual, last, *proj) == doctest::Approx(0.25).epsilon(1e-6));
}

TEST_CASE("a grouped Bottleneck (ResNeXt): every part of every step holds what it says") {
    Converted c;
    c.residual =
        load_onnx(std::string(RMVK_FIXTURE_DIR) + "/pytorch/resnext_kept_op17_b1_33x47.onnx");
    c.rm = rm_transform(c.residual);
    c.residual_cost = compute_cost(c.residual, infer_shapes(c.residual));
    c.plain_cost = compute_cost(c.rm.plain, infer_shapes(c.rm.plain));
    REQUIRE(!c.rm.blocks.empty());
    int grouped = 0;
    for (const auto& b : c.rm.blocks) {
        if (!b.convertible) continue;
        BlockExplanation e = explain(c, b.name);
        for (const auto& step : e.steps)
            for (const auto& conv : step.convs) {
                grouped += conv.weight.group > 1;
                if (conv.plain) check_tiling(conv);
                for (const auto& p : conv.parts) CHECK(part_difference(c.residual, conv, p) == 0.0);
            }
    }
    CHECK(grouped > 0);
}

namespace {

Converted load_converted(const std::string& fixture) {
    Converted c;
    c.residual = load_onnx(std::string(RMVK_FIXTURE_DIR) + "/pytorch/" + fixture);
    c.rm = rm_transform(c.residual);
    c.residual_cost = compute_cost(c.residual, infer_shapes(c.residual));
    c.plain_cost = compute_cost(c.rm.plain, infer_shapes(c.rm.plain));
    return c;
}

}  // namespace

TEST_CASE("a pre-activation block: conv0' copies x and applies its BN, every part exact") {
    // BN kept in the file, so conv0' holds the pre-activation BN's scales.
    Converted c = load_converted("rmfam_preact_op13_kept_b2_20x28.onnx");
    int blocks = 0, pre_parts = 0;
    for (const auto& b : c.rm.blocks) {
        REQUIRE(b.convertible);
        if (!b.pre_activation) continue;
        BlockExplanation e = explain(c, b.name);
        ++blocks;
        REQUIRE(e.steps.size() == 4);
        CHECK(e.steps[0].description.find("pre-activation") != std::string::npos);
        const ExplainedConv& conv0 = e.steps[3].convs.at(0);
        CHECK(conv0.plain);
        CHECK(conv0.title.rfind("conv0'", 0) == 0);
        const WeightPart* copy = find_part(conv0, WeightPartKind::ReservedCopy);
        const WeightPart* bn = find_part(conv0, WeightPartKind::PreActivation);
        REQUIRE(copy);
        REQUIRE(bn);
        CHECK(copy->out_begin == 0);
        CHECK(copy->out_end - copy->out_begin == e.in_channels);
        CHECK(bn->in_end - bn->in_begin == e.in_channels);
        CHECK(!bn->source_conv.empty());
        pre_parts += count_parts(conv0, WeightPartKind::PreActivation);
        // The reserved channels survive by the identity clamp, not by x >= 0.
        CHECK(e.steps[2].description.find("identity activation") != std::string::npos);
        for (const auto& step : e.steps)
            for (const auto& conv : step.convs) {
                if (conv.plain) check_tiling(conv);
                for (const auto& p : conv.parts) {
                    INFO(b.name << " " << conv.title << " " << std::string(weight_part_name(p.kind))
                                << " " << p.source_conv << " bn " << p.source_bn);
                    CHECK(part_difference(c.residual, conv, p) == 0.0);
                }
            }
        // Step 4 shows the whole plain chain: conv0' and one conv' per residual main conv.
        const size_t projection = e.steps[1].convs.back().title.rfind("shortcut", 0) == 0;
        CHECK(e.steps[3].convs.size() == e.steps[1].convs.size() - projection + 1);
    }
    CHECK(blocks > 0);
    CHECK(pre_parts > 0);
}

TEST_CASE("part_difference finds a pre-activation scale that is not the BN's") {
    Converted c = load_converted("rmfam_preact_op13_kept_b2_20x28.onnx");
    BlockExplanation e = explain(c, c.rm.blocks.at(0).name);
    ExplainedConv conv0 = e.steps[3].convs.at(0);
    const WeightPart* bn = find_part(conv0, WeightPartKind::PreActivation);
    REQUIRE(bn);
    CHECK(part_difference(c.residual, conv0, *bn) == 0.0);
    for (auto& d : conv0.weight.diracs)
        if (d.out >= bn->out_begin && d.out < bn->out_end) {
            d.scale += 0.125f;
            break;
        }
    CHECK(part_difference(c.residual, conv0, *bn) == doctest::Approx(0.125).epsilon(1e-6));
}

TEST_CASE("an inverted residual explains its reserved channels by the identity clamp") {
    Converted c = load_converted("rmfam_invres_relu6_op13_b2_20x28.onnx");
    int blocks = 0;
    for (const auto& b : c.rm.blocks) {
        if (!b.convertible) continue;
        BlockExplanation e = explain(c, b.name);
        ++blocks;
        CHECK(e.steps[0].description.find("inverted residual") != std::string::npos);
        CHECK(e.steps[2].description.find("x >= 0") == std::string::npos);
        for (const auto& step : e.steps)
            for (const auto& conv : step.convs)
                for (const auto& p : conv.parts) CHECK(part_difference(c.residual, conv, p) == 0.0);
    }
    CHECK(blocks > 0);
}
