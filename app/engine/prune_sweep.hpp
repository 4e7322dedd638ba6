#pragma once
// Pruning measured: accuracy, size and device time of pruned models, for one threshold
// (`rmvk prune`), a threshold searched on the validation split (--max-drop) and a series of
// thresholds for both the plain and the residual graph (--sweep, the app's Pruning view).
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "app/engine/model_eval.hpp"
#include "app/report/prune_sweep_report.hpp"
#include "rm/prune.hpp"

namespace rmvk {

// The labelled images a measurement may use; null: not available.
struct PruneData {
    const rm::LabelledImages* validation = nullptr;
    const rm::LabelledImages* test = nullptr;
    rm::Preprocessing pre;
};

// Asked with (fraction done, what is running); false cancels (run_prune_sweep throws
// SweepCancelled).
using PruneProgress = std::function<bool(double fraction, const std::string& what)>;
struct SweepCancelled : std::exception {
    const char* what() const noexcept override { return "sweep cancelled"; }
};

struct SweepOptions {
    int points = 8;       // thresholds per curve (the first is 0: exact pruning only)
    int timing_runs = 5;  // per batch size
    bool time = true;     // measure device time (needs a Vulkan context)
};

// Thresholds for a sweep: 0, then quantiles of the positive scores up to their 30th percentile
// (beyond, a sparsity-trained model has lost most of its accuracy).
std::vector<double> sweep_thresholds(std::vector<double> scores, int points);

// Size of `graph` and, where `runner`/`context` and data allow, accuracy and device time.
PrunePoint measure_point(const rm::Graph& graph, const PruneData& data, BatchRunner* runner,
                         Context* timing, int timing_runs, const PruneProgress& progress = {},
                         double fraction0 = 0, double fraction1 = 1);

PruneSweep run_prune_sweep(const rm::Graph& residual, const PruneData& data, Context* context,
                           const SweepOptions& options, const PruneProgress& progress = {});

// --max-drop: the largest threshold whose pruned model's validation accuracy stays within
// `max_drop` points of `reference_accuracy`, by bisection over the model's own scores
// (accuracy assumed to fall as the threshold grows). It sees the validation split only.
struct ThresholdSearch {
    double threshold = 0;
    double val_accuracy = 0;
    std::vector<std::pair<double, double>> tried;  // threshold, validation accuracy
};
ThresholdSearch search_threshold(const rm::PruneBase& base, const rm::LabelledImages& validation,
                                 const rm::Preprocessing& pre, double reference_accuracy,
                                 double max_drop, BatchRunner& runner,
                                 const PruneProgress& progress = {});

}  // namespace rmvk
