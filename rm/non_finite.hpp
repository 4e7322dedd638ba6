#pragma once
// Where NaN and Inf enter a model: its weights (and BatchNormalization statistics) or its input.
// They propagate to the outputs as in PyTorch, so the user is told at the source.
#include <string>
#include <vector>

#include "rm/compare.hpp"
#include "rm/graph.hpp"

namespace rm {

// One line per initializer that holds NaN or Inf, in graph order, naming it, what reads it and
// the count: "initializer 'fc.weight' (weight of Gemm 'fc') holds 1 NaN/Inf value of 640, the
// first (NaN) at index 3".
std::vector<std::string> non_finite_initializer_warnings(const Graph& graph);

// "" when `input` is finite, else "input 'x.npy' holds 784 NaN/Inf values of 784, ...".
std::string non_finite_input_warning(const Tensor& input, const std::string& what);

}  // namespace rm
