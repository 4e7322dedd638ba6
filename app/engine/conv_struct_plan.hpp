#pragma once
// A conv with a structured weight (rm/conv_structure.hpp) as the engine runs it: each dense block
// as a conv over its channel windows (no multiply by the Dirac or zero parts), then one pass
// (shaders/conv_struct.comp) over the rows the blocks do not finish: copies and scaled copies of
// an input channel, identity merges added to a block's output, zero rows (their bias). Pure
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

struct StructuredConv {
    std::vector<StructuredConvBlock> blocks;
    // The epilogue's table (layout in shaders/conv_struct.comp); rows == 0: no epilogue.
    std::vector<uint32_t> table;
    uint32_t rows = 0;
    int64_t kh = 1, kw = 1;  // the conv's kernel (the epilogue reads the pixel under its centre)
    int64_t copies = 0, merges = 0;  // Dirac entries the epilogue applies (for the method name)
};

// `whole` is the conv as plan_conv would take it (relu, residual, bias of the whole conv);
// `bias` its values (null: none). Blocks whose rows get no merge and no other block fuse the
// bias, residual and ReLU; the others store their sum and the epilogue finishes them. Throws
// rm::Error when a block only partly overlaps the rows earlier blocks wrote (the caller runs
// the conv dense).
StructuredConv split_structured_conv(const ConvProblem& whole, const rm::ConvStructure& s,
                                     const rm::Tensor* bias);

// The epilogue's one dispatch (operands: X, W = the table, Y, Residual), after the blocks.
ConvPlan plan_conv_epilogue(const ConvProblem& whole, const StructuredConv& sc,
                            const DeviceCaps& caps);

}  // namespace rmvk
