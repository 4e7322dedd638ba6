#include "ui/explain_panel.hpp"

#include <imgui.h>

#include <algorithm>
#include <cmath>

#include "rm/cost.hpp"
#include "rm/error.hpp"
#include "ui/colormap.hpp"
#include "ui/explain_diagram.hpp"
#include "ui/renderer.hpp"
#include "ui/texture.hpp"
#include "ui/theme.hpp"
#include "ui/weight_grid.hpp"

namespace rmvk::ui {

namespace {

const char* kStepNames[4] = {"1 Original", "2 Fold BN", "3 Reserve", "4 Merge"};

std::string block_of_selection(const AppState& state) {
    const auto& m = *state.model;
    const auto& sel = state.selection;
    if (!sel.residual_primary.empty()) {
        std::string b = rm::block_of_residual_node(m.rm, sel.residual_primary);
        if (!b.empty()) return b;
    }
    if (!sel.plain_primary.empty()) {
        auto it = m.rm.mapping.find(sel.plain_primary);
        if (it != m.rm.mapping.end()) return it->second.block;
    }
    return "";
}

void legend_swatch(rm::WeightPartKind kind) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    ImVec2 p = ImGui::GetCursorScreenPos();
    const float s = ImGui::GetTextLineHeight();
    dl->AddRect(ImVec2(p.x + 1, p.y + 2), ImVec2(p.x + s - 1, p.y + s - 2), part_colour(kind), 0, 0,
                2);
    ImGui::Dummy(ImVec2(s, s));
    ImGui::SameLine(0, 4);
    ImGui::TextUnformatted(rm::weight_part_name(kind));
}

void colour_bar(float scale, float width) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    ImVec2 p = ImGui::GetCursorScreenPos();
    const int steps = 32;
    for (int i = 0; i < steps; ++i) {
        auto c = diverging(float(i) / float(steps - 1) * 2 - 1);
        dl->AddRectFilled(ImVec2(p.x + width * float(i) / steps, p.y),
                          ImVec2(p.x + width * float(i + 1) / steps, p.y + 10),
                          theme::rgb(c[0], c[1], c[2]));
    }
    ImGui::Dummy(ImVec2(width, 11));
    char lo[24], hi[24];
    std::snprintf(lo, sizeof(lo), "-%.3g", double(scale));
    std::snprintf(hi, sizeof(hi), "+%.3g", double(scale));
    ImGui::TextDisabled("%s", lo);
    ImGui::SameLine(width / 2 - 4);
    ImGui::TextDisabled("0");
    ImGui::SameLine(width - ImGui::CalcTextSize(hi).x);
    ImGui::TextDisabled("%s", hi);
}

}  // namespace

ExplainPanel::ExplainPanel(Renderer& renderer)
    : renderer_(renderer), grid_(std::make_unique<WeightGrid>(renderer)) {}
ExplainPanel::~ExplainPanel() = default;

void ExplainPanel::show_row(const std::string& node, int64_t row) {
    show_node_ = node;
    highlight_node_ = node;
    highlight_row_ = row;
}

void ExplainPanel::bind(const AppState& state) {
    const auto& m = *state.model;
    const std::string model_key = std::to_string(reinterpret_cast<uintptr_t>(state.model.get()));
    const std::string sel_key =
        state.selection.residual_primary + "|" + state.selection.plain_primary;
    if (model_key != model_key_) {
        model_key_ = model_key;
        chosen_block_.clear();
        block_.clear();
        explained_.reset();
    }
    // A new selection inside a block wins over a block picked in the combo before.
    if (sel_key != sel_key_) {
        sel_key_ = sel_key;
        chosen_block_.clear();
    }
    if (!show_node_.empty()) {
        auto it = m.rm.mapping.find(show_node_);
        if (it != m.rm.mapping.end() && !it->second.block.empty()) chosen_block_ = it->second.block;
    }
    std::string block = chosen_block_.empty() ? block_of_selection(state) : chosen_block_;
    if (block.empty())
        for (const auto& b : m.rm.blocks)
            if (b.convertible) {
                block = b.name;
                break;
            }
    if (block == block_ && (explained_ || !error_.empty())) return;
    block_ = block;
    bind_key_ = model_key + "|" + block;
    explained_.reset();
    error_.clear();
    worked_.reset();
    pixel_key_.clear();
    pixel_tex_key_.clear();
    if (block.empty()) {
        error_ = "this model has no residual block that RM converted";
        return;
    }
    try {
        explained_ = rm::explain_block(m.residual, m.residual_cost, m.rm, m.plain_cost, block);
    } catch (const std::exception& e) {
        error_ = e.what();
    }
}

