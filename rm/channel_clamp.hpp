#pragma once
// The per-channel clamp: the one activation the engine fuses into a conv's epilogue. ReLU
// (0, +inf), ReLU6 (0, 6), the identity (-inf, +inf) and the per-channel mixes RM needs when a
// block input can be negative (reserved channels identity, the others ReLU/ReLU6) are all
// clamps. In a graph it is written with standard ONNX operators, so other runtimes run it:
// Relu or Clip where the bounds are the same on every channel, PRelu (slopes 0 and 1) where
// they are mixes of ReLU and identity, Max/Min with [1, C, 1, 1] constants otherwise.
#include <optional>
#include <string>
#include <vector>

#include "rm/graph.hpp"

namespace rm {

struct ChannelClamp {
    std::vector<float> lo, hi;  // one pair per channel

    static ChannelClamp uniform(int64_t channels, float lo, float hi);
    int64_t channels() const { return static_cast<int64_t>(lo.size()); }
    bool is_uniform() const;
    bool is_relu() const;      // (0, +inf) on every channel
    bool is_identity() const;  // (-inf, +inf) on every channel
};

// The clamp node `n` applies to a tensor of `channels` channels (NCHW): Relu, Clip, PRelu with
// every slope 0 or 1, Max/Min with a constant operand that is one value per channel or one
// value in all; nullopt for anything else.
std::optional<ChannelClamp> as_channel_clamp(const Graph& g, const Node& n, int64_t channels);

// `first` then `second` as one clamp: [clamp(lo1, lo2, hi2), clamp(hi1, lo2, hi2)] per channel
// (exact for every input, NaN included: both keep it).
ChannelClamp compose(const ChannelClamp& first, const ChannelClamp& second);

// Appends nodes computing `output = clamp(input)` to `g` (and their constants), named from
// `name`, in the ONNX form described above; returns the nodes appended (at least one: the
// identity clamp is an Identity node).
std::vector<std::string> append_clamp_nodes(Graph& g, const std::string& name,
                                            const std::string& input, const std::string& output,
                                            const ChannelClamp& clamp);

}  // namespace rm
