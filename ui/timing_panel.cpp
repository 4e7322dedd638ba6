#include "ui/timing_panel.hpp"

#include <imgui.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "ui/graph_layout.hpp"
#include "ui/resident_memory.hpp"
#include "ui/theme.hpp"

namespace rmvk::ui {

namespace {

double gflops(int64_t macs, double ms) {
    return ms > 0 ? 2.0 * double(macs) / (ms * 1e6) : 0.0;
}

// One or two figures printed with `format`.
std::string text(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), format, v);
    return buf;
}
std::string text2(const char* format, double a, double b) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), format, a, b);
    return buf;
}

}  // namespace

std::optional<TimingPanel::ReportFacts> TimingPanel::report_facts(const AppState& state) const {
    if (!report_) return std::nullopt;
    ReportFacts f;
    f.path = report_path_;
    f.device = report_->device.name;
    f.model = report_->model;
    const rmvk::GraphBench* res = report_->find_graph("residual");
    const rmvk::GraphBench* plain = report_->find_graph("plain");
    f.residual_ms = res ? res->device_total_ms : 0.0;
    f.plain_ms = plain ? plain->device_total_ms : 0.0;
    auto count = [&](const rmvk::GraphBench* bench, const GraphRun& run) {
        if (!bench) return;
        for (const auto& t : run.timings)
            for (const auto& l : bench->layers)
                if (l.node == t.node) {
                    ++f.matched_layers;
                    break;
                }
    };
    if (state.runs) count(res, state.runs->residual);
    if (const GraphRun* shown = shown_plain_timing(state)) count(plain, *shown);
    return f;
}

void TimingPanel::load_report(const std::string& path) {
    report_ = rmvk::load_bench_report(path);
    report_path_ = path;
}

TimingRequest TimingPanel::draw(const AppState& state, const std::vector<std::string>& devices,
                                bool busy) {
    TimingRequest request;
    ImGui::SetNextItemWidth(260);
    if (ImGui::BeginCombo("device", state.device.c_str())) {
        for (const auto& d : devices)
            if (ImGui::Selectable(d.c_str(), d == state.device)) request.run_on_device = d;
        ImGui::EndCombo();
    }
    ImGui::SameLine();
    // How a Vulkan device stores tensors (rmvk run --precision); the CPU reference is fp32.
    ImGui::SetNextItemWidth(70);
    ImGui::BeginDisabled(state.device == kCpuDevice);
    if (ImGui::BeginCombo("storage", rmvk::precision_name(state.precision))) {
        for (rmvk::Precision p : {rmvk::Precision::Fp32, rmvk::Precision::Fp16})
            if (ImGui::Selectable(rmvk::precision_name(p), p == state.precision) &&
                p != state.precision) {
                request.precision = p;
                request.run_on_device = state.device;
            }
        ImGui::EndCombo();
    }
    ImGui::EndDisabled();
    ImGui::SameLine();
    ImGui::SetNextItemWidth(90);
    ImGui::InputInt("##repeats", &repeats_);
    repeats_ = std::clamp(repeats_, 1, 1000);
    ImGui::SameLine();
    if (ImGui::Button("Run N times")) {
        request.run_on_device = state.device;
        request.repeats = repeats_;
    }
    // On this row where it fits, else on the next one.
    const char* load_label = "Load bench report...";
    ImGui::SameLine();
    if (ImGui::GetContentRegionAvail().x <
        ImGui::CalcTextSize(load_label).x + 2 * ImGui::GetStyle().FramePadding.x)
        ImGui::NewLine();
    if (ImGui::Button(load_label)) request.open_report = true;
    if (request.run_on_device && request.repeats == 1) request.repeats = 1;

    if (!state.model || !state.runs) {
        ImGui::TextDisabled("no run yet");
        return request;
    }
    request.plain_exec = draw_plain_exec(state, busy);
    const auto& runs = *state.runs;
    ImGui::TextDisabled("%s, %s storage, %s, mean of %d run(s)%s", runs.device.c_str(),
                        rmvk::precision_name(runs.precision),
                        runs.device_timing ? "GPU timestamps" : "host time per node",
                        runs.residual.runs, runs.peak_gflops > 0 ? "" : " (peak not measured)");
    draw_totals(state);

    const bool dense = state.plain_exec == PlainExec::Dense;
    const rmvk::GraphBench* ref_res = report_ ? report_->find_graph("residual") : nullptr;
    const rmvk::GraphBench* ref_plain =
        report_ ? report_->find_graph(dense ? "plain dense" : "plain") : nullptr;
    float half = (ImGui::GetContentRegionAvail().x - 8) / 2;
    ImGui::BeginChild("bars_res", {half, 0}, true);
    draw_bars("##bres", "Residual per layer", runs.residual, ref_res, theme::kResidualBar, true);
    ImGui::EndChild();
    ImGui::SameLine(0, 8);
    ImGui::BeginChild("bars_plain", {half, 0}, true);
    const std::string title =
        std::string("Plain (RM) per layer, ") + plain_exec_name(state.plain_exec) + " execution";
    if (const GraphRun* plain = shown_plain_timing(state))
        draw_bars("##bplain", title.c_str(), *plain, ref_plain, theme::kPlainBar);
    else {
        ImGui::TextColored(theme::kAccent, "%s", title.c_str());
        ImGui::TextDisabled("measuring: see the progress in the status bar");
    }
    ImGui::EndChild();
    return request;
}

