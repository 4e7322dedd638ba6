#pragma once
// Which reserved copies of a plain graph the engine does not store. A widened conv's reserved
// output channels are exact copies of its input's (RM.md); the next conv copies them again or
// adds them as an identity merge. Stored, the block input would be read and written once per
// conv; elided, each conv that reads such a channel reads the tensor it was first copied from
// (an identity merge becomes the block conv's fused residual Add, a copy of a copy is another
// elided channel of the same source). Pure functions of shapes and structures, like the conv
// planner.
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "app/engine/conv_struct_plan.hpp"

namespace rmvk {

// Per channel of a tensor with elided channels: where it is held. {"", c}: stored in the tensor
// itself (c its own index); {name, k}: channel k of stored tensor `name`.
using ChannelHome = std::pair<std::string, int64_t>;
using ElidedChannels = std::unordered_map<std::string, std::vector<ChannelHome>>;

struct TensorFacts {
    rm::Shape shape;
    uint64_t first = 0;        // element offset in its buffer (0 while planning)
    bool nonnegative = false;  // a ReLU's output, or a max-pool of one
};
using TensorLookup = std::function<TensorFacts(const std::string&)>;

// The ConvInputs of a conv reading tensor `x`: source 0 is x, then each tensor its elided
// channels are held in; `names` gets the sources' tensor names in the same order.
ConvInputs conv_inputs(const std::string& x, const ElidedChannels& elided,
                       const TensorLookup& facts, std::vector<std::string>* names = nullptr);

// One conv of the graph as the engine will run it.
struct ElisionConv {
    std::string x, y;     // its input and the tensor its step finally writes
    ConvProblem problem;  // shapes, attributes, relu / clamp / residual (offsets unused)
    const rm::ConvStructure* structure = nullptr;  // with Dirac scales folded; null: dense
    const rm::Tensor* bias = nullptr;              // its (folded) bias; null: none
};

struct ElisionPlan {
    std::vector<bool> structured;              // per conv: its structure splits (runs so)
    std::vector<std::vector<bool>> may_elide;  // per conv: per output row (empty: none)
    ElidedChannels elided;                     // per output tensor with elided rows
};

// `convs` in run order. `other_readers`: the tensors anything reads other than as the input of
// a conv in `convs` (other ops, residual operands, weights, graph outputs, kept tensors).
// A conv's copy rows are elided when every reader of its output is a structured conv whose
// dense blocks read none of them or read a window of them that is one source.
ElisionPlan plan_copy_elision(const std::vector<ElisionConv>& convs,
                              const std::unordered_set<std::string>& other_readers,
                              const TensorLookup& facts);

}  // namespace rmvk
