#pragma once
// Channel pruning, the payoff of RM (shared RM.md, section Pruning). In the plain graph every
// conv's output channels can go, the reserved copies included; in a ResNet the channels on the
// residual path are tied across every Add and only block-internal ones can.
//
// A channel goes when it carries nothing any reader uses: it is zero (its conv row and bias
// are zero, or it copies a channel that is), no reader has a non-zero weight on it, or it is a
// constant, which is folded into each reader's bias. That fold is exact for an unpadded reader
// and an approximation at the borders of a padded one (listed in `approximations`). A threshold
// first zeroes the conv rows (and the sole reader's columns) whose L2 norm, relative to the
// median of its layer's rows (columns) of the same kind, is below it: once BatchNormalization
// is folded, the scales of a sparsity-trained model live in those norms.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rm/graph.hpp"
#include "rm/node_mapping.hpp"

namespace rm {

enum class PruneMode {
    Plain,     // RM first, then every channel
    Residual,  // BN folded, the residual graph kept: only what a ResNet allows
};
const char* prune_mode_name(PruneMode mode);  // "plain", "residual"

// The graph pruning starts from: BN folded, RM applied for Plain, conv weights dense.
struct PruneBase {
    PruneMode mode = PruneMode::Plain;
    Graph graph;
    NodeMapping mapping;  // Plain: plain node -> residual nodes (rm_transform's)
};
PruneBase prepare_pruning(const Graph& residual, PruneMode mode);

// One Conv or Gemm of the unpruned graph, before and after.
struct PrunedLayer {
    std::string node;
    Op op = Op::Conv;
    int64_t out_before = 0, out_after = 0;
    int64_t in_before = 0, in_after = 0;
};

// Constants folded into a padded reader's bias: exact inside, approximate where the kernel
// overlaps the padding.
struct PruneApproximation {
    std::string node;  // the reader
    int64_t channels = 0;
};

struct PruneResult {
    Graph graph;  // pruned; conv weights structured again (structure_conv_weights)
    std::vector<PrunedLayer> layers;  // graph order
    // For every feature map that has a channel numbering: the channels of the unpruned graph
    // that survive, in order (what the feature-map view shows).
    std::map<std::string, std::vector<int64_t>> kept_channels;
    std::vector<PruneApproximation> approximations;
    int64_t constants_folded_exactly = 0;
    int64_t rows_zeroed = 0, columns_zeroed = 0;      // by the threshold
    int64_t channels_before = 0, channels_after = 0;  // summed over the Convs' outputs
};

// threshold 0 removes only what carries nothing (exact, up to the approximations listed).
PruneResult prune(const PruneBase& base, double threshold);

// The relative norms a threshold compares against (rows of single-producer convs, columns of their
// sole readers), sorted ascending, zeros included: the sweep picks its thresholds among them.
std::vector<double> prune_scores(const PruneBase& base);

}  // namespace rm