std::optional<PlainExec> TimingPanel::draw_plain_exec(const AppState& state, bool busy) {
    std::optional<PlainExec> picked;
    const uint64_t dense_bytes = plain_dense_weight_bytes(state);
    const uint64_t memory = physical_memory_bytes();
    const bool heavy = dense_weights_heavy(dense_bytes, memory);
    ImGui::SetNextItemWidth(110);
    ImGui::BeginDisabled(busy);
    if (ImGui::BeginCombo("plain execution", plain_exec_name(state.plain_exec))) {
        for (PlainExec e : {PlainExec::Structured, PlainExec::Dense})
            if (ImGui::Selectable(plain_exec_name(e), e == state.plain_exec)) picked = e;
        ImGui::EndCombo();
    }
    ImGui::EndDisabled();
    if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) {
        ImGui::BeginTooltip();
        ImGui::TextUnformatted(
            "structured: each widened conv as its dense blocks plus copies and merges (rmvk's "
            "default, timed when the model opens)");
        ImGui::Text(
            "dense: the materialised weights, as a generic runtime runs the exported ONNX;\n"
            "measured when picked: at least %s of weights (the structured graph: %s)",
            format_bytes(dense_bytes).c_str(),
            format_bytes(state.runs->plain.weight_bytes).c_str());
        if (heavy)
            ImGui::TextColored(theme::kWarn, "that is %.0f %% of this machine's %s of memory",
                               100.0 * double(dense_bytes) / double(memory),
                               format_bytes(memory).c_str());
        ImGui::EndTooltip();
    }
    ImGui::SameLine();
    if (!state.plain_dense_error.empty())
        ImGui::TextColored(theme::kBad, "dense timing failed: %s", state.plain_dense_error.c_str());
    else if (state.plain_dense_measuring)
        ImGui::TextDisabled("measuring the dense plain graph (at least %s of weights)...",
                            format_bytes(dense_bytes).c_str());
    else if (!state.plain_dense)
        ImGui::TextColored(heavy ? theme::kWarn : ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled),
                           "dense: not measured, pick dense to measure (at least %s of weights%s)",
                           format_bytes(dense_bytes).c_str(), heavy ? ", a lot of memory" : "");
    else
        ImGui::TextDisabled("dense: measured, mean of %d run(s), %s of weights",
                            state.plain_dense->runs,
                            format_bytes(state.plain_dense->weight_bytes).c_str());
    // Picking what is shown already, or dense while it is being measured, asks for nothing.
    if (picked && *picked == state.plain_exec &&
        (*picked == PlainExec::Structured || state.plain_dense))
        picked.reset();
    return picked;
}

