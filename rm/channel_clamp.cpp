#include "rm/channel_clamp.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "rm/cpu_ops.hpp"

namespace rm {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// One value per channel from a constant that broadcasts per channel onto an NCHW tensor:
// a scalar, [C], [C,1,1] or [1,C,1,1] (also with C == 1). nullopt for any other shape.
std::optional<std::vector<float>> per_channel(const Graph& g, const std::string& name,
                                              int64_t channels) {
    auto it = g.initializers.find(name);
    if (it == g.initializers.end()) return std::nullopt;
    const Tensor& t = it->second;
    int64_t non_unit = 0, c = 1;
    const Shape& s = t.shape;
    if (s.size() > 4) return std::nullopt;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == 1) continue;
        // The channel axis is the one three from the end (ONNX broadcasting right-aligns).
        if (s.size() - i != 3) return std::nullopt;
        c = s[i];
        ++non_unit;
    }
    if (non_unit && c != channels) return std::nullopt;
    if (t.size() == 1) return std::vector<float>(static_cast<size_t>(channels), t.data[0]);
    return std::vector<float>(t.data.begin(), t.data.end());
}

}  // namespace

ChannelClamp ChannelClamp::uniform(int64_t channels, float lo, float hi) {
    return {std::vector<float>(static_cast<size_t>(channels), lo),
            std::vector<float>(static_cast<size_t>(channels), hi)};
}

bool ChannelClamp::is_uniform() const {
    return std::adjacent_find(lo.begin(), lo.end(), std::not_equal_to<>()) == lo.end() &&
           std::adjacent_find(hi.begin(), hi.end(), std::not_equal_to<>()) == hi.end();
}

bool ChannelClamp::is_relu() const {
    return std::all_of(lo.begin(), lo.end(), [](float v) { return v == 0.0f; }) &&
           std::all_of(hi.begin(), hi.end(), [](float v) { return v == kInf; });
}

bool ChannelClamp::is_identity() const {
    return std::all_of(lo.begin(), lo.end(), [](float v) { return v == -kInf; }) &&
           std::all_of(hi.begin(), hi.end(), [](float v) { return v == kInf; });
}

std::optional<ChannelClamp> as_channel_clamp(const Graph& g, const Node& n, int64_t channels) {
    if (channels < 1) return std::nullopt;
    switch (n.op) {
        case Op::Relu:
            return ChannelClamp::uniform(channels, 0.0f, kInf);
        case Op::Clip:
            return ChannelClamp::uniform(channels, n.attrs.clip_min, n.attrs.clip_max);
        case Op::PRelu: {
            // slope 0: ReLU, slope 1: identity; any other slope is not a clamp.
            auto slope =
                n.inputs.size() == 2 ? per_channel(g, n.inputs[1], channels) : std::nullopt;
            if (!slope) return std::nullopt;
            ChannelClamp c = ChannelClamp::uniform(channels, 0.0f, kInf);
            for (size_t i = 0; i < slope->size(); ++i) {
                if ((*slope)[i] == 1.0f)
                    c.lo[i] = -kInf;
                else if ((*slope)[i] != 0.0f)
                    return std::nullopt;
            }
            return c;
        }
        case Op::Max:
        case Op::Min: {
            if (n.inputs.size() != 2) return std::nullopt;
            // The constant may be either operand; the other is the tensor clamped.
            const bool second = g.is_initializer(n.inputs[1]);
            if (second == g.is_initializer(n.inputs[0])) return std::nullopt;
            auto bound = per_channel(g, n.inputs[second ? 1 : 0], channels);
            if (!bound ||
                std::any_of(bound->begin(), bound->end(), [](float v) { return std::isnan(v); }))
                return std::nullopt;
            ChannelClamp c = ChannelClamp::uniform(channels, -kInf, kInf);
            (n.op == Op::Max ? c.lo : c.hi) = *bound;
            return c;
        }
        default:
            return std::nullopt;
    }
}

ChannelClamp compose(const ChannelClamp& first, const ChannelClamp& second) {
    ChannelClamp c = first;
    for (size_t i = 0; i < c.lo.size(); ++i) {
        c.lo[i] = cpu::clamp_keep_nan(first.lo[i], second.lo[i], second.hi[i]);
        c.hi[i] = cpu::clamp_keep_nan(first.hi[i], second.lo[i], second.hi[i]);
    }
    return c;
}

std::vector<std::string> append_clamp_nodes(Graph& g, const std::string& name,
                                            const std::string& input, const std::string& output,
                                            const ChannelClamp& clamp) {
    const int64_t channels = clamp.channels();
    auto add = [&](const std::string& node, Op op, std::vector<std::string> inputs,
                   const std::string& out) {
        Node n;
        n.name = node;
        n.op = op;
        n.inputs = std::move(inputs);
        n.outputs = {out};
        g.nodes.push_back(std::move(n));
        return &g.nodes.back();
    };
    auto constant = [&](const std::string& tensor, const std::vector<float>& values) {
        g.initializers[tensor] = Tensor(Shape{1, channels, 1, 1}, values);
        return tensor;
    };
    if (clamp.is_identity()) {
        add(name, Op::Identity, {input}, output);
        return {name};
    }
    if (clamp.is_relu()) {
        add(name, Op::Relu, {input}, output);
        return {name};
    }
    if (clamp.is_uniform()) {
        Node* n = add(name, Op::Clip, {input}, output);
        n->attrs.clip_min = clamp.lo[0];
        n->attrs.clip_max = clamp.hi[0];
        return {name};
    }
    const bool relu_or_identity =
        std::all_of(clamp.hi.begin(), clamp.hi.end(), [](float v) { return v == kInf; }) &&
        std::all_of(clamp.lo.begin(), clamp.lo.end(),
                    [](float v) { return v == 0.0f || v == -kInf; });
    if (relu_or_identity) {
        std::vector<float> slope(clamp.lo.size());
        for (size_t i = 0; i < slope.size(); ++i) slope[i] = clamp.lo[i] == 0.0f ? 0.0f : 1.0f;
        add(name, Op::PRelu, {input, constant(name + ".slope", slope)}, output);
        return {name};
    }
    const bool has_lo =
        std::any_of(clamp.lo.begin(), clamp.lo.end(), [](float v) { return v != -kInf; });
    const bool has_hi =
        std::any_of(clamp.hi.begin(), clamp.hi.end(), [](float v) { return v != kInf; });
    std::vector<std::string> made;
    std::string x = input;
    if (has_lo) {
        const std::string out = has_hi ? name + ".max" : output;
        add(name + (has_hi ? ".max" : ""), Op::Max, {x, constant(name + ".lo", clamp.lo)}, out);
        made.push_back(g.nodes.back().name);
        x = out;
    }
    if (has_hi) {
        add(name, Op::Min, {x, constant(name + ".hi", clamp.hi)}, output);
        made.push_back(name);
    }
    return made;
}

}  // namespace rm
