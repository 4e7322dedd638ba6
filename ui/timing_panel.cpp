#include "ui/timing_panel.hpp"

#include <imgui.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "ui/graph_layout.hpp"
#include "ui/theme.hpp"

namespace rmvk::ui {

namespace {

double gflops(int64_t macs, double ms) {
    return ms > 0 ? 2.0 * double(macs) / (ms * 1e6) : 0.0;
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
    if (state.runs) {
        count(res, state.runs->residual);
        count(plain, state.runs->plain);
    }
    return f;
}

void TimingPanel::load_report(const std::string& path) {
    report_ = rmvk::load_bench_report(path);
    report_path_ = path;
}

TimingRequest TimingPanel::draw(const AppState& state, const std::vector<std::string>& devices) {
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
    ImGui::SameLine();
    if (ImGui::Button("Load bench report...")) request.open_report = true;
    ImGui::SameLine();
    ImGui::Checkbox("timed nodes only", &only_timed_);
    if (request.run_on_device && request.repeats == 1) request.repeats = 1;

    if (!state.model || !state.runs) {
        ImGui::TextDisabled("no run yet");
        return request;
    }
    const auto& runs = *state.runs;
    const auto& model = *state.model;
    ImGui::TextDisabled("%s, %s storage, %s, mean of %d run(s)%s", runs.device.c_str(),
                        rmvk::precision_name(runs.precision),
                        runs.device_timing ? "GPU timestamps" : "host time per node",
                        runs.residual.runs, runs.peak_gflops > 0 ? "" : " (peak not measured)");

    const rmvk::GraphBench* ref_res = report_ ? report_->find_graph("residual") : nullptr;
    const rmvk::GraphBench* ref_plain = report_ ? report_->find_graph("plain") : nullptr;
    int columns = report_ ? 4 : 3;
    if (ImGui::BeginTable(
            "##totals", columns,
            ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchSame)) {
        ImGui::TableSetupColumn("");
        ImGui::TableSetupColumn("residual");
        ImGui::TableSetupColumn("plain (RM)");
        if (report_) ImGui::TableSetupColumn(("report: " + report_->device.name).c_str());
        ImGui::TableHeadersRow();
        auto line = [&](const char* key, const std::string& a, const std::string& b,
                        const std::string& c) {
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::TextDisabled("%s", key);
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(a.c_str());
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(b.c_str());
            if (report_) {
                ImGui::TableNextColumn();
                ImGui::TextUnformatted(c.c_str());
            }
        };
        char a[64], b[64], c[96];
        auto fmt = [](char* out, size_t n, const char* f, double v) {
            std::snprintf(out, n, f, v);
        };
        fmt(a, 64, "%.3f ms", runs.residual.total_ms);
        fmt(b, 64, "%.3f ms", runs.plain.total_ms);
        std::snprintf(c, 96, "%.3f / %.3f ms", ref_res ? ref_res->device_total_ms : 0.0,
                      ref_plain ? ref_plain->device_total_ms : 0.0);
        line("total time", a, b, c);
        fmt(a, 64, "%.3f G", double(model.residual_cost.total_macs) / 1e9);
        fmt(b, 64, "%.3f G", double(model.plain_cost.total_macs) / 1e9);
        std::snprintf(c, 96, "%.3f / %.3f G", ref_res ? double(ref_res->total_macs) / 1e9 : 0.0,
                      ref_plain ? double(ref_plain->total_macs) / 1e9 : 0.0);
        line("MACs", a, b, c);
        double gr = gflops(model.residual_cost.total_macs, runs.residual.total_ms);
        double gp = gflops(model.plain_cost.total_macs, runs.plain.total_ms);
        fmt(a, 64, "%.2f GFLOP/s", gr);
        fmt(b, 64, "%.2f GFLOP/s", gp);
        std::snprintf(c, 96, "%.2f / %.2f", ref_res ? ref_res->gflops : 0.0,
                      ref_plain ? ref_plain->gflops : 0.0);
        line("throughput", a, b, c);
        if (runs.peak_gflops > 0) {
            fmt(a, 64, "%.1f %% of peak", 100 * gr / runs.peak_gflops);
            fmt(b, 64, "%.1f %% of peak", 100 * gp / runs.peak_gflops);
        } else {
            std::snprintf(a, 64, "-");
            std::snprintf(b, 64, "-");
        }
        std::snprintf(c, 96, "%.1f / %.1f %%", ref_res ? ref_res->peak_percent : 0.0,
                      ref_plain ? ref_plain->peak_percent : 0.0);
        line("peak use", a, b, c);
        fmt(a, 64, "%.2f MB", double(runs.residual.weight_bytes) / 1e6);
        fmt(b, 64, "%.2f MB", double(runs.plain.weight_bytes) / 1e6);
        std::snprintf(c, 96, "%.2f / %.2f MB", ref_res ? double(ref_res->weight_bytes) / 1e6 : 0.0,
                      ref_plain ? double(ref_plain->weight_bytes) / 1e6 : 0.0);
        line("weights", a, b, c);
        fmt(a, 64, "%.2f MB", double(runs.residual.peak_activation_bytes) / 1e6);
        fmt(b, 64, "%.2f MB", double(runs.plain.peak_activation_bytes) / 1e6);
        std::snprintf(c, 96, "%.2f / %.2f MB",
                      ref_res ? double(ref_res->peak_activation_bytes) / 1e6 : 0.0,
                      ref_plain ? double(ref_plain->peak_activation_bytes) / 1e6 : 0.0);
        line("peak activations", a, b, c);
        ImGui::EndTable();
    }
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

    float half = (ImGui::GetContentRegionAvail().x - 8) / 2;
    ImGui::BeginChild("bars_res", {half, 0}, true);
    draw_bars("##bres", "Residual per layer", model.residual, runs.residual, ref_res,
              theme::kResidualBar);
    ImGui::EndChild();
    ImGui::SameLine(0, 8);
    ImGui::BeginChild("bars_plain", {half, 0}, true);
    draw_bars("##bplain", "Plain (RM) per layer", model.rm.plain, runs.plain, ref_plain,
              theme::kPlainBar);
    ImGui::EndChild();
    return request;
}

void TimingPanel::draw_bars(const char* id, const char* title, const rm::Graph&,
                            const GraphRun& run, const rmvk::GraphBench* reference,
                            unsigned int color) {
    ImGui::TextColored(theme::kAccent, "%s", title);
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
                ImGui::SetTooltip("%s (%s)", t.node.c_str(),
                                  std::string(rm::op_name(t.op)).c_str());
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