void ExplainPanel::draw_header(bool active) {
    if (ImGui::ArrowButton("##explain_prev", ImGuiDir_Left)) step_ = std::max(0, step_ - 1);
    ImGui::SameLine();
    for (int s = 0; s < 4; ++s) {
        if (s) ImGui::SameLine();
        bool current = s == step_;
        if (current) ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(0.26f, 0.45f, 0.70f, 1.0f));
        if (ImGui::Button(kStepNames[s])) step_ = s;
        if (current) ImGui::PopStyleColor();
    }
    ImGui::SameLine();
    if (ImGui::ArrowButton("##explain_next", ImGuiDir_Right)) step_ = std::min(3, step_ + 1);
    if (active && !ImGui::GetIO().WantTextInput) {
        if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_LeftArrow)))
            step_ = std::max(0, step_ - 1);
        if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_RightArrow)))
            step_ = std::min(3, step_ + 1);
    }
}

void ExplainPanel::draw(const AppState& state, bool active) {
    if (!state.model) {
        ImGui::TextDisabled("no model loaded");
        return;
    }
    bind(state);
    const auto& m = *state.model;
    // Block picker: any converted block, whatever is selected in the graphs.
    ImGui::SetNextItemWidth(200);
    if (ImGui::BeginCombo("##explain_block", block_.empty() ? "no block" : block_.c_str())) {
        for (const auto& b : m.rm.blocks)
            if (b.convertible && ImGui::Selectable(b.name.c_str(), b.name == block_)) {
                chosen_block_ = b.name;
                show_node_.clear();
                highlight_row_ = -1;
            }
        ImGui::EndCombo();
    }
    ImGui::SameLine();
    // Requests first, so that keys pressed in the same frame step from the requested step.
    if (pending_step_ > 0) {
        step_ = std::clamp(pending_step_ - 1, 0, 3);
        pending_step_ = 0;
    }
    draw_header(active);
    if (!explained_) {
        ImGui::TextColored(theme::kBad, "%s", error_.c_str());
        return;
    }
    const rm::BlockExplanation& e = *explained_;
    if (!show_node_.empty()) {
        step_ = 3;
        for (size_t i = 0; i < e.steps[3].convs.size(); ++i)
            if (e.steps[3].convs[i].node == show_node_) conv_ = int(i);
        show_node_.clear();
    }
    if (pending_conv_ >= 0) {
        conv_ = pending_conv_;
        pending_conv_ = -1;
    }
    const rm::ExplainStep& st = e.steps[size_t(step_)];
    conv_ = std::clamp(conv_, 0, int(st.convs.size()) - 1);

    ImGui::TextColored(theme::kAccent, "%s", st.title.c_str());
    ImGui::SameLine();
    ImGui::TextDisabled(
        "| block %s (%s%s)", e.block.name.c_str(),
        e.block.kind == rm::ResidualBlock::Kind::Basic ? "BasicBlock" : "Bottleneck",
        e.block.projection ? ", projection shortcut" : ", identity shortcut");
    ImGui::PushTextWrapPos(ImGui::GetContentRegionAvail().x + ImGui::GetCursorPosX());
    ImGui::TextWrapped("%s", st.description.c_str());
    ImGui::PopTextWrapPos();
    draw_block_diagram(e, step_, ImGui::GetContentRegionAvail().x);
    const rm::StepCost& c0 = e.steps[0].cost;
    ImGui::Text("params %s (x%.2f)   MACs %s (x%.2f)", rm::grouped_digits(st.cost.params).c_str(),
                double(st.cost.params) / double(std::max<int64_t>(1, c0.params)),
                rm::grouped_digits(st.cost.macs).c_str(),
                double(st.cost.macs) / double(std::max<int64_t>(1, c0.macs)));
    if (st.cost.structured_macs != st.cost.macs) {
        ImGui::SameLine();
        ImGui::TextDisabled("| rmvk multiplies %s (Dirac and zero parts are copies)",
                            rm::grouped_digits(st.cost.structured_macs).c_str());
    }

    // Which conv of the step, and the tools for its picture.
    for (size_t i = 0; i < st.convs.size(); ++i) {
        if (i) ImGui::SameLine();
        if (ImGui::RadioButton(st.convs[i].title.c_str(), conv_ == int(i))) conv_ = int(i);
    }
    const rm::ExplainedConv& conv = st.convs[size_t(conv_)];
    ImGui::SameLine();
    if (ImGui::SmallButton("Export PNG")) {
        std::string name =
            "rmvk_explain_" + e.block.name + "_step" + std::to_string(step_ + 1) + "_" + conv.node;
        for (char& ch : name)
            if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') ch = '_';
        export_message_ = export_png(name + ".png") ? "wrote " + name + ".png" : "export failed";
    }
    if (!export_message_.empty()) {
        ImGui::SameLine();
        ImGui::TextDisabled("%s", export_message_.c_str());
    }
    const auto& ws = conv.weight.shape;
    ImGui::TextDisabled(
        "%s [%lld, %lld, %lld, %lld]%s: rows = outputs, columns = inputs, "
        "cells = kernels; wheel zooms, drag pans",
        conv.node.c_str(), (long long)ws[0], (long long)(ws[1] * conv.weight.group),
        (long long)ws[2], (long long)ws[3],
        grid_->summary() ? " (summary: largest value per cell)" : "");
    if (conv.node == highlight_node_ && highlight_row_ >= 0)
        ImGui::TextColored(theme::kReservedText4,
                           "framed: row %lld, the Dirac row that makes reserved channel %lld "
                           "(picked in the feature maps)",
                           (long long)highlight_row_, (long long)highlight_row_);
    const float pixel_h = 176;
    const float side_w = 230;
    ImVec2 avail = ImGui::GetContentRegionAvail();
    const float grid_h = std::max(120.0f, avail.y - pixel_h - 8);
    // The same weight at two steps (a reserve conv' at steps 3 and 4) is one picture.
    std::string key = bind_key_ + "|" + conv.node + "|" +
                      (conv.plain   ? "plain"
                       : step_ == 0 ? "raw"
                                    : "folded");
    int64_t row = conv.node == highlight_node_ ? highlight_row_ : -1;
    if (zoom_request_ > 0 && key == grid_key_) {
        grid_->request_zoom(zoom_request_);
        zoom_request_ = 0;
    }
    grid_key_ = key;
    grid_->draw(conv, key, ImVec2(avail.x - side_w - 8, grid_h), row);
    ImGui::SameLine(0, 8);
    ImGui::BeginGroup();
    ImGui::TextDisabled("colour: weight value");
    colour_bar(conv.original_max_abs > 0 ? conv.original_max_abs : 1.0f, side_w - 10);
    for (auto kind : {rm::WeightPartKind::Original, rm::WeightPartKind::ReservedCopy,
                      rm::WeightPartKind::Zero, rm::WeightPartKind::IdentityMerge,
                      rm::WeightPartKind::ProjectionMerge, rm::WeightPartKind::PreActivation})
        if (kind != rm::WeightPartKind::PreActivation ||
            std::any_of(conv.parts.begin(), conv.parts.end(),
                        [](const auto& p) { return p.kind == rm::WeightPartKind::PreActivation; }))
            legend_swatch(kind);
    // Histogram: this conv against the folded original it grew from.
    const rm::ExplainedConv* original = nullptr;
    for (const auto& c : e.steps[1].convs)
        if (!conv.parts.empty() && c.node == conv.parts.front().source_conv) original = &c;
    for (const auto& p : conv.parts)
        if (p.kind == rm::WeightPartKind::Original)
            for (const auto& c : e.steps[1].convs)
                if (c.node == p.source_conv) original = &c;
    if (original && conv.plain) {
        ImGui::Spacing();
        ImGui::TextDisabled("values: ");
        ImGui::SameLine(0, 0);
        ImGui::TextColored(ImVec4(0.16f, 0.75f, 0.92f, 1), "original");
        ImGui::SameLine();
        ImGui::TextColored(ImVec4(1.0f, 0.47f, 0.35f, 1), "plain");
        ImGui::SameLine();
        ImGui::TextDisabled("(log count)");
        if (hist_key_ != key) {
            hist_key_ = key;
            hist_ = weight_histogram(*original, conv, 41);
        }
        const WeightHistogram& h = hist_;
        draw_histogram(h, side_w - 10, 90);
        ImGui::TextDisabled("plain: %.1f%% zeros", 100.0 * double(h.plain_zeros) /
                                                       double(std::max<int64_t>(1, h.plain_total)));
    }
    ImGui::EndGroup();
    draw_pixel(state, pixel_h);
}

