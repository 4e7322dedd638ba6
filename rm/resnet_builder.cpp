#include "rm/resnet_builder.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "rm/cpu_ops.hpp"
#include "rm/error.hpp"
#include "rm/model_builder.hpp"
#include "rm/thread_pool.hpp"

namespace rm {

using build_detail::Builder;
using build_detail::Random;

namespace {

struct ArchSpec {
    const char* name;
    bool bottleneck;
    int blocks[4];
    int64_t width_per_group;  // torchvision's width_per_group: 64, or 128 for wide_resnet
};

constexpr ArchSpec kArchs[] = {
    {"resnet18", false, {2, 2, 2, 2}, 64},          {"resnet34", false, {3, 4, 6, 3}, 64},
    {"resnet50", true, {3, 4, 6, 3}, 64},           {"resnet101", true, {3, 4, 23, 3}, 64},
    {"resnet152", true, {3, 8, 36, 3}, 64},         {"wide_resnet50_2", true, {3, 4, 6, 3}, 128},
    {"wide_resnet101_2", true, {3, 4, 23, 3}, 128},
};

const ArchSpec& find_arch(const std::string& name) {
    for (const auto& a : kArchs)
        if (name == a.name) return a;
    std::string valid;
    for (const auto& a : builtin_model_names()) valid += (valid.empty() ? "" : ", ") + a;
    throw Error("unknown built-in model '" + name + "' (valid: " + valid + ")");
}

// The end of a residual block: y + the shortcut (x, or a strided 1x1 projection with its BN
// where the shape changes), then ReLU.
std::string add_shortcut(Builder& b, const std::string& p, const std::string& x,
                         const std::string& y, int64_t cin, int64_t cout, int64_t stride) {
    std::string identity = x;
    if (stride != 1 || cin != cout) {
        identity = b.conv(p + "downsample.0", x, cin, cout, 1, stride, 0);
        identity = b.batchnorm(p + "downsample.1", identity, cout);
    }
    return b.simple(p + "relu_out", Op::Relu, {b.simple(p + "add", Op::Add, {y, identity})});
}

std::string basic_block(Builder& b, const std::string& p, const std::string& x, int64_t cin,
                        int64_t planes, int64_t stride) {
    std::string y = b.conv(p + "conv1", x, cin, planes, 3, stride, 1);
    y = b.batchnorm(p + "bn1", y, planes);
    y = b.simple(p + "relu", Op::Relu, {y});
    y = b.conv(p + "conv2", y, planes, planes, 3, 1, 1);
    y = b.batchnorm(p + "bn2", y, planes);
    return add_shortcut(b, p, x, y, cin, planes, stride);
}

std::string bottleneck(Builder& b, const std::string& p, const std::string& x, int64_t cin,
                       int64_t planes, int64_t width, int64_t stride) {
    int64_t cout = planes * 4;
    std::string y = b.conv(p + "conv1", x, cin, width, 1, 1, 0);
    y = b.batchnorm(p + "bn1", y, width);
    y = b.simple(p + "relu", Op::Relu, {y});
    y = b.conv(p + "conv2", y, width, width, 3, stride, 1);  // torchvision v1.5: stride on the 3x3
    y = b.batchnorm(p + "bn2", y, width);
    y = b.simple(p + "relu2", Op::Relu, {y});
    y = b.conv(p + "conv3", y, width, cout, 1, 1, 0);
    y = b.batchnorm(p + "bn3", y, cout);
    return add_shortcut(b, p, x, y, cin, cout, stride);
}

void check_range(const char* what, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi)
        throw Error(std::string("built-in model: ") + what + "=" + std::to_string(v) +
                    " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

int64_t parse_int(const std::string& spec, const std::string& key, const std::string& text) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size())
        throw Error("'" + spec + "': option " + key + "=" + text + " is not an integer");
    return v;
}

}  // namespace

// Scales each conv so that its output has unit second moment on a random input (LSUV-style).
// He scaling alone keeps a plain chain steady, but with BN statistics that do not match the
// activations every residual block would double their energy: ResNet-152 logits would reach
// ~1e7. Calibrated, activations stay O(1..10) and outputs compare meaningfully in fp32.
void build_detail::calibrate(Graph& g, const ResNetConfig& c, uint64_t seed) {
    int64_t h = std::min<int64_t>(c.input_height, 64), w = std::min<int64_t>(c.input_width, 64);
    Tensor x({1, c.input_channels, h, w});
    Random rng(seed ^ 0xC0FFEEull);
    rng.fill_uniform(x.data, -1.7f, 1.7f);  // unit variance, like a normalized image
    std::unordered_map<std::string, Tensor> live{{"input", std::move(x)}};
    auto in = [&](const Node& n, size_t i) -> const Tensor& {
        auto it = live.find(n.inputs[i]);
        return it != live.end() ? it->second : g.initializers.at(n.inputs[i]);
    };
    for (const Node& n : g.nodes) {
        if (n.op == Op::Gemm) break;  // the classifier keeps torch's default scale
        Tensor y;
        switch (n.op) {
            case Op::Conv: {
                Tensor& weight = g.initializers.at(n.inputs[1]);
                y = cpu::conv2d(in(n, 0), weight, nullptr, n.attrs);
                double energy = 0;
                for (float v : y.data) energy += static_cast<double>(v) * v;
                energy /= static_cast<double>(std::max<int64_t>(y.size(), 1));
                if (energy > 0) {
                    float k = static_cast<float>(1.0 / std::sqrt(energy));
                    for (float& v : weight.data) v *= k;
                    for (float& v : y.data) v *= k;
                }
                break;
            }
            case Op::BatchNormalization:
                y = cpu::batchnorm(in(n, 0), in(n, 1), in(n, 2), in(n, 3), in(n, 4),
                                   n.attrs.epsilon);
                break;
            case Op::Relu:
                y = cpu::relu(in(n, 0));
                break;
            case Op::Clip:
                y = cpu::clip(in(n, 0), n.attrs.clip_min, n.attrs.clip_max);
                break;
            case Op::Add:
                y = cpu::add(in(n, 0), in(n, 1));
                break;
            case Op::MaxPool:
                y = cpu::max_pool(in(n, 0), n.attrs);
                break;
            default:
                y = in(n, 0);
                break;
        }
        live[n.outputs[0]] = std::move(y);
    }
}

