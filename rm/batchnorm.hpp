#pragma once
// BatchNormalization as a per-channel affine map, the one place its formula lives: the fold
// pass, the CPU operator, the RM shortcut matcher and the engine all call it.
#include <string>
#include <unordered_set>
#include <vector>

#include "rm/graph.hpp"
#include "rm/tensor.hpp"

namespace rm {

// y = scale[c] * x + shift[c], with scale = gamma / sqrt(var + eps) and
// shift = beta - mean * scale, in double precision.
struct BnAffine {
    std::vector<double> scale, shift;
};

// Throws rm::Error (naming `where`) when the four tensors do not all hold `channels` values.
BnAffine bn_affine(const Tensor& gamma, const Tensor& beta, const Tensor& mean, const Tensor& var,
                   double epsilon, int64_t channels, const std::string& where);

// The affine map of BatchNormalization node `bn`, whose parameters must be constants of `graph`.
BnAffine bn_affine(const Graph& graph, const Node& bn, int64_t channels);

// `w` (output channels first) with every output channel c multiplied by scale[c], rounded once
// to fp32.
Tensor scale_output_channels(const Tensor& w, const std::vector<double>& scale);

// Names of the BatchNormalization nodes of `graph` that fold into the Conv producing their input:
// constant parameters and conv weights (looked up in `weights`, by default `graph` itself), the
// conv's output read by the BN alone, no BN side output read.
std::unordered_set<std::string> foldable_batchnorms(const Graph& graph,
                                                    const Graph* weights = nullptr);

}  // namespace rm
