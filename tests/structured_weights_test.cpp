// The rest of rm on structured conv weights: the CPU executor, BatchNormalization folding,
// ONNX save and load, and the cost model give what they give on the dense weights.
#include <doctest/doctest.h>

#include <filesystem>

#include "conv_structure_test_util.hpp"
#include "pass_test_graphs.hpp"
#include "rm/compare.hpp"
#include "rm/conv_structure.hpp"
#include "rm/cost.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/cpu_ops.hpp"
#include "rm/error.hpp"
#include "rm/fold_batchnorm.hpp"
#include "rm/onnx_io.hpp"
#include "rm/resnet_builder.hpp"
#include "rm/rm_transform.hpp"
#include "rm/shape_inference.hpp"

using namespace rm;
using namespace structtest;

namespace {

Attrs conv_attrs(int64_t k, int64_t stride, std::vector<int64_t> pads, int64_t group = 1) {
    Attrs a;
    a.kernel = {k, k};
    a.strides = {stride, stride};
    a.pads = std::move(pads);
    a.group = group;
    return a;
}

double max_rel_diff(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape == b.shape);
    return rm::compare_outputs(a, b).relative_error();
}

}  // namespace

TEST_CASE("structured CPU conv equals the dense conv (strides, pads, groups, batch 2)") {
    passtest::GraphMaker maker({1});
    struct Case {
        Shape w;
        int64_t group, stride;
        std::vector<int64_t> pads;
    };
    for (const Case& k :
         {Case{{9, 5, 3, 3}, 1, 1, {1, 1, 1, 1}}, Case{{9, 5, 3, 3}, 1, 2, {1, 1, 1, 1}},
          Case{{9, 5, 3, 3}, 1, 2, {2, 1, 0, 2}}, Case{{12, 3, 3, 3}, 4, 1, {1, 1, 1, 1}},
          Case{{7, 10, 1, 1}, 1, 2, {0, 0, 0, 0}}}) {
        CAPTURE(to_string(k.w));
        CAPTURE(k.stride);
        // Dirac rows, a merge column, a centre-only column range and a full range.
        Tensor w = maker.random(k.w, -1.0f, 1.0f);
        const int64_t icg = k.w[1], taps = k.w[2] * k.w[3],
                      centre = (k.w[2] / 2) * k.w[3] + k.w[3] / 2;
        for (int64_t o = 0; o < 3; ++o)
            for (int64_t j = 0; j < icg * taps; ++j)
                w.data[o * icg * taps + j] = j == (o % icg) * taps + centre ? 1.0f : 0.0f;
        for (int64_t o = 3; o < k.w[0]; ++o)
            for (int64_t t = 0; t < taps; ++t)
                if (t != centre) w.data[(o * icg + 0) * taps + t] = 0.0f;
        Tensor x = maker.random({2, icg * k.group, 13, 9}, -1.0f, 1.0f);
        Tensor bias = maker.random({k.w[0]}, -0.5f, 0.5f);
        for (int64_t o = 0; o < 3; ++o) bias.data[o] = 0.0f;
        const Attrs a = conv_attrs(k.w[2], k.stride, k.pads, k.group);
        const ConvStructure s = describe_conv(w, k.group);
        CHECK(s.blocks.size() >= 1);
        const Tensor dense = cpu::conv2d(x, w, &bias, a);
        const Tensor structured = cpu::conv2d_structured(x, s, &bias, a);
        CHECK(max_rel_diff(dense, structured) <= 1e-6);
        // The reserved rows are bit-exact copies.
        for (int64_t i = 0; i < dense.shape[2] * dense.shape[3]; ++i)
            CHECK(structured.data[i] == dense.data[i]);
    }
}

TEST_CASE("plain graphs run structured on the CPU as they run dense") {
    for (const auto& [name, plain] : plain_models()) {
        CAPTURE(name);
        Shape in = plain.inputs.at(0).shape;
        if (in[0] < 0) in[0] = 2;
        Tensor x = passtest::random_input(in);
        CpuRunOptions dense;
        dense.dense_structured = true;
        auto a = run_cpu(plain, {{plain.inputs[0].name, x}}, dense).at(plain.outputs[0]);
        auto b = run_cpu(plain, {{plain.inputs[0].name, x}}).at(plain.outputs[0]);
        CHECK(max_rel_diff(a, b) <= 1e-5);
    }
}

