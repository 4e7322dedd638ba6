// RM beyond post-activation ResNets, on PyTorch exports (tests/fixtures/make_rm_family_fixtures.py
// and make_family_fixtures.py): inverted residuals with ReLU6 whose pre-activations exceed 6,
// MNASNet blocks, pre-activation blocks (identity, projection of relu(bn1(x)) and of x), grouped
// convs whose group width does not divide the block input. Every block converts, no Add is left,
// and residual and plain both match PyTorch (CPU reference).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "rm/channel_clamp.hpp"
#include "rm/compare.hpp"
#include "rm/cost.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/fuse_linear.hpp"
#include "rm/npy.hpp"
#include "rm/onnx_io.hpp"
#include "rm/resnet_builder.hpp"
#include "rm/rm_transform.hpp"
#include "rm/shape_inference.hpp"

namespace fs = std::filesystem;
using rm::Op;

namespace {

const fs::path kDir = fs::path(RMVK_FIXTURE_DIR) / "pytorch";

int count_op(const rm::Graph& g, Op op) {
    return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(),
                                          [&](const rm::Node& n) { return n.op == op; }));
}

double error_vs_pytorch(const rm::Graph& g, const std::string& stem) {
    const rm::Tensor x = rm::read_npy((kDir / (stem + ".input.npy")).string());
    const rm::Tensor ref = rm::read_npy((kDir / (stem + ".output.npy")).string());
    const rm::Tensor y = rm::run_cpu(g, {{g.inputs.at(0).name, x}}).at(g.outputs.at(0));
    REQUIRE(y.shape == ref.shape);
    const auto c = rm::compare_outputs(ref, y);
    CHECK(c.max_abs_ref > 0.1);
    return c.max_abs_diff / c.max_abs_ref;
}

struct Converted {
    rm::Graph residual;
    rm::RmResult rm;
};

Converted convert_all(const std::string& stem, size_t blocks) {
    CAPTURE(stem);
    Converted c{rm::load_onnx((kDir / (stem + ".onnx")).string()), {}};
    c.rm = rm::rm_transform(c.residual);
    CHECK(c.rm.blocks.size() == blocks);
    for (const auto& b : c.rm.blocks) CHECK_MESSAGE(b.convertible, b.name << ": " << b.reason);
    CHECK(c.rm.converted == static_cast<int>(blocks));
    CHECK(count_op(c.rm.plain, Op::Add) == 0);
    const double res = error_vs_pytorch(c.residual, stem);
    const double plain = error_vs_pytorch(c.rm.plain, stem);
    MESSAGE(stem << ": max|d|/max|ref| residual " << res << ", plain " << plain);
    CHECK(res <= 1e-4);
    CHECK(plain <= 1e-4);
    return c;
}

// The per-channel clamp the plain graph applies to the output of conv node `conv`.
rm::ChannelClamp clamp_after(const rm::Graph& g, const std::string& conv) {
    const rm::Node* n = g.find_node(conv);
    REQUIRE(n);
    const auto shapes = rm::infer_shapes_of(g, 1);
    const int64_t channels = shapes.at(n->outputs[0]).at(1);
    constexpr float kInf = std::numeric_limits<float>::infinity();
    rm::ChannelClamp c = rm::ChannelClamp::uniform(channels, -kInf, kInf);
    std::string t = n->outputs[0];
    for (auto readers = g.consumers(t); readers.size() == 1; readers = g.consumers(t)) {
        auto step = rm::as_channel_clamp(g, *readers[0], channels);
        if (!step) break;
        c = rm::compose(c, *step);
        t = readers[0]->outputs[0];
    }
    return c;
}

}  // namespace

