#pragma once
// How RM builds one residual block's plain convs, in the four steps a teacher walks through:
// (1) the original block with BN, (2) BN folded into each conv, (3) reserve: the convs before
// the last get Dirac rows that copy the block input, (4) merge: the last conv gets the shortcut
// as extra input columns (identity: Dirac; projection: its folded 1x1 weights at the centre).
// Every weight shown is described as labelled parts (output x input channel rectangles) with
// the residual-graph weight each came from. A pre-activation block (x + F(x), F starting with
// BN-ReLU of x) gets one more plain conv first: a 1x1 conv0' whose rows copy x (reserve) and
// apply the BN to x (PreActivation parts), before conv1'. The GUI's Explain tab draws this; the
// parts come from conv_structure's regions, not from a second reading of the weights.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rm/conv_structure.hpp"
#include "rm/cost.hpp"
#include "rm/rm_transform.hpp"

namespace rm {

enum class WeightPartKind {
    Original,         // the residual-graph conv's weights (folded from step 2 on)
    ReservedCopy,     // Dirac rows that copy the block input (reserve)
    Zero,             // no path: all zero
    IdentityMerge,    // Dirac columns that add the identity shortcut (merge)
    ProjectionMerge,  // the projection shortcut's folded 1x1 weights at the kernel centre
    PreActivation,    // a pre-activation block's BN of x as scaled Dirac rows (its shift: bias)
};
const char* weight_part_name(WeightPartKind kind);  // "original (folded)", ...

// Output channels [out_begin, out_end) x input channels [in_begin, in_end) of one conv weight.
// Original / ProjectionMerge: values from residual conv `source_conv` (weight
// `source_weight`), its output channel o - out_begin and input channel i - in_begin, with BN
// `source_bn` folded in (empty: none, or not folded at this step). Dirac kinds pair
// out_begin + k with in_begin + k, value `scale`, copying block input `source_weight`;
// PreActivation's `source_conv` is the BN (or Mul) node whose per-channel scale they hold
// (empty: the block has none, scale 1).
struct WeightPart {
    WeightPartKind kind = WeightPartKind::Original;
    int64_t out_begin = 0, out_end = 0, in_begin = 0, in_end = 0;
    std::string source_conv{}, source_weight{}, source_bn{};
    float scale = 1.0f;
};

// One conv weight as drawn: its structure (the values), parts, bias and where it sits.
struct ExplainedConv {
    std::string node;   // the plain conv' or the residual conv
    std::string title;  // "conv1", "conv1' (reserve)", ...
    bool plain = false;
    ConvStructure weight;
    std::shared_ptr<const Tensor> bias;  // null: no bias (step 1 convs whose BN follows)
    std::vector<WeightPart> parts;
    int64_t stride = 1;
    // Largest |value| of the Original and ProjectionMerge parts (the colour scale: a Dirac 1
    // may lie above it).
    float original_max_abs = 0;
};

// Params and MACs (dense, as the ONNX model costs) of the block at one step.
struct StepCost {
    int64_t params = 0, macs = 0;
    int64_t structured_params = 0, structured_macs = 0;  // what rmvk's structured kernels do
};

struct ExplainStep {
    std::string title;        // "1. Original block with BN" ...
    std::string description;  // one or two sentences for a reader who never read the paper
    std::vector<ExplainedConv> convs{};
    StepCost cost{};
};

struct BlockExplanation {
    ResidualBlock block;
    int64_t in_channels = 0;
    std::vector<std::string> plain_nodes;  // the chain RM made, graph order
    std::vector<ExplainStep> steps;        // always four
};

// Throws rm::Error when `block_name` is not a block of `rm`, or was not converted (with the
// reason). The explanation shares the graphs' weight tensors where it can: keep `rm` alive.
BlockExplanation explain_block(const Graph& residual, const GraphCost& residual_cost,
                               const RmResult& rm, const GraphCost& plain_cost,
                               const std::string& block_name);

// The block (of `rm.blocks`) that residual node `node` belongs to, or "".
std::string block_of_residual_node(const RmResult& rm, const std::string& node);

// One output channel's kernels over input channels [in_begin, in_end) (whole-input indices;
// zero outside the row's group) as [in_end - in_begin][kh][kw] values.
std::vector<float> kernel_row(const ConvStructure& s, int64_t out, int64_t in_begin,
                              int64_t in_end);

// The largest |difference| between the values `conv` holds in `part` and what the part says
// they are, recomputed from the residual graph: the source conv's weights with its BN folded
// (Original; ProjectionMerge at the centre tap, zero elsewhere), a Dirac diagonal of the
// structure's Dirac values (ReservedCopy, IdentityMerge), zeros (Zero). 0 when RM placed
// every value where the part says.
double part_difference(const Graph& residual, const ExplainedConv& conv, const WeightPart& part);

}  // namespace rm