void TimingPanel::draw_totals(const AppState& state) {
    const auto& runs = *state.runs;
    const auto& model = *state.model;
    const GraphRun* dense = state.plain_dense.get();
    const rmvk::GraphBench* ref_res = report_ ? report_->find_graph("residual") : nullptr;
    const rmvk::GraphBench* ref_plain = report_ ? report_->find_graph("plain") : nullptr;
    if (!ImGui::BeginTable(
            "##totals", report_ ? 5 : 4,
            ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchSame))
        return;
    ImGui::TableSetupColumn("");
    ImGui::TableSetupColumn("residual");
    ImGui::TableSetupColumn("plain structured");
    ImGui::TableSetupColumn("plain dense");
    if (report_) ImGui::TableSetupColumn(("report: " + report_->device.name).c_str());
    ImGui::TableHeadersRow();
    // One row: the key, residual, structured, dense ("" when not measured) and report figures.
    auto line = [&](const char* key, const std::string& a, const std::string& b,
                    const std::string& c, const std::string& d) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::TextDisabled("%s", key);
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(a.c_str());
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(b.c_str());
        ImGui::TableNextColumn();
        if (dense)
            ImGui::TextUnformatted(c.c_str());
        else
            ImGui::TextDisabled(state.plain_dense_measuring ? "measuring..." : "not measured");
        if (report_) {
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(d.c_str());
        }
    };
    const double dense_ms = dense ? dense->total_ms : 0.0;
    line("total time", text("%.3f ms", runs.residual.total_ms),
         text("%.3f ms", runs.plain.total_ms), text("%.3f ms", dense_ms),
         text2("%.3f / %.3f ms", ref_res ? ref_res->device_total_ms : 0.0,
               ref_plain ? ref_plain->device_total_ms : 0.0));
    line("vs residual", "1x", time_ratio_text(runs.plain.total_ms, runs.residual.total_ms),
         time_ratio_text(dense_ms, runs.residual.total_ms),
         time_ratio_text(ref_plain ? ref_plain->device_total_ms : 0.0,
                         ref_res ? ref_res->device_total_ms : 0.0));
    // What each execution multiplies: the structured one only its dense blocks.
    const int64_t macs_r = model.residual_cost.total_macs;
    const int64_t macs_s = model.plain_cost.total_structured_macs;
    const int64_t macs_d = model.plain_cost.total_macs;
    line("MACs", text("%.3f G", double(macs_r) / 1e9), text("%.3f G", double(macs_s) / 1e9),
         text("%.3f G", double(macs_d) / 1e9),
         text2("%.3f / %.3f G", ref_res ? double(ref_res->total_macs) / 1e9 : 0.0,
               ref_plain ? double(ref_plain->total_macs) / 1e9 : 0.0));
    const double gr = gflops(macs_r, runs.residual.total_ms);
    const double gs = gflops(macs_s, runs.plain.total_ms);
    const double gd = gflops(macs_d, dense_ms);
    line(
        "throughput", text("%.2f GFLOP/s", gr), text("%.2f GFLOP/s", gs), text("%.2f GFLOP/s", gd),
        text2("%.2f / %.2f", ref_res ? ref_res->gflops : 0.0, ref_plain ? ref_plain->gflops : 0.0));
    const double peak = runs.peak_gflops;
    auto share = [&](double g) { return peak > 0 ? text("%.1f %% of peak", 100 * g / peak) : "-"; };
    line("peak use", share(gr), share(gs), share(gd),
         text2("%.1f / %.1f %%", ref_res ? ref_res->peak_percent : 0.0,
               ref_plain ? ref_plain->peak_percent : 0.0));
    auto mb = [](uint64_t bytes) { return text("%.2f MB", double(bytes) / 1e6); };
    line("weights", mb(runs.residual.weight_bytes), mb(runs.plain.weight_bytes),
         mb(dense ? dense->weight_bytes : 0),
         text2("%.2f / %.2f MB", ref_res ? double(ref_res->weight_bytes) / 1e6 : 0.0,
               ref_plain ? double(ref_plain->weight_bytes) / 1e6 : 0.0));
    line("peak activations", mb(runs.residual.peak_activation_bytes),
         mb(runs.plain.peak_activation_bytes), mb(dense ? dense->peak_activation_bytes : 0),
         text2("%.2f / %.2f MB", ref_res ? double(ref_res->peak_activation_bytes) / 1e6 : 0.0,
               ref_plain ? double(ref_plain->peak_activation_bytes) / 1e6 : 0.0));
    ImGui::EndTable();
    if (report_) {
        ImGui::TextDisabled("report %s (%s, %s)",
                            std::filesystem::path(report_path_).filename().c_str(),
                            report_->model.empty() ? "bundled model" : report_->model.c_str(),
                            report_->date.c_str());
        if (report_facts(state)->matched_layers == 0) {
            ImGui::SameLine();
            ImGui::TextColored(
                theme::kBad,
                "no layer of this model is in the report (grey bars need the same model)");
        }
    }
}

