#include <imgui.h>

#include <string>

#include "ui/panels.hpp"
#include "ui/theme.hpp"

namespace rmvk::ui {

namespace {

void top_table(const char* id, const char* title, const std::vector<TopClass>& top, ImU32 bar) {
    ImGui::TextColored(theme::kAccent, "%s", title);
    if (!ImGui::BeginTable(id, 3, ImGuiTableFlags_SizingStretchProp)) return;
    ImGui::TableSetupColumn("#", ImGuiTableColumnFlags_WidthFixed, 28);
    ImGui::TableSetupColumn("class", ImGuiTableColumnFlags_WidthStretch, 1.2f);
    ImGui::TableSetupColumn("probability", ImGuiTableColumnFlags_WidthStretch, 1.0f);
    for (const auto& t : top) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::TextDisabled("%lld", static_cast<long long>(t.index));
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(t.label.c_str());
        ImGui::TableNextColumn();
        ImVec2 p = ImGui::GetCursorScreenPos();
        float w = ImGui::GetContentRegionAvail().x;
        float h = ImGui::GetTextLineHeight();
        ImDrawList* dl = ImGui::GetWindowDrawList();
        dl->AddRectFilled(p, {p.x + w, p.y + h}, theme::rgb(40, 44, 52), 3);
        dl->AddRectFilled(p, {p.x + w * t.probability, p.y + h}, bar, 3);
        char text[32];
        std::snprintf(text, sizeof(text), "%.2f%%", 100.0 * t.probability);
        dl->AddText({p.x + 4, p.y}, theme::kNodeText, text);
        ImGui::Dummy({w, h});
    }
    ImGui::EndTable();
}

}  // namespace

VerdictText verdict_text(const AppState& state) {
    const Comparison& c = state.runs->comparison;
    switch (c.values.verdict()) {
        case rm::Verdict::match:
            return {"  OUTPUTS MATCH  ", "outputs match", theme::kGood};
        case rm::Verdict::mismatch:
            if (plain_is_approximate(state))
                return top1_agrees(c) ? VerdictText{"  PRUNED: TOP-1 AGREES  ",
                                                    "pruned: top-1 agrees", theme::kWarn}
                                      : VerdictText{"  PRUNED: TOP-1 DIFFERS  ",
                                                    "pruned: top-1 differs", theme::kWarn};
            return {"  OUTPUTS DIFFER  ", "outputs differ", theme::kBad};
        case rm::Verdict::not_finite:
            return {"  OUTPUTS NOT FINITE  ", "outputs not finite", theme::kNotFinite};
    }
    return {"", "", theme::kBad};
}

void draw_outputs_panel(const AppState& state) {
    if (!state.runs) {
        ImGui::TextDisabled("no run yet");
        return;
    }
    const Comparison& c = state.runs->comparison;
    const rm::Verdict v = c.values.verdict();
    const VerdictText said = verdict_text(state);
    const ImVec4 verdict = said.colour;
    // Not finite: a bright fill, unlike the dimmed one of a mere mismatch.
    const float fill = v == rm::Verdict::not_finite ? 0.8f : 0.45f;
    ImGui::PushStyleColor(ImGuiCol_Button,
                          ImVec4(verdict.x * fill, verdict.y * fill, verdict.z * fill, 1));
    ImGui::PushStyleColor(ImGuiCol_ButtonHovered,
                          ImVec4(verdict.x * fill, verdict.y * fill, verdict.z * fill, 1));
    ImGui::Button(said.badge);
    ImGui::PopStyleColor(2);
    ImGui::SameLine();
    ImGui::BeginGroup();
    if (v == rm::Verdict::not_finite) {
        auto where = [](const std::string& node) {
            return node.empty() ? "nowhere" : node.c_str();
        };
        ImGui::TextColored(verdict, "first NaN/Inf: residual %s, plain %s",
                           where(c.residual_first_non_finite), where(c.plain_first_non_finite));
        ImGui::TextDisabled("%lld / %lld non-finite output values (residual / plain)",
                            static_cast<long long>(c.values.reference_non_finite.count),
                            static_cast<long long>(c.values.candidate_non_finite.count));
    } else {
        ImGui::Text("max|diff| %.3g   NMSE %.3g", c.values.max_abs_diff, c.values.nmse());
        if (v == rm::Verdict::mismatch && plain_is_approximate(state))
            ImGui::TextDisabled("pruned at threshold %.3g: approximate, not expected to match",
                                state.model->pruned->threshold);
        else
            ImGui::TextDisabled("tolerance 1e-4 * max|ref| = %.3g", c.values.tolerance());
    }
    ImGui::EndGroup();
    float half = (ImGui::GetContentRegionAvail().x - 8) / 2;
    ImGui::BeginChild("top_res", {half, 0}, false);
    top_table("##topres", "Residual top-5", c.residual_top, theme::kResidualBar);
    ImGui::EndChild();
    ImGui::SameLine(0, 8);
    ImGui::BeginChild("top_plain", {half, 0}, false);
    top_table("##topplain", "Plain (RM) top-5", c.plain_top, theme::kPlainBar);
    ImGui::EndChild();
}

}  // namespace rmvk::ui
