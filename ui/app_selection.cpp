// Linking the selection in both panes: a node picked in one graph highlights what it became
// (or came from) in the other, through RM's NodeMapping.
#include <set>

#include "ui/app_impl.hpp"

namespace rmvk::ui {

namespace {

BlockMembership residual_blocks(const LoadedModel& m) {
    BlockMembership out;
    for (const auto& b : m.rm.blocks) {
        for (const auto& n : b.main_nodes) out[n] = b.name;
        for (const auto& n : b.shortcut_nodes) out[n] = b.name;
        if (!b.add_node.empty()) out[b.add_node] = b.name;
        if (!b.relu_node.empty()) out[b.relu_node] = b.name;
    }
    return out;
}

BlockMembership plain_blocks(const LoadedModel& m) {
    BlockMembership out;
    for (const auto& [node, origin] : m.rm.mapping)
        if (!origin.block.empty()) out[node] = origin.block;
    return out;
}

}  // namespace

void App::show_graphs() {
    const LoadedModel& m = *state_.model;
    residual_view_.set_graph({&m.residual, &m.residual_shapes, nullptr, residual_blocks(m)});
    plain_view_.set_graph({&m.rm.plain, &m.plain_shapes, &m.rm.mapping, plain_blocks(m),
                           m.pruned ? &m.pruned->notes : nullptr});
}

void App::rebuild_time_maps() {
    residual_ms_.clear();
    plain_ms_.clear();
    for (const auto& t : state_.runs->residual.timings) residual_ms_[t.node] = t.device_ms;
    // The plain boxes show the Timing tab's chosen execution.
    const GraphRun* plain = shown_plain_timing(state_);
    for (const auto& t : (plain ? *plain : state_.runs->plain).timings)
        plain_ms_[t.node] = t.device_ms;
}

void App::select_start_node() {
    const auto& m = *state_.model;
    if (std::string wanted = script_.take_select(); !wanted.empty()) {
        if (m.residual.find_node(wanted)) {
            select_residual(wanted, true);
            return;
        }
        if (m.rm.plain.find_node(wanted)) {
            select_plain(wanted, true);
            return;
        }
        report_error("--select", "no node '" + wanted + "' in either graph of " + m.display_name);
    }
    // Show something telling: the first conv of the first converted block (it gains reserved
    // channels).
    for (const auto& b : m.rm.blocks)
        if (b.convertible && !b.main_nodes.empty()) {
            select_residual(b.main_nodes.front(), true);
            return;
        }
    if (!m.residual.nodes.empty()) select_residual(m.residual.nodes.front().name, true);
}

void App::select_residual(const std::string& node, bool focus_both) {
    auto& sel = state_.selection;
    sel.residual = {node};
    sel.residual_primary = node;
    auto plains = rm::plain_nodes_for(state_.model->rm.mapping, node);
    sel.plain = std::set<std::string>(plains.begin(), plains.end());
    sel.plain_primary = plains.empty() ? "" : plains.front();
    if (!sel.plain_primary.empty()) plain_view_.focus(sel.plain_primary);
    if (focus_both) residual_view_.focus(node);
}

void App::select_plain(const std::string& node, bool focus_both) {
    auto& sel = state_.selection;
    sel.plain = {node};
    sel.plain_primary = node;
    sel.residual.clear();
    sel.residual_primary.clear();
    auto it = state_.model->rm.mapping.find(node);
    if (it != state_.model->rm.mapping.end() && !it->second.residual_nodes.empty()) {
        sel.residual.insert(it->second.residual_nodes.begin(), it->second.residual_nodes.end());
        sel.residual_primary = it->second.residual_nodes.back();
        residual_view_.focus(sel.residual_primary);
    }
    if (focus_both) plain_view_.focus(node);
}

// A reserved channel picked in the feature maps: its Dirac row in the conv' that wrote it
// (the picked node may be the ReLU after that conv).
void App::show_dirac_row(const FeatureMapsPanel::ReservedPick& pick) {
    const rm::Graph& plain = state_.model->rm.plain;
    const rm::Node* n = plain.find_node(pick.node);
    while (n && n->op != rm::Op::Conv && !n->inputs.empty()) n = plain.producer(n->inputs[0]);
    if (!n) return;
    explain_.show_row(n->name, pick.channel);
    active_tab_request_ = "Explain";
}

}  // namespace rmvk::ui
