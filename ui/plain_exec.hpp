#pragma once
// The Timing tab's plain execution (rmvk run --plain-exec): the plain graph's structured convs
// run as their dense blocks plus copies (what the app times when a model opens), or dense from
// their materialised weights (what the exported ONNX costs a generic runtime). The dense timing
// is measured only when asked for, since its weights can be many times the structured graph's
// (ResNet-152: 3.26 GB), and kept while what it was measured for stays.
#include <cstdint>
#include <memory>
#include <string>

#include "rm/graph.hpp"

namespace rmvk::ui {

enum class PlainExec { Structured, Dense };
const char* plain_exec_name(PlainExec exec);  // "structured", "dense"

// What a timing was measured for: a dense timing stays valid while these stay the same.
struct TimingSetup {
    // The LoadedModel shown (a pruned one is another model), held so that a model opened later
    // cannot take its address.
    std::shared_ptr<const void> model;
    std::string image, device, precision;
    bool operator==(const TimingSetup&) const = default;
};

// The graph's weight bytes with every structured conv weight materialised dense, at
// `bytes_per_value` (4: fp32 storage, 2: fp16). A lower bound of what a dense run holds: the
// engine may add transformed copies (Winograd) of some 3x3 weights.
uint64_t dense_weight_bytes(const rm::Graph& graph, uint64_t bytes_per_value);
// The same with structured conv weights as stored (their dense blocks and Dirac entries).
uint64_t stored_weight_bytes(const rm::Graph& graph, uint64_t bytes_per_value);

// Whether `dense_bytes` of weights take more than a sane share (a quarter) of `memory_bytes`,
// the machine's memory (0: unknown, never heavy): the control says what it will cost first.
bool dense_weights_heavy(uint64_t dense_bytes, uint64_t memory_bytes);

// "1.02x" (the plain time over the residual time), or "-" when either is not positive.
std::string time_ratio_text(double ms, double residual_ms);

}  // namespace rmvk::ui
