#pragma once
// What a pruning sweep measured (`rmvk prune --sweep`, the app's Pruning view), as plain structs
// with a JSON form (`--json F`). Knows nothing of how the numbers were measured.
#include <cstdint>
#include <string>
#include <vector>

namespace rmvk {

// One model of a sweep.
struct PrunePoint {
    std::string graph;            // "residual" or "plain": what was pruned (or not)
    bool pruned = false;          // false: the unpruned residual model or its plain (RM) twin
    double threshold = 0;         // pruned only
    int64_t channels = 0;         // conv output channels, all layers
    int64_t macs = 0;             // per image, dense (what the ONNX costs a generic runtime)
    int64_t structured_macs = 0;  // what rmvk multiplies (reserved copies are copies)
    int64_t params = 0;
    double val_accuracy = -1, test_accuracy = -1;  // percent; -1: not measured
    double ms_batch1 = -1, ms_batch100 = -1;       // device time; -1: not measured
};

struct PruneSweep {
    std::string model, device;
    PrunePoint residual, plain;  // unpruned
    std::vector<PrunePoint> plain_pruned, residual_pruned;
};

// Unmeasured values are written as null. The reader throws std::runtime_error with one line
// ("missing key 'macs'", "not an rmvk prune sweep ...").
std::string prune_sweep_to_json(const PruneSweep& sweep);
PruneSweep prune_sweep_from_json(const std::string& text);

}  // namespace rmvk
