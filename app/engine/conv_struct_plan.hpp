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

// Where a structured conv's input channels are held. The engine does not store reserved
// channels that are exact copies of an earlier tensor's channels on the same pixel grid (the
// elided runs below): the convs that read them read the tensor they copy instead, so a chain of
// copies collapses to its one source. Source 0 is the conv's own input (whole.x).
struct ConvSource {
    rm::Shape shape;  // NCHW; the same height and width as whole.x
    uint64_t first = 0;
    bool nonnegative = false;  // every value >= 0 (a ReLU's output): a ReLU keeps a copy exact
};
struct ChannelRef {
    int source = 0;
    int64_t channel = 0;
    bool operator==(const ChannelRef&) const = default;
};
struct ConvInputs {
    std::vector<ConvSource> sources;   // [0]: the conv's input; empty: whole.x, sign unknown
    std::vector<ChannelRef> channels;  // per input channel; empty: each in source 0 itself
    ChannelRef at(int64_t c) const {
        return channels.empty() ? ChannelRef{0, c} : channels.at(static_cast<size_t>(c));
    }
    // True when input channels [begin, end) are consecutive channels of one source.
    bool one_source(int64_t begin, int64_t end) const;
};

// Output channels [out_begin, out_begin + channels) are not stored: channel out_begin + i is
// channel from.channel + i of source from.source, and its readers read it there.
struct ElidedRun {
    int64_t out_begin = 0, channels = 0;
    ChannelRef from;
};

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
    int x_source = 0;  // the source its input window is read from (problem.x is its shape)
    // -1: the whole conv's residual (Y when accumulating); k >= 0: source k, the identity
    // merges of its rows folded into its epilogue as a residual Add.
    int residual_source = -1;
};

// Output channels [out_begin, out_begin + channels) =
//   relu(start + scale * x[in_begin + i] under the centre tap (when has_input) + residual).
struct EpiloguePass {
    enum class Start : uint32_t { Zero = 0, Bias = 1, Stored = 2 };  // Stored: what blocks wrote
    int64_t out_begin = 0, channels = 0, in_begin = 0;  // in_begin: a channel of `source`
    int source = 0;
    bool has_input = false;
    Start start = Start::Zero;
    float scale = 1.0f;
};

struct StructuredConv {
    std::vector<StructuredConvBlock> blocks;
    std::vector<EpiloguePass> passes;  // disjoint rows, after the blocks
    std::vector<ElidedRun> elided;     // rows neither blocks nor passes write
    int64_t kh = 1, kw = 1;  // the conv's kernel (the passes read the pixel under its centre)
};

// `whole` is the conv as plan_conv would take it (relu, residual, bias of the whole conv);
// `bias` its values (null: none); `inputs` where its input channels are held. A block fuses
// the residual and ReLU when it is the last to write its rows and no merge adds to them, or
// when the merges into its rows are identity merges of consecutive channels of one source on
// the conv's own pixel grid (then that source is its residual); the passes finish the other
// rows. A copy row (a Dirac 1 under a centre tap on the row's own pixel, zero bias, no
// residual, a ReLU only over a non-negative source) that `may_elide` allows (null: none) is
// elided instead. Throws rm::Error for what the split does not handle (the caller runs the
// conv dense): a block that partly overlaps another's rows, a row with more than one Dirac
// entry, a block whose input window is not one source, grids past 65535.
StructuredConv split_structured_conv(const ConvProblem& whole, const rm::ConvStructure& s,
                                     const rm::Tensor* bias, const ConvInputs& inputs = {},
                                     const std::vector<bool>* may_elide = nullptr);

// One dispatch per pass that reads source `source` (operands: X = that source, whose shape and
// offset `whole.x` and `whole.x_first` then are, Bias = the whole conv's bias, Y, Residual).
ConvPlan plan_conv_epilogue(const ConvProblem& whole, const StructuredConv& sc,
                            const DeviceCaps& caps, int source = 0);
// The sources the passes read (source 0 first when any pass reads it or reads nothing).
std::vector<int> epilogue_sources(const StructuredConv& sc);

}  // namespace rmvk
