#pragma once
#include <string>
#include <vector>

#include "rm/graph.hpp"

namespace rm {

// A residual block found in a graph: act(main(x) + shortcut(x)), act a ReLU, a clamp (ReLU6) or
// nothing (inverted residuals, pre-activation blocks).
struct ResidualBlock {
    enum class Kind { Basic, Bottleneck };
    std::string name;  // e.g. "layer1.0" or the Add node's name
    Kind kind = Kind::Basic;
    std::string input;   // tensor x
    std::string output;  // tensor after the final activation (or the Add)
    // convs/BNs/activations of the main branch, in order (a pre-activation block's BN and
    // activation on x first)
    std::vector<std::string> main_nodes;
    // The shortcut path in order: per-channel scales (Mul by a constant, BatchNormalization)
    // and, for a projection, its conv (+BN). Empty for a plain identity shortcut.
    std::vector<std::string> shortcut_nodes;
    bool projection = false;
    std::string add_node;
    std::string relu_node;        // the activation after the Add (Relu or Clip); empty when none
    bool pre_activation = false;  // F starts with BN-activation on x
    int64_t stride = 1;
    int64_t groups = 1;  // of the 3x3 conv
    // Proven from the graph (ReLU or MaxPool of a ReLU). When false the reserved copy gets the
    // identity activation in the widened convs' per-channel clamps.
    bool input_non_negative = false;
    int64_t padding_channels = 0;  // zero channels padding the reserved copy to whole groups
    bool convertible = false;
    std::string reason;  // why not, when !convertible
};

// Finds every BasicBlock / Bottleneck pattern, BN folded or not. Blocks that match the
// pattern but cannot be converted exactly are returned with convertible=false and a reason.
std::vector<ResidualBlock> find_residual_blocks(const Graph& graph);

}  // namespace rm
