#pragma once
#include <string>
#include <vector>

#include "rm/graph.hpp"

namespace rm {

// A residual block found in a graph: relu(main(x) + shortcut(x)).
struct ResidualBlock {
    enum class Kind { Basic, Bottleneck };
    std::string name;  // e.g. "layer1.0" or the Add node's name
    Kind kind = Kind::Basic;
    std::string input;                    // tensor x
    std::string output;                   // tensor after the final ReLU
    std::vector<std::string> main_nodes;  // convs/BNs/ReLUs of the main branch, in order
    // The shortcut path in order: per-channel scales (Mul by a constant, BatchNormalization)
    // and, for a projection, its conv (+BN). Empty for a plain identity shortcut.
    std::vector<std::string> shortcut_nodes;
    bool projection = false;
    std::string add_node;
    std::string relu_node;  // the ReLU after the Add
    int64_t stride = 1;
    int64_t groups = 1;               // of the 3x3 conv
    bool input_non_negative = false;  // proven from the graph (ReLU or MaxPool of a ReLU)
    bool convertible = false;
    std::string reason;  // why not, when !convertible
};

// Finds every BasicBlock / Bottleneck pattern, BN folded or not. Blocks that match the
// pattern but cannot be converted exactly are returned with convertible=false and a reason.
std::vector<ResidualBlock> find_residual_blocks(const Graph& graph);

}  // namespace rm
