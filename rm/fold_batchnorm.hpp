#pragma once
#include "rm/graph.hpp"
#include "rm/node_mapping.hpp"

namespace rm {

struct FoldResult {
    Graph graph;
    NodeMapping mapping;  // each output node -> the input-graph nodes it came from
    int folded = 0;       // how many BatchNormalization nodes were folded
};

// Folds every BatchNormalization that directly follows a Conv (whose output has no other
// reader) into that Conv, in double precision, rounding once to fp32:
// W' = W * g/sqrt(var+eps), b' = beta + (b - mean) * g/sqrt(var+eps). Others stay.
FoldResult fold_batchnorm(const Graph& graph);

}  // namespace rm