TEST_CASE("inverted residuals with ReLU6: reserved channels identity, originals (0, 6), exact") {
    for (const char* stem :
         {"rmfam_invres_relu6_op13_b2_20x28", "rmfam_invres_relu6_op11_kept_b1_17x23"}) {
        Converted c = convert_all(stem, 3);
        const auto& b = c.rm.blocks[0];
        CHECK_FALSE(b.input_non_negative);
        CHECK(b.relu_node.empty());  // no activation after the Add
        // Block 0 reads 8 channels and expands to 48: expand' and depthwise' carry 8 + 48.
        std::vector<std::string> convs;
        for (const auto& n : c.rm.plain.nodes) {
            auto o = c.rm.mapping.find(n.name);
            if (n.op == Op::Conv && o != c.rm.mapping.end() && o->second.block == b.name)
                convs.push_back(n.name);
        }
        REQUIRE(convs.size() == 3);
        const std::string expand = convs[0], depthwise = convs[1];
        const rm::Node* dw = c.rm.plain.find_node(depthwise);
        CHECK(dw->attrs.group == 56);
        CHECK(*c.rm.plain.initializer_shape(dw->inputs[1]) == rm::Shape{56, 1, 3, 3});
        for (const auto& name : {expand, depthwise}) {
            const rm::ChannelClamp k = clamp_after(c.rm.plain, name);
            REQUIRE(k.channels() == 56);
            for (int64_t ch = 0; ch < 56; ++ch) {
                CAPTURE(ch);
                CHECK(k.lo[ch] == (ch < 8 ? -std::numeric_limits<float>::infinity() : 0.0f));
                CHECK(k.hi[ch] == (ch < 8 ? std::numeric_limits<float>::infinity() : 6.0f));
            }
        }
    }
}

TEST_CASE("inverted residuals: replacing ReLU6 by ReLU on the originals would not be exact") {
    // The fixture's input is large enough that pre-activations exceed 6: lifting the upper
    // bound of the originals' clamps changes the output (what the reference code does).
    Converted c = convert_all("rmfam_invres_relu6_op13_b2_20x28", 3);
    rm::Graph relu = c.rm.plain;
    int lifted = 0;
    for (auto& [name, t] : relu.initializers)
        if (name.size() > 3 && name.compare(name.size() - 3, 3, ".hi") == 0)
            for (float& v : t.data)
                if (v == 6.0f) v = std::numeric_limits<float>::infinity(), ++lifted;
    CHECK(lifted > 0);
    CHECK(error_vs_pytorch(relu, "rmfam_invres_relu6_op13_b2_20x28") > 1e-3);
}

TEST_CASE("MNASNet blocks (ReLU, 3x3 and 5x5 depthwise) convert exactly") {
    Converted c = convert_all("rmfam_mnasnet_op13_kept_b2_24x20", 3);
    CHECK(count_op(c.rm.plain, Op::BatchNormalization) == 0);
    // ReLU with an identity reserve is a PRelu with slopes 1 (reserved) and 0.
    CHECK(count_op(c.rm.plain, Op::PRelu) == 6);
}

TEST_CASE("pre-activation blocks: identity, projection of relu(bn1(x)) and of x") {
    for (const char* stem : {"rmfam_preact_op13_kept_b2_20x28", "rmfam_preact_op17_b1_19x25"}) {
        Converted c = convert_all(stem, 5);
        int pre = 0, projections = 0;
        for (const auto& b : c.rm.blocks) {
            pre += b.pre_activation;
            projections += b.projection;
            CHECK(b.relu_node.empty());
        }
        CHECK(projections == 2);
        // Blocks whose shortcut reads x carry BN-ReLU(x) as a 1x1 conv' (identity, projection
        // of x); the projection of relu(bn1(x)) reads the ReLU's output, x >= 0.
        CHECK(pre == 4);
        CHECK(count_op(c.rm.plain, Op::BatchNormalization) == 0);
    }
    convert_all("rmfam_preact_resnet18_op13_b2_32x40", 8);
}

TEST_CASE("grouped convs whose group width does not divide the input: zero-padded reserve") {
    Converted c = convert_all("rmfam_grouped_op13_b1_24x32", 4);
    const auto& blocks = c.rm.blocks;
    CHECK(blocks[0].padding_channels == 8);  // 16 input channels, 24 per group
    CHECK(blocks[1].padding_channels == 0);  // 48
    CHECK(blocks[2].padding_channels == 0);  // 48, 8 per group
    CHECK(blocks[3].padding_channels == 8);  // 40 -> 48
    // block 0: the middle conv has 2 original groups of 24 and one reserved group (16 + 8 zero).
    const rm::Node* mid = nullptr;
    int convs = 0;
    for (const auto& n : c.rm.plain.nodes) {
        auto o = c.rm.mapping.find(n.name);
        if (n.op == Op::Conv && o != c.rm.mapping.end() && o->second.block == blocks[0].name &&
            ++convs == 2)
            mid = &n;
    }
    REQUIRE(mid);
    CHECK(mid->attrs.group == 3);
    CHECK(*c.rm.plain.initializer_shape(mid->inputs[1]) == rm::Shape{72, 24, 3, 3});
    const auto& ranges = c.rm.mapping.at(mid->name).channels;
    REQUIRE(ranges.size() == 3);
    CHECK(ranges[1].padding);
    CHECK(ranges[1].begin == 16);
    CHECK(ranges[1].end == 24);
    // The padding rows are all zero (weights and bias).
    const rm::Tensor w = c.rm.plain.materialise(mid->inputs[1]);
    for (int64_t i = 16 * 24 * 9; i < 24 * 24 * 9; ++i) CHECK(w.data[i] == 0.0f);

    // torchvision's RegNetX at reduced width.
    convert_all("family_regnet_x_op17_b1_36x44", 4);
}

