#include "rm/rm_transform.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "pass_test_graphs.hpp"
#include "rm/compare.hpp"
#include "rm/cost.hpp"
#include "rm/npy.hpp"
#include "rm/onnx_io.hpp"
#include "rm/resnet_builder.hpp"
#include "rm/shape_inference.hpp"

using rm::Op;

namespace {

rm::Graph small_resnet(const std::string& arch, int64_t size) {
    rm::ResNetConfig c;
    c.arch = arch;
    c.base_width = 8;
    c.input_height = c.input_width = size;
    c.num_classes = 10;
    c.seed = 3;
    return rm::build_resnet(c);
}

rm::GraphCost cost_of(const rm::Graph& g) {
    return rm::compute_cost(g, rm::infer_shapes_of(g, 1));
}

void check_exact(const std::string& arch, int64_t size, int blocks) {
    CAPTURE(arch);
    rm::Graph g = small_resnet(arch, size);
    rm::RmResult r = rm::rm_transform(g);
    CHECK(r.blocks.size() == static_cast<size_t>(blocks));
    CHECK(r.converted == blocks);
    CHECK(passtest::count_op(r.plain, Op::Add) == 0);
    CHECK(passtest::count_op(r.plain, Op::BatchNormalization) == 0);
    auto cmp = passtest::compare_outputs(g, r.plain, passtest::random_input({2, 3, size, size}));
    MESSAGE(arch << ": max|d| = " << cmp.max_abs_diff << ", max|ref| = " << cmp.max_abs_ref);
    CHECK(cmp.max_abs_ref > 0.1);
    CHECK(cmp.max_abs_diff <= 1e-4 * cmp.max_abs_ref);
}

}  // namespace

TEST_CASE("plain ResNet-18/50/wide equal the residual ones (builder models, width 8)") {
    check_exact("resnet18", 40, 8);
    check_exact("resnet50", 36, 16);
    check_exact("wide_resnet50_2", 32, 16);
}

TEST_CASE("the mapping names residual nodes, reserved ranges and their source tensors") {
    rm::Graph g = small_resnet("resnet18", 32);
    rm::RmResult r = rm::rm_transform(g);

    const rm::NodeOrigin& c1 = r.mapping.at("layer1.0.conv1.rm");
    CHECK(c1.block == "layer1.0");
    CHECK(c1.residual_nodes == std::vector<std::string>{"layer1.0.conv1", "layer1.0.bn1"});
    REQUIRE(c1.channels.size() == 2);
    CHECK(c1.channels[0].begin == 0);
    CHECK(c1.channels[0].end == 8);
    CHECK(c1.channels[0].reserved);
    CHECK(c1.channels[0].source_tensor == "maxpool");
    CHECK(c1.channels[1].begin == 8);
    CHECK(c1.channels[1].end == 16);
    CHECK_FALSE(c1.channels[1].reserved);
    CHECK(r.mapping.at("layer1.0.relu.rm").channels.size() == 2);

    // The projection block of stage 2: conv2' absorbs conv2, bn2, the downsample and the Add.
    const rm::NodeOrigin& c2 = r.mapping.at("layer2.0.conv2.rm");
    for (const char* n : {"layer2.0.conv2", "layer2.0.bn2", "layer2.0.downsample.0",
                          "layer2.0.downsample.1", "layer2.0.add"})
        CHECK(std::find(c2.residual_nodes.begin(), c2.residual_nodes.end(), n) !=
              c2.residual_nodes.end());
    CHECK(r.mapping.at("layer2.0.conv1.rm").channels[0].source_tensor == "layer1.1.relu_out");
    CHECK(rm::plain_nodes_for(r.mapping, "layer2.0.add") ==
          std::vector<std::string>{"layer2.0.conv2.rm"});
    CHECK(rm::plain_nodes_for(r.mapping, "bn1") == std::vector<std::string>{"conv1"});

    // Every plain node has an origin, and block outputs keep their tensor names.
    for (const auto& n : r.plain.nodes) CHECK(r.mapping.count(n.name) == 1);
    CHECK(r.plain.find_node("layer1.0.relu_out.rm")->outputs[0] == "layer1.0.relu_out");

    // Reserved rows of conv1' are Dirac kernels with zero bias.
    const rm::Node* conv = r.plain.find_node("layer1.0.conv1.rm");
    const rm::Tensor w = r.plain.materialise(conv->inputs[1]);
    CHECK(w.shape == rm::Shape{16, 8, 3, 3});
    double row_sum = 0;
    for (int64_t i = 0; i < 8 * 9; ++i) row_sum += w.data[3 * 8 * 9 + i];
    CHECK(row_sum == 1.0);
    CHECK(w.data[(3 * 8 + 3) * 9 + 4] == 1.0f);
    CHECK(r.plain.initializers.at(conv->inputs[2]).data[3] == 0.0f);
}

