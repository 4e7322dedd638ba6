#pragma once
#include <map>
#include <string>
#include <vector>

namespace rm {

// A range of output channels of a plain-graph node, [begin, end).
// reserved == true: a copy of the residual block input `source_tensor` (a residual-graph
// tensor name), carried by Dirac kernels. reserved == false: the original computation of the
// residual-graph node(s) in NodeOrigin::residual_nodes.
struct ChannelRange {
    int64_t begin = 0;
    int64_t end = 0;
    bool reserved = false;
    std::string source_tensor;
    // Zero channels padding the reserved copy to whole groups of a grouped conv (not reserved).
    bool padding = false;
};

// Where one plain-graph node came from.
struct NodeOrigin {
    std::vector<std::string> residual_nodes;  // e.g. {"conv1", "bn1", "relu"} or the block's Add
    std::vector<ChannelRange> channels;       // empty: all output channels are original
    std::string block;                        // the residual block it belongs to, if any
};

// plain node name -> origin. Every plain node has an entry.
using NodeMapping = std::map<std::string, NodeOrigin>;

// The plain nodes whose origin includes residual node `residual_node`.
std::vector<std::string> plain_nodes_for(const NodeMapping& mapping,
                                         const std::string& residual_node);

}  // namespace rm
