#pragma once
// What a conv weight is made of: dense blocks over channel sub-ranges, single values at the
// kernel centre (Dirac entries), and zeros everywhere else. RM builds its widened convs this way
// (the folded original conv as one block, the reserved copy as Dirac entries); describe_conv
// finds the same description in any dense weight (a plain ONNX written by another tool, or
// after pruning). The plain graph keeps its convs in this form, the engines run the blocks and
// copy or add the Dirac channels, and ONNX saving materialises one weight at a time.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rm/tensor.hpp"

namespace rm {

struct Graph;
struct Attrs;

// Output channels [out_begin, out_end) read input channels [in_begin, in_end) (of the conv's
// whole input) through `weight`, a [out count, in count / group, kh, kw] tensor; with
// centre_only it is [out count, in count / group, 1, 1], placed at the centre tap of the conv's
// kh x kw kernel (the projection shortcut merged into a 3x3 conv). `group` splits the block
// like a grouped conv: block-group g maps its out/group rows to its in/group inputs.
struct DenseBlock {
    int64_t out_begin = 0, out_end = 0;
    int64_t in_begin = 0, in_end = 0;
    int64_t group = 1;
    bool centre_only = false;
    std::shared_ptr<const Tensor> weight;

    int64_t out_count() const { return out_end - out_begin; }
    int64_t in_count() const { return in_end - in_begin; }
};

// A kernel that is one value at the centre tap: output channel `out` gets scale * input channel
// `in` (an index into the conv's whole input, not into its group) at the pixel the centre reads.
struct DiracEntry {
    int64_t out = 0;
    int64_t in = 0;
    float scale = 1.0f;
};

// The weight of one conv: every entry not in a block or a Dirac entry is zero. Blocks do not
// overlap each other or the Dirac entries; Dirac entries are sorted by (out, in).
struct ConvStructure {
    Shape shape;  // the dense weight's [out, in / group, kh, kw]
    int64_t group = 1;
    std::vector<DenseBlock> blocks;
    std::vector<DiracEntry> diracs;

    int64_t out_channels() const { return shape.at(0); }
    int64_t in_channels() const { return shape.at(1) * group; }
    int64_t dense_values() const { return element_count(shape); }
    // Values it holds: block elements plus one per Dirac entry.
    int64_t stored_values() const;
    // Multiply-accumulates per output pixel of one image when only the blocks are multiplied
    // (Dirac entries are copies and adds, counted as none).
    int64_t block_macs_per_pixel() const;
};

// Throws rm::Error (prefixed with `what`) when `s` is inconsistent: ranges outside the shape, a
// block whose weight has the wrong shape or that straddles the conv's groups, overlaps.
void check_structure(const ConvStructure& s, const std::string& what);

// The structure of a dense [out, in / group, kh, kw] weight, found by exact comparisons: a row
// whose only non-zero value sits at the kernel centre is a Dirac entry, and so is a centre-only
// value that is the only non-zero one in its input channel among the rows with other weights
// (an identity merge); runs of rows with the same non-zero input ranges become blocks (a range
// with only centre taps non-zero becomes a centre-only block). 0.0 and -0.0 both count as
// zero (they add nothing to a finite sum). The blocks own copies of the values.
ConvStructure describe_conv(const Tensor& weight, int64_t group);
// True when `s` is one full block over the whole weight: nothing to gain from the structure.
bool is_plain_dense(const ConvStructure& s);

// The dense weight.
Tensor materialise(const ConvStructure& s);
// Output channels [row_begin, row_end) of the dense weight into `dst` (every value written), for
// writers that stream a large weight in pieces.
void materialise_rows(const ConvStructure& s, int64_t row_begin, int64_t row_end, float* dst);
// The weight with output channel o multiplied by scale[o] (BatchNormalization folding): each
// value becomes float(double(value) * scale[o]), as folding the dense weight would give.
ConvStructure scale_rows(const ConvStructure& s, const std::vector<double>& scale);

// The attributes block `b` of a conv with attributes `conv` (pads resolved) runs with on its
// own channel ranges: the block's group, and for a centre-only block a 1x1 kernel whose pads
// make it read the pixel the centre tap reads (negative when the conv pads less than that).
Attrs block_attrs(const ConvStructure& s, const DenseBlock& b, const Attrs& conv);

// How a conv's output channels are produced, in the terms the engines and the graph view use.
enum class RegionKind {
    Block,       // a dense block (blocks[block]); centre_only ones are projection merges
    Copy,        // rows that are exactly one input channel each: Dirac 1, zero bias (reserved)
    ScaledCopy,  // rows that are scale * one input channel each (Dirac alone, zero bias)
    Merge,       // Dirac entries added to rows that also get blocks or a non-zero bias
    Zero,        // rows with no weights at all (the output is the bias)
};
const char* region_kind_name(RegionKind kind);  // "block", "copy", ...

// One region: output channels [out_begin, out_end) from input channels [in_begin, in_end). For
// Copy, ScaledCopy and Merge the run pairs out_begin + i with in_begin + i, all with `scale`.
struct ConvRegion {
    RegionKind kind = RegionKind::Block;
    int64_t out_begin = 0, out_end = 0;
    int64_t in_begin = 0, in_end = 0;
    float scale = 1.0f;
    int64_t block = -1;  // index into blocks (Block only)
};

// Blocks first (in order), then Dirac runs and zero rows by output channel. `bias` (may be null:
// no bias) decides whether a lone Dirac row is a copy (bias exactly 0) or a merge into its bias.
std::vector<ConvRegion> conv_regions(const ConvStructure& s, const Tensor* bias);

// Replaces every dense Conv weight of `graph` whose structure is more than one full block (and
// that only Conv nodes read, as their weight) by its structure.
void structure_conv_weights(Graph& graph);
// The opposite: every structured weight becomes a dense initializer (passes that edit dense
// weights, e.g. pruning; describe them again afterwards with structure_conv_weights).
void materialise_all(Graph& graph);

}  // namespace rm
