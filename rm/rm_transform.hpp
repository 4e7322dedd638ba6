#pragma once
#include <vector>

#include "rm/graph.hpp"
#include "rm/node_mapping.hpp"
#include "rm/residual_blocks.hpp"

namespace rm {

struct RmOptions {
    // Refuse the whole transform when any block cannot be converted (otherwise such blocks are
    // kept residual and listed with their reason).
    bool require_all = false;
};

struct RmResult {
    Graph plain;                        // BN folded, residual blocks replaced by Conv-ReLU chains
    NodeMapping mapping;                // plain node -> residual-graph nodes (names of the input)
    std::vector<ResidualBlock> blocks;  // as found in the input graph, with convertible/reason
    int converted = 0;
};

// The RM (reserve-and-merge) operation: see shared RM.md. Folds BatchNormalization first.
// Reserved channels come first in every widened conv (channels [0, Cin) copy the block input).
RmResult rm_transform(const Graph& residual, const RmOptions& options = {});

}  // namespace rm
