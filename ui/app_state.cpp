#include "ui/app_state.hpp"

namespace rmvk::ui {

TimingSetup timing_setup(const AppState& state) {
    if (!state.runs) return {state.model, "", "", ""};
    const RunSet& r = *state.runs;
    return {state.model, r.image_path, r.device, rmvk::precision_name(r.precision)};
}

uint64_t plain_dense_weight_bytes(const AppState& state) {
    if (!state.model || !state.runs) return 0;
    return dense_weight_bytes(state.model->rm.plain,
                              state.runs->precision == rmvk::Precision::Fp16 ? 2 : 4);
}

const GraphRun* shown_plain_timing(const AppState& state) {
    if (!state.runs) return nullptr;
    if (state.plain_exec == PlainExec::Structured) return &state.runs->plain;
    return state.plain_dense ? state.plain_dense.get() : nullptr;
}

bool plain_is_approximate(const AppState& state) {
    return state.model && state.model->pruned && state.model->pruned->threshold > 0;
}

bool top1_agrees(const Comparison& c) {
    return !c.residual_top.empty() && !c.plain_top.empty() &&
           c.residual_top[0].index == c.plain_top[0].index;
}

std::string output_of(const rm::Graph& graph, const std::string& node) {
    const rm::Node* n = graph.find_node(node);
    return n && !n->outputs.empty() ? n->outputs[0] : "";
}

}  // namespace rmvk::ui
