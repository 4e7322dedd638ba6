#pragma once
// Composes consecutive linear 1x1 convs into one, exactly: Conv A (1x1, unpadded, any stride)
// whose output only Conv B (1x1, unpadded, stride 1) reads, with nothing between them, becomes
// one 1x1 conv with A's stride: W = W_B * W_A, b = W_B * b_A + b_B (in double, rounded once).
// After RM of inverted residuals, one block's project' and the next block's expand' are such a
// pair (MobileNetV2 becomes a MobileNetV1-like chain). A k x k conv is never composed: zero
// padding would not carry a 1x1 conv's bias through its border (see shared RM.md).
#include "rm/graph.hpp"
#include "rm/node_mapping.hpp"

namespace rm {

// Which pairs to compose. A composed conv is dense over A's input and B's output, so it costs
// out*in multiply-adds per pixel where the pair cost mid*(in + out): composing saves a layer
// (a dispatch, a stored tensor) but costs more arithmetic wherever the middle is the narrow side,
// as in an inverted residual's bottleneck.
enum class FuseLinear {
    fewer_macs,  // only pairs whose composed conv does no more multiply-adds than the pair
    all,         // every pair (the MobileNetV1-like chain, fewest layers)
};

struct FuseLinearResult {
    int fused = 0;    // pairs composed
    int skipped = 0;  // pairs left apart because composing them would cost more multiply-adds
};

// Rewrites `graph` in place; `mapping` (may be null), plain node -> origin, gets the composed
// node's origin as the union of both (B's channel ranges) and loses A's entry. The composed
// node keeps B's name and output tensor.
FuseLinearResult fuse_linear_1x1(Graph& graph, NodeMapping* mapping = nullptr,
                                 FuseLinear which = FuseLinear::fewer_macs);

}  // namespace rm
