#include <imgui.h>

#include <string>

#include "rm/cost.hpp"
#include "ui/panels.hpp"
#include "ui/theme.hpp"

namespace rmvk::ui {

namespace {

std::string ints(const std::vector<int64_t>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s;
}

void row(const char* key, const std::string& value) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::TextDisabled("%s", key);
    ImGui::TableNextColumn();
    ImGui::TextWrapped("%s", value.c_str());
}

void node_properties(const char* id, const char* title, const rm::Graph& graph,
                     const rm::ShapeMap& shapes, const rm::GraphCost& cost, const GraphRun* run,
                     const std::string& name, const rm::NodeMapping* mapping) {
    ImGui::TextColored(theme::kAccent, "%s", title);
    const rm::Node* node = name.empty() ? nullptr : graph.find_node(name);
    if (!node) {
        ImGui::TextDisabled("no node selected");
        return;
    }
    if (!ImGui::BeginTable(id, 2, ImGuiTableFlags_SizingStretchProp | ImGuiTableFlags_RowBg))
        return;
    ImGui::TableSetupColumn("k", ImGuiTableColumnFlags_WidthFixed, 92);
    ImGui::TableSetupColumn("v", ImGuiTableColumnFlags_WidthStretch);
    row("node", node->name);
    row("operator", std::string(rm::op_name(node->op)));
    const auto& a = node->attrs;
    if (node->op == rm::Op::Conv || node->op == rm::Op::MaxPool ||
        node->op == rm::Op::AveragePool) {
        std::string attrs =
            "kernel " + ints(a.kernel) + "  stride " + ints(a.strides) + "  pads " + ints(a.pads);
        if (node->op == rm::Op::Conv)
            attrs += "  dilation " + ints(a.dilations) + "  group " + std::to_string(a.group);
        row("attributes", attrs);
    } else if (node->op == rm::Op::BatchNormalization) {
        row("attributes", "epsilon " + std::to_string(a.epsilon));
    } else if (node->op == rm::Op::Gemm) {
        row("attributes", std::string("transB ") + (a.trans_b ? "1" : "0") + "  alpha " +
                              std::to_string(a.alpha));
    }
    for (size_t i = 1; i < node->inputs.size(); ++i)
        if (graph.is_initializer(node->inputs[i])) {
            auto s = shapes.find(node->inputs[i]);
            if (s != shapes.end()) row(i == 1 ? "weight" : "param", rm::to_string(s->second));
        }
    if (!node->outputs.empty()) {
        auto s = shapes.find(node->outputs[0]);
        if (s != shapes.end()) row("output", node->outputs[0] + " " + rm::to_string(s->second));
    }
    for (const auto& c : cost.nodes)
        if (c.node == node->name) {
            row("params", rm::grouped_digits(c.params));
            row("MACs", rm::grouped_digits(c.macs));
        }
    if (run)
        for (const auto& t : run->timings)
            if (t.node == node->name) {
                char buf[96];
                std::snprintf(buf, sizeof(buf), "%.4f ms%s%s", t.device_ms,
                              t.fused_into.empty() ? "" : "  fused into ", t.fused_into.c_str());
                row("time", buf);
            }
    if (mapping) {
        auto m = mapping->find(node->name);
        if (m != mapping->end()) {
            std::string from;
            for (const auto& r : m->second.residual_nodes) from += (from.empty() ? "" : ", ") + r;
            row("from residual", from);
            if (!m->second.block.empty()) row("block", m->second.block);
            for (const auto& r : m->second.channels) {
                std::string what =
                    r.reserved ? "reserved: copy of block input " + r.source_tensor : "original";
                // A range pruned away entirely keeps its row, with no channel numbers.
                const std::string chans =
                    r.end <= r.begin ? "ch (none left)"
                    : r.end - r.begin == 1
                        ? "ch " + std::to_string(r.begin)
                        : "ch " + std::to_string(r.begin) + "-" + std::to_string(r.end - 1);
                row(chans.c_str(), r.end <= r.begin ? what + ", all pruned" : what);
            }
        }
    }
    ImGui::EndTable();
}

}  // namespace

void draw_properties_panel(const AppState& state) {
    if (!state.model) {
        ImGui::TextDisabled("no model");
        return;
    }
    const auto& m = *state.model;
    const GraphRun* rr = state.runs ? &state.runs->residual : nullptr;
    const GraphRun* pr = shown_plain_timing(state);  // the Timing tab's plain execution
    float half = (ImGui::GetContentRegionAvail().x - 8) / 2;
    ImGui::BeginChild("props_res", {half, 0}, false);
    node_properties("##pres", "Residual node", m.residual, m.residual_shapes, m.residual_cost, rr,
                    state.selection.residual_primary, nullptr);
    ImGui::EndChild();
    ImGui::SameLine(0, 8);
    ImGui::BeginChild("props_plain", {half, 0}, false);
    node_properties("##pplain", "Plain node", m.rm.plain, m.plain_shapes, m.plain_cost, pr,
                    state.selection.plain_primary, &m.rm.mapping);
    ImGui::EndChild();
}

}  // namespace rmvk::ui
