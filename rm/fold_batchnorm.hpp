#pragma once
#include <vector>

#include "rm/graph.hpp"
#include "rm/node_mapping.hpp"

namespace rm {

struct FoldResult {
    Graph graph;
    NodeMapping mapping;  // each output node -> the input-graph nodes it came from
    int folded = 0;       // how many BatchNormalization nodes were folded
    int identities_removed = 0;
};

// Folds every BatchNormalization that directly follows a Conv (whose output has no other
// reader) into that Conv, in double precision, rounding once to fp32:
// W' = W * g/sqrt(var+eps), b' = beta + (b - mean) * g/sqrt(var+eps). Others stay.
// Identity nodes are bypassed first (their readers read the Identity's input); one whose
// output is a graph output stays. The mapping lists a removed Identity under the node that
// produces its input. The folded Conv keeps its name and writes the BN's output tensor.
FoldResult fold_batchnorm(const Graph& graph);

// The dense weight of `conv` with `bn` (may be null: the weight as it is) folded in, as
// fold_batchnorm folds it: each value float(double(w) * g/sqrt(var+eps)).
Tensor folded_weight(const Graph& graph, const Node& conv, const Node* bn);

// The bias of `conv` with `bn` (may be null) folded in, in double precision, one entry per
// output channel. Lets later passes add two folded biases and still round only once.
std::vector<double> folded_bias(const Graph& graph, const Node& conv, const Node* bn);

}  // namespace rm