bool ExplainPanel::export_png(const std::string& path) {
    if (!explained_) return false;
    const auto& st = explained_->steps[size_t(step_)];
    const auto& conv = st.convs[size_t(std::clamp(conv_, 0, int(st.convs.size()) - 1))];
    bool ok = grid_->export_png(path, conv);
    if (ok) exported_ = path;
    return ok;
}

ExplainFacts ExplainPanel::facts(const AppState& state) const {
    ExplainFacts f;
    f.error = error_;
    f.exported = exported_;
    if (!explained_ || !state.model) return f;
    const rm::BlockExplanation& e = *explained_;
    const auto& m = *state.model;
    f.block = e.block.name;
    f.kind = e.block.kind == rm::ResidualBlock::Kind::Basic ? "basic" : "bottleneck";
    f.projection = e.block.projection;
    f.in_channels = e.in_channels;
    f.step = step_ + 1;
    f.step_title = e.steps[size_t(step_)].title;
    for (const auto& s : e.steps) f.costs.push_back(s.cost);
    f.conv = conv_;
    f.summary = grid_->summary();
    f.detail = grid_->detail_shown();
    f.texture_w = grid_->texture_width();
    f.texture_h = grid_->texture_height();
    f.cells_per_texel = grid_->cells_per_texel();
    f.highlight_row = highlight_row_;
    const auto& st = e.steps[size_t(step_)];
    for (size_t i = 0; i < st.convs.size(); ++i) {
        const auto& c = st.convs[i];
        ExplainConvFacts cf;
        cf.node = c.node;
        cf.title = c.title;
        cf.plain = c.plain;
        cf.drawn = int(i) == conv_;
        if (cf.drawn && hover_[0] >= 0 && hover_[0] < c.weight.out_channels() &&
            hover_[1] < c.weight.in_channels())
            f.hover = describe_cell(c, hover_[0], hover_[1]);
        cf.shape = c.weight.shape;
        cf.shape[1] *= c.weight.group;
        if (auto it = m.rm.mapping.find(c.node); c.plain && it != m.rm.mapping.end())
            cf.mapping_channels = it->second.channels;
        for (const auto& p : c.parts) {
            ExplainPartFacts pf;
            pf.part = p;
            pf.max_abs_vs_source = rm::part_difference(m.residual, c, p);
            if (p.kind == rm::WeightPartKind::ProjectionMerge &&
                (p.out_end - p.out_begin) * (p.in_end - p.in_begin) <= 4096) {
                const int64_t kh = c.weight.shape[2], kw = c.weight.shape[3];
                for (int64_t o = p.out_begin; o < p.out_end; ++o) {
                    std::vector<float> k = rm::kernel_row(c.weight, o, p.in_begin, p.in_end);
                    for (int64_t i2 = 0; i2 < p.in_end - p.in_begin; ++i2)
                        pf.centre_values.push_back(
                            k[size_t(i2 * kh * kw + (kh / 2) * kw + kw / 2)]);
                }
            }
            cf.parts.push_back(std::move(pf));
        }
        f.convs.push_back(std::move(cf));
    }
    if (!hist_key_.empty() && hist_key_ == grid_key_) {
        f.hist_original = hist_.original;
        f.hist_plain = hist_.plain;
        f.hist_plain_zeros = hist_.plain_zeros;
    }
    f.pixel = worked_;
    f.pixel_error = pixel_error_;
    return f;
}

}  // namespace rmvk::ui
