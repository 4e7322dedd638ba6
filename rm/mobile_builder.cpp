// Built-in MobileNetV2, MNASNet-1.0 and RegNetX (400MF, 1.6GF): torchvision's topology, node
// order and parameter counts, deterministic weights and non-trivial BN, as build_resnet makes
// ResNets.
#include <algorithm>

#include "rm/error.hpp"
#include "rm/model_builder.hpp"

namespace rm::build_detail {

namespace {

std::string conv_bn(Builder& b, const std::string& p, const std::string& x, int64_t cin,
                    int64_t cout, int64_t k, int64_t stride, int64_t group, Op act,
                    const std::string& conv_name, const std::string& bn_name) {
    std::string y = b.conv(p + conv_name, x, cin, cout, k, stride, k / 2, group);
    y = b.batchnorm(p + bn_name, y, cout);
    if (act == Op::Relu) return b.simple(p + conv_name + ".relu", Op::Relu, {y});
    if (act == Op::Clip) {  // ReLU6, as PyTorch exports it
        Attrs six;
        six.clip_min = 0;
        six.clip_max = 6;
        return b.simple(p + conv_name + ".relu6", Op::Clip, {y}, six);
    }
    return y;
}

// expand 1x1 (unless t == 1) -> depthwise k x k -> linear project 1x1 (+ x when it fits).
std::string inverted_residual(Builder& b, const std::string& p, const std::string& x, int64_t cin,
                              int64_t cout, int64_t k, int64_t stride, int64_t expand, Op act) {
    const int64_t hidden = cin * expand;
    std::string y = x;
    int i = 0;
    auto part = [&](const std::string& suffix) { return std::to_string(i++) + suffix; };
    if (expand != 1) y = conv_bn(b, p, y, cin, hidden, 1, 1, 1, act, part(".0"), "bn_e");
    y = conv_bn(b, p, y, hidden, hidden, k, stride, hidden, act, part(".dw"), "bn_dw");
    y = conv_bn(b, p, y, hidden, cout, 1, 1, 1, Op::Identity, part(".project"), "bn_p");
    if (stride == 1 && cin == cout) y = b.simple(p + "add", Op::Add, {y, x});
    return y;
}

std::string head(Builder& b, Graph& g, std::string x, int64_t channels, int64_t classes,
                 bool reduce_mean) {
    if (reduce_mean) {  // MNASNet: x.mean([2, 3])
        Attrs mean;
        mean.axes = {2, 3};
        mean.keepdims = false;
        x = b.simple("mean", Op::ReduceMean, {x}, mean);
    } else {
        x = b.simple("avgpool", Op::GlobalAveragePool, {x});
        x = b.simple("flatten", Op::Flatten, {x});
    }
    b.linear("classifier", x, channels, classes, "logits");
    g.outputs.push_back("logits");
    return "logits";
}

void mobilenet_v2(Builder& b, Graph& g, const ResNetConfig& c) {
    // torchvision's inverted_residual_setting: t, c, n, s.
    const int64_t settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                    {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    std::string x =
        conv_bn(b, "features.0.", "input", c.input_channels, 32, 3, 2, 1, Op::Clip, "conv", "bn");
    int64_t channels = 32, index = 1;
    for (const auto& s : settings)
        for (int64_t i = 0; i < s[2]; ++i) {
            const std::string p = "features." + std::to_string(index++) + ".";
            x = inverted_residual(b, p, x, channels, s[1], 3, i == 0 ? s[3] : 1, s[0], Op::Clip);
            channels = s[1];
        }
    x = conv_bn(b, "features.18.", x, channels, 1280, 1, 1, 1, Op::Clip, "conv", "bn");
    head(b, g, x, 1280, c.num_classes, false);
}

void mnasnet1_0(Builder& b, Graph& g, const ResNetConfig& c) {
    std::string x =
        conv_bn(b, "layers.0.", "input", c.input_channels, 32, 3, 2, 1, Op::Relu, "conv", "bn");
    x = conv_bn(b, "layers.3.", x, 32, 32, 3, 1, 32, Op::Relu, "conv", "bn");
    x = conv_bn(b, "layers.6.", x, 32, 16, 1, 1, 1, Op::Identity, "conv", "bn");
    // _stack(in, out, kernel, stride, expansion, repeats), torchvision's depths for alpha 1.0.
    const int64_t stacks[6][5] = {{24, 3, 2, 3, 3}, {40, 5, 2, 3, 3},  {80, 5, 2, 6, 3},
                                  {96, 3, 1, 6, 2}, {192, 5, 2, 6, 4}, {320, 3, 1, 6, 1}};
    int64_t channels = 16;
    for (int s = 0; s < 6; ++s)
        for (int64_t i = 0; i < stacks[s][4]; ++i) {
            const std::string p = "layers." + std::to_string(8 + s) + "." + std::to_string(i) + ".";
            x = inverted_residual(b, p, x, channels, stacks[s][0], stacks[s][1],
                                  i == 0 ? stacks[s][2] : 1, stacks[s][3], Op::Relu);
            channels = stacks[s][0];
        }
    x = conv_bn(b, "layers.14.", x, channels, 1280, 1, 1, 1, Op::Relu, "conv", "bn");
    head(b, g, x, 1280, c.num_classes, true);
}

// torchvision's BlockParams.from_init_params, evaluated: stage widths, depths, group width.
struct RegNetSpec {
    const char* name;
    int64_t widths[4], depths[4], group_width;
};
constexpr RegNetSpec kRegNets[] = {
    {"regnet_x_400mf", {32, 64, 160, 400}, {1, 2, 7, 12}, 16},
    {"regnet_x_1_6gf", {72, 168, 408, 912}, {2, 4, 10, 2}, 24},
};

void regnet_x(Builder& b, Graph& g, const ResNetConfig& c, const RegNetSpec& r) {
    std::string x =
        conv_bn(b, "stem.", "input", c.input_channels, 32, 3, 2, 1, Op::Relu, "conv", "bn");
    int64_t channels = 32;
    for (int s = 0; s < 4; ++s)
        for (int64_t i = 0; i < r.depths[s]; ++i) {
            const std::string p =
                "trunk_output.block" + std::to_string(s + 1) + "-" + std::to_string(i) + ".";
            const int64_t w = r.widths[s], stride = i == 0 ? 2 : 1;
            std::string shortcut = x;
            if (channels != w || stride != 1)
                shortcut =
                    conv_bn(b, p, x, channels, w, 1, stride, 1, Op::Identity, "proj", "proj_bn");
            std::string y = conv_bn(b, p, x, channels, w, 1, 1, 1, Op::Relu, "f.a", "f.a_bn");
            y = conv_bn(b, p, y, w, w, 3, stride, w / r.group_width, Op::Relu, "f.b", "f.b_bn");
            y = conv_bn(b, p, y, w, w, 1, 1, 1, Op::Identity, "f.c", "f.c_bn");
            y = b.simple(p + "add", Op::Add, {shortcut, y});
            x = b.simple(p + "relu", Op::Relu, {y});
            channels = w;
        }
    head(b, g, x, channels, c.num_classes, false);
}

}  // namespace

std::vector<std::string> mobile_model_names() {
    return {"mobilenet_v2", "mnasnet1_0", "regnet_x_400mf", "regnet_x_1_6gf"};
}

bool is_mobile_arch(const std::string& name) {
    const auto names = mobile_model_names();
    return std::find(names.begin(), names.end(), name) != names.end();
}

Graph build_mobile(const ResNetConfig& c) {
    if (c.base_width != 64)
        throw Error("built-in model '" + c.arch + "': the width option is for ResNets only");
    Graph g;
    g.name = c.arch;
    g.inputs.push_back({"input", {-1, c.input_channels, c.input_height, c.input_width}});
    Builder b(g, c.seed);
    if (c.arch == "mobilenet_v2")
        mobilenet_v2(b, g, c);
    else if (c.arch == "mnasnet1_0")
        mnasnet1_0(b, g, c);
    else
        for (const auto& r : kRegNets)
            if (c.arch == r.name) regnet_x(b, g, c, r);
    if (g.outputs.empty()) throw Error("unknown built-in model '" + c.arch + "'");
    calibrate(g, c, c.seed);
    return g;
}

}  // namespace rm::build_detail
