#pragma once
#include <string>
#include <vector>

#include "rm/graph.hpp"
#include "rm/shape_inference.hpp"

namespace rm {

// Work and size of one node: multiply-accumulates for one run at the inferred batch, and the
// number of weight parameters (initializer elements) it reads.
struct NodeCost {
    std::string node;
    int64_t macs = 0;
    int64_t params = 0;
};

struct GraphCost {
    std::vector<NodeCost> nodes;  // graph order
    int64_t total_macs = 0;
    int64_t total_params = 0;  // distinct initializers counted once
};

GraphCost compute_cost(const Graph& graph, const ShapeMap& shapes);

}  // namespace rm
