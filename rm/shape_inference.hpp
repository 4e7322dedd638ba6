#pragma once
#include <map>
#include <string>
#include <unordered_map>

#include "rm/graph.hpp"

namespace rm {

using ShapeMap = std::unordered_map<std::string, Shape>;

// Shapes of every tensor (inputs, initializers, node outputs) for a given batch size, which
// replaces symbolic input dimensions (batch <= 0 keeps a declared batch, or 1 if symbolic).
// Resolves auto_pad and absent Conv kernel shapes into the node attributes, so it takes the
// graph by reference. Throws rm::Error naming the node and operator on any inconsistency
// (channel mismatch, group not dividing channels, empty or absurdly large outputs, ...).
ShapeMap infer_shapes(Graph& graph, int64_t batch = 0);

// The same on a copy of the nodes; for callers holding a const graph. `resolved_nodes`, when
// given, receives the nodes with auto_pad and kernel sizes resolved.
ShapeMap infer_shapes_of(const Graph& graph, int64_t batch = 0,
                         std::vector<Node>* resolved_nodes = nullptr);

// Shapes for concrete input shapes (keyed by graph input name; the declared shapes are ignored,
// so check them first). Used by the CPU executor with the shapes of the tensors it was given.
// `resolved_nodes`, when given, receives the nodes with auto_pad and kernel sizes resolved.
ShapeMap infer_shapes_for_inputs(const Graph& graph,
                                 const std::map<std::string, Shape>& input_shapes,
                                 std::vector<Node>* resolved_nodes = nullptr);

}  // namespace rm
