#include "rm/cost.hpp"

#include <doctest/doctest.h>

#include <cstdint>

#include "rm/resnet_builder.hpp"

using namespace rm;

namespace {

GraphCost cost_of(const std::string& arch, int64_t size = 224) {
    ResNetConfig c;
    c.arch = arch;
    c.input_height = c.input_width = size;
    Graph g = build_resnet(c);
    return compute_cost(g, infer_shapes_of(g, 1));
}

}  // namespace

TEST_CASE("hand-computed MACs and params of a small graph") {
    Graph g;
    g.inputs.push_back({"x", {-1, 3, 10, 10}});
    g.initializers["w"] = Tensor({8, 3, 3, 3});
    g.initializers["b"] = Tensor({8});
    for (const char* n : {"s", "bb", "m", "v"}) g.initializers[n] = Tensor({8});
    g.initializers["fc"] = Tensor({5, 800});
    Node conv{"conv", Op::Conv, {"x", "w", "b"}, {"c"}, {}};
    conv.attrs.pads = {1, 1, 1, 1};
    g.nodes.push_back(conv);
    g.nodes.push_back({"bn", Op::BatchNormalization, {"c", "s", "bb", "m", "v"}, {"n"}, {}});
    g.nodes.push_back({"relu", Op::Relu, {"n"}, {"r"}, {}});
    g.nodes.push_back({"flat", Op::Flatten, {"r"}, {"f"}, {}});
    Node fc{"fc", Op::Gemm, {"f", "fc"}, {"y"}, {}};
    fc.attrs.trans_b = true;
    g.nodes.push_back(fc);
    // The same weights read by a second conv: counted per node, once in the total.
    Node conv2 = conv;
    conv2.name = "conv2";
    conv2.outputs = {"c2"};
    g.nodes.push_back(conv2);
    g.outputs = {"y", "c2"};

    GraphCost c = compute_cost(g, infer_shapes_of(g, 2));
    REQUIRE(c.nodes.size() == 6);
    CHECK(c.nodes[0].node == "conv");
    CHECK(c.nodes[0].macs == 2 * 8 * 10 * 10 * 3 * 3 * 3);  // N*Cout*Ho*Wo*Cin*kh*kw
    CHECK(c.nodes[0].params == 8 * 3 * 3 * 3 + 8);
    CHECK(c.nodes[1].macs == 0);
    CHECK(c.nodes[1].params == 16);  // BN: scale and bias; running statistics are not parameters
    CHECK(c.nodes[4].macs == 2 * 5 * 800);
    CHECK(c.nodes[4].params == 4000);
    CHECK(c.nodes[5].params == 224);
    CHECK(c.total_macs == 2 * (43200 + 4000));
    CHECK(c.total_params == 224 + 16 + 4000);
}

TEST_CASE("grouped conv and batched MatMul MACs") {
    Graph g;
    g.inputs.push_back({"x", {1, 8, 5, 5}});
    g.initializers["w"] = Tensor({12, 2, 3, 3});
    Node conv{"conv", Op::Conv, {"x", "w"}, {"c"}, {}};
    conv.attrs.group = 4;
    g.nodes.push_back(conv);
    g.inputs.push_back({"a", {4, 3, 7}});
    g.initializers["m"] = Tensor({7, 5});
    g.nodes.push_back({"mm", Op::MatMul, {"a", "m"}, {"p"}, {}});
    GraphCost c = compute_cost(g, infer_shapes_of(g));
    CHECK(c.nodes[0].macs == 12 * 3 * 3 * 2 * 3 * 3);
    CHECK(c.nodes[1].macs == 4 * 3 * 5 * 7);
}

TEST_CASE("torchvision parameter counts and MACs") {
    GraphCost r18 = cost_of("resnet18");
    CHECK(r18.total_params == 11689512);
    CHECK(r18.total_macs == 1814073344);  // ~1.82 GMACs, conv + fc only
    GraphCost r50 = cost_of("resnet50");
    CHECK(r50.total_params == 25557032);
    CHECK(r50.total_macs > 4.08e9);
    CHECK(r50.total_macs < 4.10e9);
    // Parameters do not depend on the input size, so the big ones build at a small one.
    CHECK(cost_of("resnet152", 32).total_params == 60192808);
    CHECK(cost_of("wide_resnet50_2", 32).total_params == 68883240);
    CHECK(cost_of("resnet34", 32).total_params == 21797672);
    CHECK(cost_of("resnet101", 32).total_params == 44549160);
}

TEST_CASE("grouped_digits groups by thousands, after the sign") {
    CHECK(grouped_digits(0) == "0");
    CHECK(grouped_digits(999) == "999");
    CHECK(grouped_digits(1000) == "1,000");
    CHECK(grouped_digits(11689512) == "11,689,512");
    CHECK(grouped_digits(-999) == "-999");
    CHECK(grouped_digits(-123456) == "-123,456");
    CHECK(grouped_digits(INT64_MIN) == "-9,223,372,036,854,775,808");
}
