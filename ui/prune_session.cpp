// The Pruning view's choice made into a model the panes can show.
#include <algorithm>

#include "ui/session.hpp"
#include "ui/worker.hpp"

namespace rmvk::ui {

std::shared_ptr<const LoadedModel> prune_model_for_ui(const LoadedModel& model, rm::PruneMode mode,
                                                      double threshold, Progress& progress) {
    progress.set(std::string("pruning the ") + rm::prune_mode_name(mode) + " graph", 0.1f);
    const rm::PruneBase base = rm::prepare_pruning(model.residual, mode);
    rm::PruneResult r = rm::prune(base, threshold);
    auto out = std::make_shared<LoadedModel>(model);
    auto view = std::make_shared<PruneView>();
    view->mode = mode;
    view->threshold = threshold;
    for (const auto& l : r.layers)
        view->notes[l.node] =
            "ch " + std::to_string(l.out_before) + "->" + std::to_string(l.out_after);
    view->kept_channels = r.kept_channels;
    progress.set("inferring shapes", 0.5f);
    rm::Graph unpruned = base.graph;
    const rm::ShapeMap before = rm::infer_shapes(unpruned, 1);
    for (const auto& [tensor, kept] : view->kept_channels)
        if (auto s = before.find(tensor); s != before.end() && s->second.size() > 1)
            view->channels_before[tensor] = s->second[1];
    out->rm.plain = std::move(r.graph);
    out->rm.plain.name = model.rm.plain.name + " pruned";
    if (mode == rm::PruneMode::Plain) {
        // The channel ranges (reserved copies, then the original computation) as they are
        // after pruning: each keeps the channels of it that survive, in order.
        out->rm.mapping = base.mapping;
        for (auto& [node, origin] : out->rm.mapping) {
            const rm::Node* n = out->rm.plain.find_node(node);
            if (!n || origin.channels.empty()) continue;
            auto kept = view->kept_channels.find(n->outputs.at(0));
            if (kept == view->kept_channels.end()) continue;
            int64_t at = 0;
            for (auto& range : origin.channels) {
                const auto count =
                    std::count_if(kept->second.begin(), kept->second.end(),
                                  [&](int64_t c) { return c >= range.begin && c < range.end; });
                range.begin = at;
                range.end = at += count;
            }
        }
    } else {
        // The residual graph pruned: each node stands for itself (BN folded into its conv).
        out->rm.mapping.clear();
        for (const auto& n : out->rm.plain.nodes) out->rm.mapping[n.name] = {{n.name}, {}, ""};
    }
    out->plain_shapes = rm::infer_shapes(out->rm.plain, 1);
    out->plain_cost = rm::compute_cost(out->rm.plain, out->plain_shapes);
    out->pruned = std::move(view);
    progress.set("pruned model ready", 1.0f);
    return out;
}

}  // namespace rmvk::ui
