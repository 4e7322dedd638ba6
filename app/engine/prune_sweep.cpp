#include "app/engine/prune_sweep.hpp"

#include <algorithm>
#include <cmath>

#include "rm/cost.hpp"
#include "rm/rm_transform.hpp"
#include "rm/shape_inference.hpp"

namespace rmvk {

namespace {

int64_t conv_channels(const rm::Graph& g) {
    int64_t n = 0;
    for (const auto& node : g.nodes)
        if (node.op == rm::Op::Conv)
            if (const rm::Shape* s = g.initializer_shape(node.inputs.at(1))) n += s->at(0);
    return n;
}

}  // namespace

std::vector<double> sweep_thresholds(std::vector<double> scores, int points) {
    scores.erase(std::remove_if(scores.begin(), scores.end(), [](double s) { return !(s > 0); }),
                 scores.end());
    std::sort(scores.begin(), scores.end());
    std::vector<double> t{0.0};
    if (scores.empty() || points < 2) return t;
    constexpr double kTop = 0.3;
    for (int i = 1; i < points; ++i) {
        const double q = kTop * i / (points - 1);
        const size_t at = std::min(scores.size() - 1,
                                   static_cast<size_t>(q * static_cast<double>(scores.size())));
        // Just above the score, so that channel goes.
        const double v = std::nextafter(scores[at], INFINITY);
        if (v > t.back()) t.push_back(v);
    }
    return t;
}

PrunePoint measure_point(const rm::Graph& graph, const PruneData& data, BatchRunner* runner,
                         Context* timing, int timing_runs, const PruneProgress& progress, double f0,
                         double f1) {
    PrunePoint p;
    p.channels = conv_channels(graph);
    const rm::GraphCost cost = rm::compute_cost(graph, rm::infer_shapes_of(graph, 1));
    p.macs = cost.total_macs;
    p.params = cost.total_params;
    p.structured_macs = cost.total_structured_macs;
    const int64_t total = (data.validation ? data.validation->count : 0) +
                          (data.test ? data.test->count : 0) + (timing ? 1 : 0);
    int64_t done = 0;
    auto step = [&](int64_t n, const char* what) {
        if (progress && !progress(f0 + (f1 - f0) * static_cast<double>(done + n) /
                                           static_cast<double>(std::max<int64_t>(total, 1)),
                                  what))
            throw SweepCancelled();
        return true;
    };
    if (runner && data.validation) {
        p.val_accuracy = top1_accuracy(*runner, graph, *data.validation, data.pre, 100,
                                       [&](int64_t n) { return step(n, "validation accuracy"); });
        done += data.validation->count;
    }
    if (runner && data.test) {
        p.test_accuracy = top1_accuracy(*runner, graph, *data.test, data.pre, 100,
                                        [&](int64_t n) { return step(n, "test accuracy"); });
        done += data.test->count;
    }
    if (timing) {
        step(0, "device time");
        p.ms_batch1 = median_device_ms(*timing, graph, 1, timing_runs);
        p.ms_batch100 = median_device_ms(*timing, graph, 100, timing_runs);
        step(1, "device time");
    }
    return p;
}

PruneSweep run_prune_sweep(const rm::Graph& residual, const PruneData& data, Context* context,
                           const SweepOptions& options, const PruneProgress& progress) {
    PruneSweep sweep;
    sweep.model = residual.name;
    BatchRunner runner(context);
    sweep.device = runner.device_name();
    Context* timing = options.time ? context : nullptr;

    const rm::PruneBase plain = rm::prepare_pruning(residual, rm::PruneMode::Plain);
    const rm::PruneBase res = rm::prepare_pruning(residual, rm::PruneMode::Residual);
    std::vector<double> scores = rm::prune_scores(plain);
    const std::vector<double> more = rm::prune_scores(res);
    scores.insert(scores.end(), more.begin(), more.end());
    const std::vector<double> thresholds = sweep_thresholds(scores, options.points);

    const double models = 2.0 + 2.0 * static_cast<double>(thresholds.size());
    double at = 0;
    auto next = [&](const rm::Graph& g) {
        PrunePoint p = measure_point(g, data, &runner, timing, options.timing_runs, progress,
                                     at / models, (at + 1) / models);
        at += 1;
        return p;
    };
    sweep.residual = next(residual);
    sweep.residual.graph = "residual";
    const rm::Graph plain_graph = rm::rm_transform(residual).plain;
    sweep.plain = next(plain_graph);
    sweep.plain.graph = "plain";
    for (const double t : thresholds)
        for (const rm::PruneBase* base : {&plain, &res}) {
            const rm::PruneResult r = rm::prune(*base, t);
            PrunePoint p = next(r.graph);
            p.graph = rm::prune_mode_name(base->mode);
            p.pruned = true;
            p.threshold = t;
            (base == &plain ? sweep.plain_pruned : sweep.residual_pruned).push_back(p);
        }
    return sweep;
}

ThresholdSearch search_threshold(const rm::PruneBase& base, const rm::LabelledImages& validation,
                                 const rm::Preprocessing& pre, double reference_accuracy,
                                 double max_drop, BatchRunner& runner,
                                 const PruneProgress& progress) {
    std::vector<double> cands = rm::prune_scores(base);
    cands.erase(std::remove_if(cands.begin(), cands.end(), [](double s) { return !(s > 0); }),
                cands.end());
    cands.erase(std::unique(cands.begin(), cands.end()), cands.end());
    for (auto& c : cands) c = std::nextafter(c, INFINITY);  // removes the channel with that score
    cands.insert(cands.begin(), 0.0);
    ThresholdSearch s;
    auto accuracy = [&](size_t i) {
        const rm::PruneResult r = rm::prune(base, cands[i]);
        const double acc = top1_accuracy(runner, r.graph, validation, pre);
        s.tried.emplace_back(cands[i], acc);
        if (progress && !progress(std::min(1.0, static_cast<double>(s.tried.size()) /
                                                    std::log2(cands.size() + 2.0)),
                                  "searching the threshold"))
            throw SweepCancelled();
        return acc;
    };
    // Invariant: cands[lo] is within the budget (0 is, or nothing is); cands[hi] is not.
    size_t lo = 0, hi = cands.size();
    s.threshold = 0;
    s.val_accuracy = accuracy(0);
    while (hi - lo > 1) {
        const size_t mid = lo + (hi - lo) / 2;
        const double acc = accuracy(mid);
        if (acc >= reference_accuracy - max_drop) {
            lo = mid;
            s.threshold = cands[mid];
            s.val_accuracy = acc;
        } else {
            hi = mid;
        }
    }
    return s;
}

}  // namespace rmvk
