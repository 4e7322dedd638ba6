#pragma once
#include <optional>
#include <string>
#include <vector>

#include "rm/graph.hpp"

namespace rm {

// torchvision's ResNet family, same topology and node order: conv1 7x7/2 + bn + relu +
// maxpool 3x3/2, four stages of BasicBlocks or Bottlenecks (stride on the 3x3 conv, projection
// = 1x1 conv + BN), global average pool, flatten, fc. Weights are deterministic pseudo-random
// (He-style scale) with non-trivial BN statistics so BN folding and RM are really exercised.
struct ResNetConfig {
    std::string arch = "resnet18";  // resnet18/34/50/101/152, wide_resnet50_2, wide_resnet101_2
    int64_t input_channels = 3;
    int64_t input_height = 224;
    int64_t input_width = 224;
    int64_t num_classes = 1000;
    int64_t base_width = 64;  // stage widths are base_width * {1,2,4,8}
    uint64_t seed = 0;
};

// The names accepted by build_resnet (for menus and --help).
std::vector<std::string> builtin_model_names();

// Throws rm::Error for an unknown arch or absurd sizes.
Graph build_resnet(const ResNetConfig& config);

// Parses "builtin:resnet50" or "builtin:resnet18?classes=10&size=64x64&channels=1&width=32&seed=3".
// Returns nullopt when `spec` does not start with "builtin:".
std::optional<ResNetConfig> parse_builtin_spec(const std::string& spec);

}  // namespace rm
