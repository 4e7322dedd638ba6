#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "rm/graph.hpp"
#include "rm/shape_inference.hpp"

namespace rm {

// Work and size of one node: multiply-accumulates for one run at the inferred batch, and the
// number of weight parameters (initializer elements) it reads. `macs` and `params` are the dense
// figures (what the exported ONNX costs a generic runtime); the structured ones count only the
// dense blocks of structured conv weights (what rmvk's structured execution multiplies and
// stores), and equal the dense ones elsewhere.
struct NodeCost {
    std::string node;
    int64_t macs = 0;
    int64_t params = 0;
    int64_t structured_macs = 0;
    int64_t structured_params = 0;
};

struct GraphCost {
    std::vector<NodeCost> nodes;  // graph order
    int64_t total_macs = 0;
    int64_t total_params = 0;  // distinct initializers counted once
    int64_t total_structured_macs = 0;
    int64_t total_structured_params = 0;
};

GraphCost compute_cost(const Graph& graph, const ShapeMap& shapes);

// A count with its digits grouped for a person to read: 11689512 -> "11,689,512".
std::string grouped_digits(int64_t v);

}  // namespace rm
