// builtin:mobilenet_v2, mnasnet1_0, regnet_x_400mf, regnet_x_1_6gf: torchvision's parameter
// counts and MACs (224x224, 1000 classes), their operators, and sane activations.
#include <doctest/doctest.h>

#include <cmath>

#include "rm/cost.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/residual_blocks.hpp"
#include "rm/resnet_builder.hpp"
#include "rm/shape_inference.hpp"

using namespace rm;

TEST_CASE("the mobile builtins have torchvision's parameter counts and MACs") {
    struct Expect {
        const char* arch;
        int64_t params;        // sum(p.numel() for p in model.parameters()), torchvision 0.14
        int64_t macs_million;  // at 224x224, batch 1
        int64_t depthwise, clips, blocks, convertible;
    } expect[] = {
        {"mobilenet_v2", 3504872, 300, 17, 35, 10, 10},
        {"mnasnet1_0", 4383312, 314, 17, 0, 10, 10},
        {"regnet_x_400mf", 5495976, 413, 0, 0, 22, 22},
        {"regnet_x_1_6gf", 9190136, 1602, 0, 0, 18, 18},
    };
    for (const auto& e : expect) {
        CAPTURE(e.arch);
        ResNetConfig c;
        c.arch = e.arch;
        Graph g = build_resnet(c);
        const GraphCost cost = compute_cost(g, infer_shapes_of(g, 1));
        CHECK(cost.total_params == e.params);
        CHECK(cost.total_macs / 1000000 == e.macs_million);
        int64_t depthwise = 0, clips = 0, grouped = 0;
        for (const auto& n : g.nodes) {
            if (n.op == Op::Clip) {
                ++clips;
                CHECK(n.attrs.clip_min == 0.0f);
                CHECK(n.attrs.clip_max == 6.0f);
            }
            if (n.op != Op::Conv || n.attrs.group == 1) continue;
            const int64_t cg = g.initializers.at(n.inputs[1]).shape[1];
            if (cg == 1)
                ++depthwise;
            else
                ++grouped;
        }
        CHECK(depthwise == e.depthwise);
        CHECK(clips == e.clips);
        CHECK((grouped > 0) == (std::string(e.arch).rfind("regnet", 0) == 0));
        // Every block converts: inverted residuals (no activation after the Add) and
        // RegNetX-1.6GF's block1-0 (32 input channels, 24 per group: a zero-padded reserve).
        const auto blocks = find_residual_blocks(g);
        int64_t convertible = 0;
        for (const auto& b : blocks) convertible += b.convertible;
        CHECK(convertible == e.convertible);
        if (e.blocks) CHECK(static_cast<int64_t>(blocks.size()) <= e.blocks);
    }
}

TEST_CASE("mobile builtins: small variants run with activations in a sane range") {
    for (const char* arch : {"mobilenet_v2", "mnasnet1_0", "regnet_x_400mf"}) {
        CAPTURE(arch);
        Tensor x({1, 3, 64, 64});
        for (int64_t i = 0; i < x.size(); ++i) x.data[i] = std::sin(0.1f * static_cast<float>(i));
        const Tensor y = run_cpu(build_resnet(*parse_builtin_spec(std::string("builtin:") + arch +
                                                                  "?size=64x64&classes=10")),
                                 {{"input", x}})
                             .at("logits");
        CHECK(y.shape == Shape{1, 10});
        float peak = 0;
        for (float v : y.data) {
            CHECK(std::isfinite(v));
            peak = std::max(peak, std::fabs(v));
        }
        CHECK(peak > 1e-3f);
        CHECK(peak < 1000.0f);
    }
}
