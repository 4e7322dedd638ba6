#pragma once
// A conv with a structured weight (rm/conv_structure.hpp) as the engine runs it: each dense block
// as a conv over its channel windows (no multiply by the Dirac or zero parts), then a pass
// (shaders/conv_struct.comp) per run of rows the blocks do not finish: copies and scaled copies
// of input channels, identity merges added to a block's output, zero rows (their bias). Pure
// functions of shapes, structure and device description, like plan_conv.
#include <cstdint>
#include <memory>
#include <vector>

#include "app/engine/conv_plan.hpp"
#include "rm/conv_structure.hpp"

namespace rmvk {

struct StructuredConvBlock {
    ConvProblem problem;                       // the whole conv's, narrowed to the block's windows
    std::unique_ptr<rm::Attrs> attrs;          // problem.attrs points here
    std::shared_ptr<const rm::Tensor> weight;  // the block's [out, in / group, kh', kw']
    int64_t group = 1;
    rm::Tensor bias;  // the block's rows of the conv's bias (empty: no bias)
    // Its rows were stored by earlier blocks (a projection merged into a 3x3 conv reads other
    // input channels into the same outputs): it adds y as its residual (operand Residual = Y),
    // after a barrier, and the bias was added by the first.
    bool accumulate = false;
};

// Output channels [out_begin, out_begin + channels) =
//   relu(start + scale * x[in_begin + i] under the centre tap (when has_input) + residual).
struct EpiloguePass {
    enum class Start : uint32_t { Zero = 0, Bias = 1, Stored = 2 };  // Stored: what blocks wrote
    int64_t out_begin = 0, channels = 0, in_begin = 0;
    bool has_input = false;
    Start start = Start::Zero;
    float scale = 1.0f;
};

struct StructuredConv {
    std::vector<StructuredConvBlock> blocks;
    std::vector<EpiloguePass> passes;  // disjoint rows, after the blocks
    int64_t kh = 1, kw = 1;  // the conv's kernel (the passes read the pixel under its centre)
};

// `whole` is the conv as plan_conv would take it (relu, residual, bias of the whole conv);
// `bias` its values (null: none). A block fuses the residual and ReLU when it is the last to
// write its rows and no merge adds to them; the passes finish the other rows. Throws rm::Error
// for what the split does not handle (the caller runs the conv dense): a block that partly
// overlaps another's rows, a row with more than one Dirac entry, grids past 65535.
StructuredConv split_structured_conv(const ConvProblem& whole, const rm::ConvStructure& s,
                                     const rm::Tensor* bias);

// One dispatch per pass (operands: X, Bias = the whole conv's bias, Y, Residual).
ConvPlan plan_conv_epilogue(const ConvProblem& whole, const StructuredConv& sc,
                            const DeviceCaps& caps);

}  // namespace rmvk
