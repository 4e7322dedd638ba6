#pragma once
#include <functional>
#include <map>
#include <string>

#include "rm/graph.hpp"

namespace rm {

struct CpuRunOptions {
    int threads = 0;                  // 0: std::thread::hardware_concurrency()
    bool keep_intermediates = false;  // return every node output, not only the graph outputs
    // Run convs with structured weights on their dense weight (materialised one conv at a time)
    // instead of block by block: what a generic runtime does with the exported ONNX.
    bool dense_structured = false;
    // Called after each node with its index and the node count (progress bars).
    std::function<void(size_t done, size_t total)> on_node;
};

// The reference meaning of every operator, in fp32 (accumulating in double where it matters
// little for speed). Inputs are keyed by graph input name; the batch is taken from them.
// Returns graph outputs (and, with keep_intermediates, every tensor produced).
std::map<std::string, Tensor> run_cpu(const Graph& graph,
                                      const std::map<std::string, Tensor>& inputs,
                                      const CpuRunOptions& options = {});

}  // namespace rm