void TimingPanel::draw_bars(const char* id, const char* title, const GraphRun& run,
                            const rmvk::GraphBench* reference, unsigned int color,
                            bool with_filter) {
    ImGui::TextColored(theme::kAccent, "%s", title);
    if (with_filter) {
        ImGui::SameLine();
        ImGui::Checkbox("timed nodes only", &only_timed_);
    }
    std::vector<const rmvk::NodeTiming*> rows;
    double max_ms = 0;
    for (const auto& t : run.timings) {
        if (only_timed_ && t.device_ms <= 0) continue;
        rows.push_back(&t);
        max_ms = std::max(max_ms, t.device_ms);
    }
    // The report's layers are matched by node name; only matched ones set the scale.
    std::map<std::string, double> ref_ms;
    if (reference)
        for (const auto& l : reference->layers)
            for (const auto* row : rows)
                if (row->node == l.node) {
                    ref_ms[l.node] = l.device_ms;
                    max_ms = std::max(max_ms, l.device_ms);
                    break;
                }
    if (!ImGui::BeginTable(id, 3, ImGuiTableFlags_SizingStretchProp | ImGuiTableFlags_ScrollY))
        return;
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("node", ImGuiTableColumnFlags_WidthStretch, 1.0f);
    ImGui::TableSetupColumn("time", ImGuiTableColumnFlags_WidthStretch, 1.4f);
    ImGui::TableSetupColumn("ms", ImGuiTableColumnFlags_WidthFixed, 64);
    ImGui::TableHeadersRow();
    ImGuiListClipper clipper;
    clipper.Begin(int(rows.size()));
    while (clipper.Step())
        for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
            const auto& t = *rows[size_t(i)];
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(short_name(t.node, t.op).c_str());
            if (ImGui::IsItemHovered())
                ImGui::SetTooltip("%s (%s)%s%s", t.node.c_str(),
                                  std::string(rm::op_name(t.op)).c_str(),
                                  t.method.empty() ? "" : "\n", t.method.c_str());
            ImGui::TableNextColumn();
            ImVec2 p = ImGui::GetCursorScreenPos();
            float w = ImGui::GetContentRegionAvail().x;
            float h = ImGui::GetTextLineHeight();
            ImDrawList* dl = ImGui::GetWindowDrawList();
            float f = max_ms > 0 ? float(t.device_ms / max_ms) : 0.0f;
            auto r = ref_ms.find(t.node);
            float bar_h = r != ref_ms.end() ? h * 0.55f : h;
            dl->AddRectFilled(p, {p.x + w * f, p.y + bar_h}, color, 2);
            if (r != ref_ms.end())
                dl->AddRectFilled({p.x, p.y + bar_h + 1},
                                  {p.x + w * float(r->second / max_ms), p.y + h},
                                  theme::rgb(200, 200, 210), 2);
            ImGui::Dummy({w, h});
            ImGui::TableNextColumn();
            ImGui::Text("%.3f", t.device_ms);
        }
    ImGui::EndTable();
}

}  // namespace rmvk::ui