TEST_CASE("cost of plain ResNet-18 and ResNet-50 at 224 matches the paper's numbers") {
    rm::ResNetConfig c;
    c.arch = "resnet18";
    rm::Graph r18 = rm::build_resnet(c);
    rm::RmResult p18 = rm::rm_transform(r18);
    auto a = cost_of(r18), b = cost_of(p18.plain);
    double mac_ratio = double(b.total_macs) / a.total_macs;
    double param_ratio = double(b.total_params) / a.total_params;
    MESSAGE("ResNet-18: MACs x" << mac_ratio << ", params x" << param_ratio);
    CHECK(mac_ratio == doctest::Approx(1.77).epsilon(0.01));
    CHECK(param_ratio == doctest::Approx(1.73).epsilon(0.01));

    c.arch = "resnet50";
    rm::Graph r50 = rm::build_resnet(c);
    auto t0 = std::chrono::steady_clock::now();
    rm::RmResult p50 = rm::rm_transform(r50);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto d = cost_of(p50.plain);
    MESSAGE("ResNet-50 plain: " << d.total_macs / 1e9 << " GMACs, " << d.total_params / 1e6
                                << "M params, transform " << seconds << " s");
    CHECK(d.total_macs / 1e9 == doctest::Approx(46.1).epsilon(0.01));
    CHECK(d.total_params / 1e6 == doctest::Approx(277).epsilon(0.01));
    CHECK(p50.converted == 16);
}

TEST_CASE("PyTorch-exported fixtures convert exactly, every block (BN kept/fused, families)") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(RMVK_FIXTURE_DIR) / "pytorch";
    int seen = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() != ".onnx") continue;
        const std::string stem = entry.path().stem().string();
        CAPTURE(stem);
        rm::Graph g = rm::load_onnx(entry.path().string());
        rm::Tensor input = rm::read_npy((dir / (stem + ".input.npy")).string());
        rm::Tensor expected = rm::read_npy((dir / (stem + ".output.npy")).string());
        rm::RmResult r = rm::rm_transform(g);
        // Every block converts: post-activation ResNets, ResNeXt, inverted residuals,
        // pre-activation blocks, grouped convs of any group width. rmfam_refused has one block
        // RM still refuses (a grouped first conv), kept residual.
        const int refused = stem.rfind("rmfam_refused", 0) == 0 ? 1 : 0;
        CHECK(r.converted > 0);
        for (const auto& b : r.blocks)
            if (!refused) CHECK_MESSAGE(b.convertible, b.name << ": " << b.reason);
        CHECK(r.converted + refused == static_cast<int>(r.blocks.size()));
        CHECK(passtest::count_op(r.plain, Op::Add) == refused);
        auto out = rm::run_cpu(r.plain, {{r.plain.inputs.at(0).name, input}});
        const rm::Tensor& got = out.at(r.plain.outputs.at(0));
        REQUIRE(got.shape == expected.shape);
        const auto c = rm::compare_outputs(expected, got);
        MESSAGE(stem << ": plain vs PyTorch max|d| = " << c.max_abs_diff << " (max|ref| "
                     << c.max_abs_ref << ")");
        CHECK(c.match());
        ++seen;
    }
    CHECK(seen >= 6);
}