std::vector<std::string> builtin_model_names() {
    std::vector<std::string> names;
    for (const auto& a : kArchs) names.emplace_back(a.name);
    for (const auto& a : build_detail::mobile_model_names()) names.push_back(a);
    return names;
}

Graph build_resnet(const ResNetConfig& c) {
    check_range("channels", c.input_channels, 1, 64);
    check_range("height", c.input_height, 8, 4096);
    check_range("width of the input", c.input_width, 8, 4096);
    check_range("classes", c.num_classes, 1, 100000);
    check_range("width", c.base_width, 1, 1024);
    if (build_detail::is_mobile_arch(c.arch)) return build_detail::build_mobile(c);
    const ArchSpec& arch = find_arch(c.arch);

    Graph g;
    g.name = c.arch;
    g.inputs.push_back({"input", {-1, c.input_channels, c.input_height, c.input_width}});
    Builder b(g, c.seed);

    std::string x = b.conv("conv1", "input", c.input_channels, c.base_width, 7, 2, 3);
    x = b.batchnorm("bn1", x, c.base_width);
    x = b.simple("relu", Op::Relu, {x});
    Attrs pool;
    pool.kernel = {3, 3};
    pool.strides = {2, 2};
    pool.pads = {1, 1, 1, 1};
    x = b.simple("maxpool", Op::MaxPool, {x}, pool);

    int64_t channels = c.base_width;
    for (int stage = 0; stage < 4; ++stage) {
        int64_t planes = c.base_width << stage;
        // torchvision: width = planes * (width_per_group / 64) * groups.
        int64_t width = planes * arch.width_per_group / 64;
        for (int i = 0; i < arch.blocks[stage]; ++i) {
            std::string prefix =
                "layer" + std::to_string(stage + 1) + "." + std::to_string(i) + ".";
            int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
            if (arch.bottleneck) {
                x = bottleneck(b, prefix, x, channels, planes, width, stride);
                channels = planes * 4;
            } else {
                x = basic_block(b, prefix, x, channels, planes, stride);
                channels = planes;
            }
        }
    }
    x = b.simple("avgpool", Op::GlobalAveragePool, {x});
    x = b.simple("flatten", Op::Flatten, {x});
    b.linear("fc", x, channels, c.num_classes, "logits");
    g.outputs.push_back("logits");
    build_detail::calibrate(g, c, c.seed);
    return g;
}

std::optional<ResNetConfig> parse_builtin_spec(const std::string& spec) {
    const std::string prefix = "builtin:";
    if (spec.rfind(prefix, 0) != 0) return std::nullopt;
    ResNetConfig c;
    std::string rest = spec.substr(prefix.size());
    size_t q = rest.find('?');
    c.arch = rest.substr(0, q);
    if (!build_detail::is_mobile_arch(c.arch)) find_arch(c.arch);
    if (q == std::string::npos) return c;
    std::string options = rest.substr(q + 1);
    size_t pos = 0;
    while (pos <= options.size()) {
        size_t amp = options.find('&', pos);
        std::string item =
            options.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
        pos = amp == std::string::npos ? options.size() + 1 : amp + 1;
        if (item.empty()) continue;
        size_t eq = item.find('=');
        if (eq == std::string::npos)
            throw Error("'" + spec + "': option '" + item + "' needs a value (key=value)");
        std::string key = item.substr(0, eq), value = item.substr(eq + 1);
        if (key == "classes") {
            c.num_classes = parse_int(spec, key, value);
        } else if (key == "size") {
            size_t x = value.find_first_of("xX");
            c.input_height = parse_int(spec, key, value.substr(0, x));
            c.input_width =
                x == std::string::npos ? c.input_height : parse_int(spec, key, value.substr(x + 1));
        } else if (key == "channels") {
            c.input_channels = parse_int(spec, key, value);
        } else if (key == "width") {
            c.base_width = parse_int(spec, key, value);
        } else if (key == "seed") {
            c.seed = static_cast<uint64_t>(parse_int(spec, key, value));
        } else {
            throw Error("'" + spec + "': unknown option '" + key +
                        "' (valid: classes, size, channels, width, seed)");
        }
    }
    check_range("channels", c.input_channels, 1, 64);
    check_range("height", c.input_height, 8, 4096);
    check_range("width of the input", c.input_width, 8, 4096);
    check_range("classes", c.num_classes, 1, 100000);
    check_range("width", c.base_width, 1, 1024);
    return c;
}

}  // namespace rm
