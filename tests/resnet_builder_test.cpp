#include "rm/resnet_builder.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <set>

#include "rm/cpu_executor.hpp"
#include "rm/error.hpp"
#include "rm/shape_inference.hpp"

using namespace rm;

namespace {

ResNetConfig tiny(const std::string& arch) {
    ResNetConfig c;
    c.arch = arch;
    c.base_width = 8;
    c.input_height = c.input_width = 32;
    c.num_classes = 10;
    return c;
}

const Node& node(const Graph& g, const std::string& name) {
    const Node* n = g.find_node(name);
    REQUIRE_MESSAGE(n != nullptr, name);
    return *n;
}

std::string error_of(const std::string& spec) {
    try {
        parse_builtin_spec(spec);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("resnet18: torchvision topology, names and shapes") {
    Graph g = build_resnet(ResNetConfig{});
    CHECK(g.nodes.size() == 69);
    REQUIRE(g.inputs.size() == 1);
    CHECK(g.inputs[0].name == "input");
    CHECK(g.inputs[0].shape == Shape{-1, 3, 224, 224});
    CHECK(g.outputs == std::vector<std::string>{"logits"});

    std::vector<std::string> expected = {"conv1",
                                         "bn1",
                                         "relu",
                                         "maxpool",
                                         "layer1.0.conv1",
                                         "layer1.0.bn1",
                                         "layer1.0.relu",
                                         "layer1.0.conv2",
                                         "layer1.0.bn2",
                                         "layer1.0.add",
                                         "layer1.0.relu_out"};
    for (size_t i = 0; i < expected.size(); ++i) CHECK(g.nodes[i].name == expected[i]);
    CHECK(g.nodes[g.nodes.size() - 3].name == "avgpool");
    CHECK(g.nodes[g.nodes.size() - 2].name == "flatten");
    CHECK(g.nodes.back().name == "fc");
    std::set<std::string> names;
    for (const auto& n : g.nodes) CHECK(names.insert(n.name).second);

    CHECK(node(g, "conv1").attrs.strides == std::vector<int64_t>{2, 2});
    CHECK(node(g, "conv1").attrs.pads == std::vector<int64_t>{3, 3, 3, 3});
    CHECK(node(g, "maxpool").attrs.kernel == std::vector<int64_t>{3, 3});
    CHECK(g.find_node("layer1.0.downsample.0") == nullptr);  // 64 -> 64, stride 1
    const Node& ds = node(g, "layer2.0.downsample.0");
    CHECK(ds.attrs.strides == std::vector<int64_t>{2, 2});
    CHECK(g.initializers.at("layer2.0.downsample.0.weight").shape == Shape{128, 64, 1, 1});
    CHECK(node(g, "layer2.0.add").inputs ==
          std::vector<std::string>{"layer2.0.bn2", "layer2.0.downsample.1"});
    CHECK(node(g, "layer2.0.conv1").attrs.strides == std::vector<int64_t>{2, 2});
    CHECK(node(g, "fc").attrs.trans_b);
    CHECK(g.initializers.at("fc.weight").shape == Shape{1000, 512});
    CHECK(g.initializers.count("bn1.running_var") == 1);

    ShapeMap s = infer_shapes(g, 2);
    CHECK(s.at("maxpool") == Shape{2, 64, 56, 56});
    CHECK(s.at("layer4.1.relu_out") == Shape{2, 512, 7, 7});
    CHECK(s.at("logits") == Shape{2, 1000});
}

TEST_CASE("bottlenecks: stride on the 3x3 conv, expansion 4, wide width 128 per group") {
    Graph g = build_resnet(tiny("resnet50"));
    CHECK(g.nodes.size() == 175);
    CHECK(node(g, "layer2.0.conv1").attrs.strides == std::vector<int64_t>{1, 1});
    CHECK(node(g, "layer2.0.conv2").attrs.strides == std::vector<int64_t>{2, 2});
    CHECK(node(g, "layer2.0.relu2").inputs[0] == "layer2.0.bn2");
    CHECK(g.initializers.at("layer1.0.conv3.weight").shape == Shape{32, 8, 1, 1});
    CHECK(g.initializers.at("layer1.0.downsample.0.weight").shape ==
          Shape{32, 8, 1, 1});  // 8 -> 32
    CHECK(g.find_node("layer1.1.downsample.0") == nullptr);
    CHECK(g.initializers.at("fc.weight").shape == Shape{10, 256});

    ResNetConfig w = tiny("wide_resnet50_2");
    Graph wide = build_resnet(w);
    CHECK(wide.initializers.at("layer1.0.conv1.weight").shape ==
          Shape{16, 8, 1, 1});  // width doubled
    CHECK(wide.initializers.at("layer1.0.conv3.weight").shape ==
          Shape{32, 16, 1, 1});  // output not
    CHECK(build_resnet(tiny("resnet152")).nodes.size() == 4 + 50 * 10 + 4 * 2 + 3);
}

TEST_CASE("weights are deterministic, seed-dependent, with non-trivial BN statistics") {
    Graph a = build_resnet(tiny("resnet18"));
    Graph b = build_resnet(tiny("resnet18"));
    ResNetConfig other = tiny("resnet18");
    other.seed = 7;
    Graph c = build_resnet(other);
    CHECK(a.initializers.at("layer3.1.conv2.weight").data ==
          b.initializers.at("layer3.1.conv2.weight").data);
    CHECK(a.initializers.at("layer3.1.conv2.weight").data !=
          c.initializers.at("layer3.1.conv2.weight").data);
    // BN parameters in the ranges the RM checks need (no identity BN, no zero-init last gamma).
    for (const char* bn : {"bn1", "layer1.0.bn2", "layer4.1.bn2", "layer2.0.downsample.1"}) {
        CAPTURE(bn);
        std::string p = bn;
        for (float v : a.initializers.at(p + ".weight").data) CHECK((v >= 0.5f && v <= 1.5f));
        for (float v : a.initializers.at(p + ".running_var").data) CHECK((v >= 0.5f && v <= 2.0f));
        for (float v : a.initializers.at(p + ".running_mean").data) CHECK(std::fabs(v) <= 0.1f);
    }
    double spread = 0;
    for (float v : a.initializers.at("layer1.0.bn2.running_mean").data) spread += std::fabs(v);
    CHECK(spread > 0);
}

TEST_CASE("activations stay in a sane range through deep networks") {
    for (const char* arch : {"resnet18", "resnet152"}) {
        CAPTURE(arch);
        ResNetConfig c = tiny(arch);
        c.input_height = c.input_width = 64;
        Graph g = build_resnet(c);
        Tensor x({1, 3, 64, 64});
        for (int64_t i = 0; i < x.size(); ++i) x.data[i] = std::sin(0.1f * static_cast<float>(i));
        CpuRunOptions o;
        o.keep_intermediates = true;
        auto out = run_cpu(g, {{"input", x}}, o);
        float peak = 0;
        for (float v : out.at("layer4.0.relu_out").data) peak = std::max(peak, std::fabs(v));
        CHECK(peak > 0.1f);
        CHECK(peak < 1000.0f);
        float logit = 0;
        for (float v : out.at("logits").data) {
            CHECK(std::isfinite(v));
            logit = std::max(logit, std::fabs(v));
        }
        CHECK(logit > 1e-3f);
        CHECK(logit < 1000.0f);
    }
}

TEST_CASE("resnet152 at full size builds quickly") {
    auto start = std::chrono::steady_clock::now();
    ResNetConfig c;
    c.arch = "resnet152";
    Graph g = build_resnet(c);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(g.initializers.at("layer3.35.conv3.weight").shape == Shape{1024, 256, 1, 1});
    // About 0.4 s on two free cores; generous for a loaded CI machine.
    CHECK(seconds < 10.0);
}

TEST_CASE("parse_builtin_spec") {
    CHECK_FALSE(parse_builtin_spec("model.onnx").has_value());
    auto plain = parse_builtin_spec("builtin:resnet50");
    REQUIRE(plain.has_value());
    CHECK(plain->arch == "resnet50");
    CHECK(plain->num_classes == 1000);
    CHECK(plain->input_height == 224);

    auto full =
        parse_builtin_spec("builtin:resnet18?classes=10&size=64x48&channels=1&width=32&seed=3");
    REQUIRE(full.has_value());
    CHECK(full->num_classes == 10);
    CHECK(full->input_height == 64);
    CHECK(full->input_width == 48);
    CHECK(full->input_channels == 1);
    CHECK(full->base_width == 32);
    CHECK(full->seed == 3);
    CHECK(parse_builtin_spec("builtin:resnet34?size=96")->input_width == 96);

    CHECK(error_of("builtin:resnet19") ==
          "unknown built-in model 'resnet19' (valid: resnet18, resnet34, resnet50, resnet101, "
          "resnet152, "
          "wide_resnet50_2, wide_resnet101_2, mobilenet_v2, mnasnet1_0, regnet_x_400mf, "
          "regnet_x_1_6gf)");
    CHECK(error_of("builtin:resnet18?classes=ten") ==
          "'builtin:resnet18?classes=ten': option classes=ten is not an integer");
    CHECK(error_of("builtin:resnet18?colour=1").find("unknown option 'colour'") !=
          std::string::npos);
    CHECK(error_of("builtin:resnet18?size=0").find("height=0 is out of range") !=
          std::string::npos);
    CHECK(error_of("builtin:resnet18?channels").find("needs a value") != std::string::npos);
    CHECK(builtin_model_names().size() == 11);

    ResNetConfig bad;
    bad.arch = "vgg16";
    CHECK_THROWS_AS(build_resnet(bad), Error);
}
