#pragma once
// The structure behind a ResidualBlock: which Conv/BN/ReLU nodes play which role. Internal to
// the passes; pointers refer into the graph given to match_residual_blocks.
#include <vector>

#include "rm/graph.hpp"
#include "rm/residual_blocks.hpp"

namespace rm::detail {

struct ConvUnit {
    const Node* conv = nullptr;
    const Node* bn = nullptr;  // null when BN is fused (or absent)
};

struct BlockMatch {
    ResidualBlock info;
    std::vector<ConvUnit> main;  // 2 (Basic) or 3 (Bottleneck, inverted residual) convs
    // The activations between them (main.size() - 1): Relu or Clip, each a uniform clamp.
    std::vector<const Node*> acts;
    // Pre-activation blocks (x + F(x), F starting with BN-ReLU on x): the per-channel scale
    // node (BatchNormalization or a Mul by a constant; null when absent) and the activation
    // that F applies to x before main[0]. pre_act null: main[0] reads x itself.
    const Node* pre_scale = nullptr;
    const Node* pre_act = nullptr;
    bool projection = false;
    ConvUnit shortcut;  // valid when projection
    // Per-channel constant scales on the shortcut (Mul by a constant, BatchNormalization):
    // before the projection conv (on x) and after it (or, for identity, all of them), in order.
    std::vector<const Node*> shortcut_pre, shortcut_post;
    const Node* add = nullptr;
    const Node* post_act = nullptr;  // Relu or Clip after the Add; null when there is none
    int64_t in_channels = 0;         // Cin of the block input
    // Channels the reserved copy occupies in every widened conv: Cin rounded up to whole groups
    // of the grouped middle convs (the channels past Cin are zero).
    int64_t reserved_channels = 0;
};

std::vector<BlockMatch> match_residual_blocks(const Graph& graph);

// y = scale * x + shift per channel: what a chain of shortcut scale nodes computes, composed in
// double. `channels` is the channel count they act on.
struct ChannelAffine {
    std::vector<double> scale, shift;
};
ChannelAffine shortcut_affine(const Graph& graph, const std::vector<const Node*>& nodes,
                              int64_t channels);

}  // namespace rm::detail
