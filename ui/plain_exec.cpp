#include "ui/plain_exec.hpp"

#include <cstdio>

namespace rmvk::ui {

const char* plain_exec_name(PlainExec exec) {
    return exec == PlainExec::Dense ? "dense" : "structured";
}

namespace {

// The graph's weight values, its structured conv weights materialised or as stored.
uint64_t weight_values(const rm::Graph& graph, bool dense) {
    uint64_t values = 0;
    for (const auto& [name, t] : graph.initializers) values += uint64_t(t.size());
    for (const auto& [name, s] : graph.structured_weights)
        values += uint64_t(dense ? s.dense_values() : s.stored_values());
    return values;
}

}  // namespace

uint64_t dense_weight_bytes(const rm::Graph& graph, uint64_t bytes_per_value) {
    return weight_values(graph, true) * bytes_per_value;
}

uint64_t stored_weight_bytes(const rm::Graph& graph, uint64_t bytes_per_value) {
    return weight_values(graph, false) * bytes_per_value;
}

bool dense_weights_heavy(uint64_t dense_bytes, uint64_t memory_bytes) {
    return memory_bytes > 0 && dense_bytes > memory_bytes / 4;
}

std::string time_ratio_text(double ms, double residual_ms) {
    if (ms <= 0 || residual_ms <= 0) return "-";
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2fx", ms / residual_ms);
    return buf;
}

}  // namespace rmvk::ui