TEST_CASE("scale_rows folds a BatchNormalization exactly as on the dense weight") {
    ResNetConfig c;
    c.input_height = c.input_width = 32;
    c.base_width = 8;
    c.arch = "resnet18";
    Graph plain = rm_transform(build_resnet(c)).plain;
    const ConvStructure& s = plain.structured_weights.begin()->second;
    std::vector<double> scale(s.out_channels());
    for (size_t o = 0; o < scale.size(); ++o) scale[o] = 0.3 + 0.01 * double(o);
    Tensor dense = materialise(s);
    const int64_t per = dense.size() / s.out_channels();
    for (int64_t o = 0; o < s.out_channels(); ++o)
        for (int64_t j = 0; j < per; ++j) {
            float& v = dense.data[o * per + j];
            v = static_cast<float>(double(v) * scale[o]);
        }
    CHECK(same_bits(materialise(scale_rows(s, scale)), dense));
    CHECK_THROWS_AS(scale_rows(s, {1.0}), Error);

    // fold_batchnorm on a structured conv followed by a BN: the same as on the dense one.
    passtest::GraphMaker m({1, 3, 9, 11});
    m.g.initializers["w"] = weight_with({4, 3, 3, 3}, {{0, 0, 4, 1.0f}, {1, 1, 4, 1.0f}});
    for (int64_t t = 0; t < 9; ++t) m.g.initializers["w"].data[(2 * 3 + 2) * 9 + t] = 0.1f * t;
    m.g.nodes.push_back(
        {"conv", Op::Conv, {"input", "w"}, {"conv"}, conv_attrs(3, 1, {1, 1, 1, 1})});
    m.output(m.bn("bn", "conv", 4));
    Graph dense_graph = m.g;
    structure_conv_weights(m.g);
    REQUIRE(m.g.structure("w"));
    FoldResult fs = fold_batchnorm(m.g), fd = fold_batchnorm(dense_graph);
    const std::string wname = fs.graph.nodes[0].inputs[1];
    REQUIRE(fs.graph.structure(wname));
    CHECK(same_bits(fs.graph.materialise(wname), fd.graph.initializers.at(wname)));
}

TEST_CASE("structure_conv_weights: plain ONNX files load structured, residual ones stay dense") {
    ResNetConfig c;
    c.input_height = c.input_width = 32;
    c.base_width = 8;
    c.num_classes = 10;
    c.arch = "resnet50";
    Graph residual = build_resnet(c);
    Graph before = residual;
    structure_conv_weights(residual);
    CHECK(residual.structured_weights.empty());
    CHECK(residual.initializers.size() == before.initializers.size());

    RmResult r = rm_transform(residual);
    const std::string path =
        (std::filesystem::temp_directory_path() / "rmvk_conv_structure_test.onnx").string();
    save_onnx(r.plain, path);
    Graph loaded = load_onnx(path);
    std::filesystem::remove(path);
    int compared = 0;
    for (const auto& [name, s] : r.plain.structured_weights) {
        CAPTURE(name);
        REQUIRE(loaded.is_initializer(name));
        CHECK(same_bits(loaded.materialise(name), materialise(s)));
        if (const ConvStructure* l = loaded.structure(name)) {
            CHECK((same_structure(*l, s) || s.shape[2] == 1));
            ++compared;
        }
    }
    CHECK(compared >= 16);  // every 3x3 conv' and every 1x1 with Dirac rows or merges

    // A weight that another operator reads as a tensor stays dense.
    passtest::GraphMaker m({1, 2, 5, 5});
    m.g.initializers["w"] = weight_with({2, 2, 3, 3}, {{0, 0, 4, 1.0f}, {1, 1, 4, 1.0f}});
    m.g.nodes.push_back(
        {"conv", Op::Conv, {"input", "w"}, {"conv"}, conv_attrs(3, 1, {1, 1, 1, 1})});
    m.g.nodes.push_back({"flat", Op::Flatten, {"w"}, {"flat"}, {}});
    m.output("conv");
    m.output("flat");
    structure_conv_weights(m.g);
    CHECK(m.g.structured_weights.empty());
    m.g.nodes.pop_back();
    m.g.outputs.pop_back();
    structure_conv_weights(m.g);
    CHECK(m.g.structure("w"));
    materialise_all(m.g);
    CHECK(m.g.structured_weights.empty());
    CHECK(m.g.initializers.at("w").data[4] == 1.0f);
}

TEST_CASE("cost: dense MACs of the exported ONNX, structured MACs of the blocks") {
    ResNetConfig c;
    c.arch = "resnet50";
    Graph residual = build_resnet(c);
    RmResult r = rm_transform(residual);
    Graph& plain = r.plain;
    GraphCost before = compute_cost(residual, infer_shapes(residual, 1));
    GraphCost after = compute_cost(plain, infer_shapes(plain, 1));
    MESSAGE("ResNet-50 plain: dense " << after.total_macs / 1e9 << " GMACs, structured "
                                      << after.total_structured_macs / 1e9 << " GMACs, stored "
                                      << after.total_structured_params / 1e6 << "M values");
    CHECK(after.total_macs / 1e9 == doctest::Approx(46.07).epsilon(0.01));
    // The blocks are the residual graph's convs (projections included), at the same sizes.
    CHECK(after.total_structured_macs == before.total_macs);
    CHECK(before.total_structured_macs == before.total_macs);
    CHECK(after.total_params / 1e6 == doctest::Approx(277).epsilon(0.01));
    CHECK(after.total_structured_params < before.total_params * 1.01);
}
