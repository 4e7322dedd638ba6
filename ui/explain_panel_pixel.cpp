// The Explain tab's worked pixel: one output value of the selected block computed by the residual
// block and by the plain chain (rm/explain_pixel), picked by clicking the output feature map.
#include <imgui.h>

#include <algorithm>
#include <cmath>

#include "rm/error.hpp"
#include "ui/colormap.hpp"
#include "ui/explain_panel.hpp"
#include "ui/renderer.hpp"
#include "ui/texture.hpp"
#include "ui/theme.hpp"

namespace rmvk::ui {

void ExplainPanel::update_pixel(const AppState& state) {
    const rm::BlockExplanation& e = *explained_;
    const auto& m = *state.model;
    if (pixel_request_) {
        pixel_ = *pixel_request_;
        pixel_request_.reset();
    }
    // Called every frame: the tensors are read back from the runs only when the key changes.
    auto key_of = [&] {
        return bind_key_ + "|" + std::to_string(reinterpret_cast<uintptr_t>(state.runs.get())) +
               "|" + std::to_string(pixel_[0]) + "," + std::to_string(pixel_[1]) + "," +
               std::to_string(pixel_[2]);
    };
    if (pixel_[1] >= 0 && key_of() == pixel_key_) return;
    const auto out = state.runs->residual.tensor(e.block.output);
    if (!out || out->shape.size() != 4) {
        pixel_error_ = "the residual run kept no output for this block";
        worked_.reset();
        return;
    }
    const rm::Shape& s = out->shape;
    if (pixel_[1] < 0) {
        // Default: channel 0 where the block output is largest (a ReLU leaves many zeros).
        const float* c0 = out->data.data();
        const int64_t hw = s[2] * s[3];
        const int64_t best = std::max_element(c0, c0 + hw) - c0;
        pixel_ = {0, best / s[3], best % s[3]};
    }
    const std::string key = key_of();
    if (key == pixel_key_) return;
    pixel_key_ = key;
    try {
        const auto& runs = *state.runs;
        worked_ = rm::work_pixel(
            e, m.residual, m.rm.plain,
            [&](const std::string& t) { return runs.residual.tensor(t); },
            [&](const std::string& t) { return runs.plain.tensor(t); }, pixel_[0], pixel_[1],
            pixel_[2]);
        pixel_error_.clear();
    } catch (const std::exception& ex) {
        worked_.reset();
        pixel_error_ = ex.what();
    }
    // The clickable map: the chosen channel of the block output.
    std::string tkey = key.substr(0, key.rfind(','));
    tkey = tkey.substr(0, tkey.rfind(','));
    if (tkey != pixel_tex_key_ && pixel_[0] >= 0 && pixel_[0] < s[1]) {
        pixel_tex_key_ = tkey;
        const int64_t h = s[2], w = s[3];
        const float* src = out->data.data() + pixel_[0] * h * w;
        float hi = 0;
        for (int64_t i = 0; i < h * w; ++i) hi = std::max(hi, src[i]);
        std::vector<uint8_t> rgba(size_t(h * w) * 4);
        for (int64_t i = 0; i < h * w; ++i) {
            auto c = viridis(hi > 0 ? src[i] / hi : 0.0f);
            std::copy(c.begin(), c.end(), rgba.begin() + i * 4);
            rgba[size_t(i) * 4 + 3] = 255;
        }
        pixel_tex_ = std::make_unique<Texture>(renderer_, int(w), int(h), rgba);
    }
}

void ExplainPanel::draw_pixel(const AppState& state, float height) {
    if (!state.runs) {
        ImGui::TextDisabled("worked pixel: waiting for the runs of both graphs");
        return;
    }
    update_pixel(state);
    const rm::BlockExplanation& e = *explained_;
    ImGui::BeginGroup();
    ImGui::TextColored(theme::kAccent, "Worked pixel");
    ImGui::SetNextItemWidth(110);
    int c = int(pixel_[0]);
    if (ImGui::InputInt("channel", &c))
        pixel_request_ = std::array<int64_t, 3>{c, pixel_[1], pixel_[2]};
    const float map = height - 56;
    if (pixel_tex_) {
        const float aspect = float(pixel_tex_->width()) / float(pixel_tex_->height());
        ImVec2 size(map * std::min(1.0f, aspect), map / std::max(1.0f, aspect));
        ImVec2 p0 = ImGui::GetCursorScreenPos();
        ImGui::InvisibleButton("##pixelmap", size);
        ImDrawList* dl = ImGui::GetWindowDrawList();
        renderer_.draw_image(dl, *pixel_tex_, p0, ImVec2(p0.x + size.x, p0.y + size.y),
                             ImVec2(0, 0), ImVec2(1, 1));
        const float cw = size.x / float(pixel_tex_->width()),
                    ch = size.y / float(pixel_tex_->height());
        if (ImGui::IsItemClicked()) {
            ImVec2 mp = ImGui::GetIO().MousePos;
            pixel_request_ = std::array<int64_t, 3>{
                pixel_[0],
                std::clamp<int64_t>(int64_t((mp.y - p0.y) / ch), 0, pixel_tex_->height() - 1),
                std::clamp<int64_t>(int64_t((mp.x - p0.x) / cw), 0, pixel_tex_->width() - 1)};
        }
        ImVec2 a(p0.x + float(pixel_[2]) * cw, p0.y + float(pixel_[1]) * ch);
        dl->AddRect(a, ImVec2(a.x + std::max(cw, 3.0f), a.y + std::max(ch, 3.0f)),
                    theme::kSelection, 0, 0, 2);
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("click to pick the output position");
    }
    ImGui::EndGroup();
    ImGui::SameLine(0, 12);
    ImGui::BeginChild("##pixel_terms", ImVec2(0, height), false);
    if (!worked_) {
        ImGui::TextColored(theme::kBad, "%s", pixel_error_.c_str());
        ImGui::EndChild();
        return;
    }
    const rm::WorkedPixel& w = *worked_;
    ImGui::Text("block output [%lld, %lld, %lld] (channel, row, column): residual vs plain",
                (long long)w.channel, (long long)w.y, (long long)w.x);
    // residual: F, shortcut, sum, out; plain: bias, original columns, merge columns, sum, out.
    if (w.residual.size() == 4 && w.plain.size() == 6 &&
        ImGui::BeginTable("##pixel_terms_table", 3,
                          ImGuiTableFlags_SizingStretchProp | ImGuiTableFlags_RowBg)) {
        ImGui::TableSetupColumn("", ImGuiTableColumnFlags_WidthStretch, 1.2f);
        ImGui::TableSetupColumn("residual block", ImGuiTableColumnFlags_WidthStretch, 1.0f);
        ImGui::TableSetupColumn("plain chain (last conv')", ImGuiTableColumnFlags_WidthStretch,
                                1.4f);
        ImGui::TableHeadersRow();
        auto row = [](const char* what, double res, const std::string& plain) {
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::TextDisabled("%s", what);
            ImGui::TableNextColumn();
            ImGui::Text("%.6g", res);
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(plain.c_str());
        };
        char buf[96];
        std::snprintf(buf, sizeof(buf), "bias %.4g + cols %.5g", w.plain[0].value,
                      w.plain[1].value);
        row("main branch F(x)", w.residual[0].value, buf);
        if (w.plain[2].value != 0)
            std::snprintf(buf, sizeof(buf), "bias %.4g + reserved %.5g", w.plain[2].value,
                          w.plain[3].value);
        else
            std::snprintf(buf, sizeof(buf), "reserved cols %.6g", w.plain[3].value);
        row(e.block.projection ? "shortcut: projection" : "shortcut: x", w.residual[1].value, buf);
        std::snprintf(buf, sizeof(buf), "%.6g", w.plain[4].value);
        row("sum", w.residual[2].value, buf);
        std::snprintf(buf, sizeof(buf), "%.6g", w.plain[5].value);
        row("ReLU: output", w.residual[3].value, buf);
        ImGui::EndTable();
    }
    ImGui::TextColored(w.agree ? theme::kGood : theme::kBad,
                       "difference %.3g (%s 1e-4 x max|ref| = %.3g)", w.difference,
                       w.agree ? "within" : "above", w.tolerance);
    // The reserved channel from x to its merge term, on one line.
    std::string trace;
    char buf[64];
    for (size_t i = 0; i < w.reserved.size(); ++i) {
        const bool last = i + 1 == w.reserved.size() && w.reserved.size() > 1;
        std::snprintf(buf, sizeof(buf), "%s%.5g",
                      i == 0 ? "x = "
                      : last ? " => term "
                             : " -> ",
                      w.reserved[i].value);
        trace += buf;
    }
    ImGui::TextColored(theme::kReservedText4,
                       "reserved channel %lld:", (long long)w.reserved_channel);
    ImGui::SameLine();
    ImGui::TextWrapped("%s", trace.c_str());
    if (ImGui::IsItemHovered()) {
        std::string all;
        for (const auto& t : w.reserved) all += t.label + ": " + std::to_string(t.value) + "\n";
        ImGui::SetTooltip("%s", all.c_str());
    }
    ImGui::EndChild();
}

}  // namespace rmvk::ui