TEST_CASE("torchvision MobileNetV2 and MNASNet classes (reduced width) convert every block") {
    for (const char* stem :
         {"family_mobilenet_v2_op9_b1_40x48", "family_mobilenet_v2_op13_kept_b2_33x47"}) {
        // At width 0.1 the first block (depthwise 3x3, project) has 8 channels in and out, so
        // it is residual too: its grouped first conv becomes an ungrouped widened conv.
        Converted c = convert_all(stem, 11);
        CHECK(c.rm.blocks[0].kind == rm::ResidualBlock::Kind::Basic);
    }
    convert_all("family_mnasnet_op13_b2_40x40", 10);
}

TEST_CASE("builtin families at 224x224: MACs before RM, after RM and after linear fusion") {
    struct Expect {
        const char* arch;
        int blocks;
        bool fuse;  // rmvk convert's default: on when an inverted residual converted
        int64_t before, after, fused;  // millions of MACs (README "Families beyond ResNets")
    } expect[] = {{"mobilenet_v2", 10, true, 300, 326, 848},
                  {"mnasnet1_0", 10, true, 314, 350, 831},
                  {"regnet_x_400mf", 22, false, 413, 763, 763},
                  {"regnet_x_1_6gf", 18, false, 1602, 2886, 2886}};
    for (const auto& e : expect) {
        const std::string arch = e.arch;
        CAPTURE(arch);
        rm::ResNetConfig c;
        c.arch = e.arch;
        const rm::Graph g = rm::build_resnet(c);
        rm::RmResult r = rm::rm_transform(g);
        CHECK(r.converted == e.blocks);
        CHECK(count_op(r.plain, Op::Add) == 0);
        const int64_t before = rm::compute_cost(g, rm::infer_shapes_of(g, 1)).total_macs;
        const int64_t after = rm::compute_cost(r.plain, rm::infer_shapes_of(r.plain, 1)).total_macs;
        const bool inverted = std::any_of(r.blocks.begin(), r.blocks.end(), [](const auto& b) {
            return b.relu_node.empty() && !b.pre_activation;
        });
        CHECK(inverted == e.fuse);
        // The default composes only pairs that do not raise the MACs: none of these.
        rm::Graph cheaper = r.plain;
        const auto kept = rm::fuse_linear_1x1(cheaper, nullptr, rm::FuseLinear::fewer_macs);
        CHECK(kept.fused == 0);
        CHECK(kept.skipped == (e.fuse ? 17 : 0));
        CHECK(rm::compute_cost(cheaper, rm::infer_shapes_of(cheaper, 1)).total_macs == after);
        const auto fused = rm::fuse_linear_1x1(r.plain, &r.mapping, rm::FuseLinear::all);
        const int64_t fused_macs =
            rm::compute_cost(r.plain, rm::infer_shapes_of(r.plain, 1)).total_macs;
        MESSAGE(arch << ": " << before / 1e6 << " MMACs, after RM " << after / 1e6
                     << ", after composing every linear pair (" << fused.fused << " pairs) "
                     << fused_macs / 1e6);
        CHECK(before / 1000000 == e.before);
        CHECK(after / 1000000 == e.after);
        CHECK(fused_macs / 1000000 == e.fused);
        CHECK(fused.fused == (e.fuse ? 17 : 0));
    }
}

TEST_CASE("a block RM still cannot make plain is refused with the reason and kept residual") {
    rm::Graph g = rm::load_onnx((kDir / "rmfam_refused_op13_b1_16x16.onnx").string());
    rm::RmResult r = rm::rm_transform(g);
    REQUIRE(r.blocks.size() == 2);
    CHECK(r.blocks[0].convertible);
    CHECK_FALSE(r.blocks[1].convertible);
    CHECK(r.blocks[1].reason.find("channels per group: Dirac groups need square groups") !=
          std::string::npos);
    CHECK(r.converted == 1);
    CHECK(count_op(r.plain, Op::Add) == 1);
    CHECK(error_vs_pytorch(r.plain, "rmfam_refused_op13_b1_16x16") <= 1e-4);
}
