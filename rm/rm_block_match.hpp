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
    std::vector<ConvUnit> main;      // 2 (Basic) or 3 (Bottleneck) convs, input side first
    std::vector<const Node*> relus;  // the ReLUs between them (main.size() - 1)
    bool projection = false;
    ConvUnit shortcut;  // valid when projection
    // Per-channel constant scales on the shortcut (Mul by a constant, BatchNormalization):
    // before the projection conv (on x) and after it (or, for identity, all of them), in order.
    std::vector<const Node*> shortcut_pre, shortcut_post;
    const Node* add = nullptr;
    const Node* relu = nullptr;  // after the Add; null when there is none
    int64_t in_channels = 0;     // Cin of the block input
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
