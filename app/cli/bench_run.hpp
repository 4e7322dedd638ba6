#pragma once
// Timing one graph for `rmvk bench`: warm-up runs, timed runs, medians per layer.
#include <functional>
#include <string>

#include "app/engine/engine.hpp"
#include "app/report/bench_report.hpp"
#include "rm/graph.hpp"
#include "rm/node_mapping.hpp"

namespace rmvk::cli {

struct BenchSettings {
    int64_t batch = 1;
    int warmup = 2;
    int iters = 10;
    double peak_gflops = 0;                 // 0: no peak measured, no "% of peak"
    bool structured = true;                 // RunOptions::structured (--plain-exec)
    Precision precision = Precision::Fp32;  // RunOptions::precision (--precision)
};

// Runs `graph` settings.warmup + settings.iters times on `context` (random input) and returns
// per-layer medians, totals, wall statistics and memory. `mapping` (plain graphs) fills each
// row's residual_nodes. `on_run` is called after every run (progress bars).
GraphBench bench_graph(Context& context, const rm::Graph& graph, const std::string& graph_name,
                       const BenchSettings& settings, const rm::NodeMapping* mapping,
                       const std::function<void()>& on_run);

// Median and the 95th percentile (nearest rank) of a sample; 0 for an empty one.
double median(std::vector<double> values);
double percentile95(std::vector<double> values);

}  // namespace rmvk::cli
