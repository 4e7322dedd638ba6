#pragma once
// A worked pixel: one output value of a residual block computed both ways, from the tensors a
// run of each graph kept. The residual block gives ReLU(F(x) + shortcut(x)); the plain chain's
// last conv gives ReLU(bias + original columns + merge columns), where the merge columns read
// the reserved channels, copies of x carried through the chain by Dirac kernels.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rm/explain_block.hpp"

namespace rm {

struct PixelTerm {
    std::string label;
    double value = 0;
};

struct WorkedPixel {
    int64_t channel = 0, y = 0, x = 0;  // in the block's output
    std::vector<PixelTerm> residual;    // F(x), shortcut(x), their sum, the block output
    // main bias, original columns, shortcut bias, merge columns, sum, output
    std::vector<PixelTerm> plain;
    // The reserved channel that feeds the merge most (identity: the channel itself): its value
    // in x, after each conv' and ReLU of the chain, then its term in the merge sum.
    int64_t reserved_channel = 0;
    std::vector<PixelTerm> reserved;
    double residual_value = 0, plain_value = 0, difference = 0;
    double max_abs_ref = 0;  // max |block output| of the residual run
    double tolerance = 0;    // 1e-4 * max_abs_ref
    bool agree = false;
};

// A run's tensor by name, nullptr when it kept none (a run's tensors may live on a device and be
// read back one at a time).
using TensorLookup = std::function<std::shared_ptr<const Tensor>(const std::string&)>;
// Looks up in `tensors` (which must outlive the lookup).
TensorLookup lookup_in(const std::map<std::string, Tensor>& tensors);

// Throws rm::Error (a line a user understands) when a tensor the block needs was not kept or
// the position is outside the output.
WorkedPixel work_pixel(const BlockExplanation& e, const Graph& residual, const Graph& plain,
                       const TensorLookup& residual_tensors, const TensorLookup& plain_tensors,
                       int64_t channel, int64_t y, int64_t x);

}  // namespace rm
