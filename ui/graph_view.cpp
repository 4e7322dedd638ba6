#include "ui/graph_view.hpp"

#include <imgui.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "ui/theme.hpp"

namespace rmvk::ui {

namespace {

bool contains_nocase(const std::string& hay, const char* needle) {
    std::string n(needle);
    if (n.empty()) return false;
    auto it = std::search(hay.begin(), hay.end(), n.begin(), n.end(),
                          [](char a, char b) { return std::tolower(a) == std::tolower(b); });
    return it != hay.end();
}

}  // namespace

void GraphView::set_graph(GraphViewInput input) {
    input_ = std::move(input);
    collapsed_.clear();
    dirty_ = true;
    needs_fit_ = true;
    fit_whole_ = false;
}

void GraphView::set_all_collapsed(bool collapsed) {
    collapsed_.clear();
    if (collapsed)
        for (const auto& [node, block] : input_.blocks) collapsed_.insert(block);
    dirty_ = true;
}

int GraphView::box_count() const {
    int n = 0;
    for (const auto& b : layout_.nodes) n += b.kind != LayoutNode::Kind::Dummy;
    return n;
}

void GraphView::rebuild() {
    if (!input_.graph) return;
    layout_ =
        build_layout(*input_.graph, *input_.shapes, input_.blocks, collapsed_, input_.mapping);
    if (input_.notes)
        for (auto& n : layout_.nodes)
            if (auto it = input_.notes->find(n.id); it != input_.notes->end())
                n.subtitle = it->second + "  " + n.subtitle;
    dirty_ = false;
}

void GraphView::fit(float canvas_w, float canvas_h, bool whole) {
    float gw = std::max(1.0f, layout_.max_x - layout_.min_x + 40);
    float gh = std::max(1.0f, layout_.height + 40);
    if (whole) {
        zoom_ = std::clamp(std::min(canvas_w / gw, canvas_h / gh), 0.02f, 1.5f);
        center_ = {(layout_.min_x + layout_.max_x) / 2, layout_.height / 2};
    } else {
        // Readable start: fit the width, show the top of the graph.
        zoom_ = std::clamp(canvas_w / gw, 0.45f, 1.0f);
        center_ = {(layout_.min_x + layout_.max_x) / 2, canvas_h / 2 / zoom_ - 20};
    }
}

void GraphView::draw_toolbar() {
    ImGui::TextColored(theme::kAccent, "%s", title_.c_str());
    ImGui::SameLine();
    ImGui::TextDisabled("%d boxes", box_count());
    ImGui::SameLine();
    if (ImGui::SmallButton("Fit")) {
        needs_fit_ = true;
        fit_whole_ = true;
    }
    ImGui::SameLine();
    if (ImGui::SmallButton("Top")) {
        needs_fit_ = true;
        fit_whole_ = false;
    }
    if (!input_.blocks.empty()) {
        ImGui::SameLine();
        if (collapsed_.empty() ? ImGui::SmallButton("Collapse blocks")
                               : ImGui::SmallButton("Expand blocks"))
            set_all_collapsed(collapsed_.empty());
    }
    ImGui::SetNextItemWidth(-1);
    std::string id = "##search" + title_;
    if (ImGui::InputTextWithHint(id.c_str(), "search nodes (Enter: next)", search_, sizeof(search_),
                                 ImGuiInputTextFlags_EnterReturnsTrue)) {
        std::vector<std::string> hits;
        for (const auto& node : input_.graph->nodes)
            if (contains_nocase(node.name, search_)) hits.push_back(node.name);
        if (!hits.empty()) focus_ = hits[size_t(search_hit_++) % hits.size()];
        ImGui::SetKeyboardFocusHere(-1);
    }
}

std::optional<std::string> GraphView::draw(const std::set<std::string>& selected,
                                           const std::map<std::string, double>& node_ms) {
    std::optional<std::string> clicked;
    if (!input_.graph) {
        ImGui::TextDisabled("%s: no model", title_.c_str());
        return clicked;
    }
    if (dirty_) rebuild();
    draw_toolbar();

    ImVec2 origin = ImGui::GetCursorScreenPos();
    ImVec2 size = ImGui::GetContentRegionAvail();
    size.x = std::max(size.x, 50.0f);
    size.y = std::max(size.y, 50.0f);
    if (needs_fit_) {
        fit(size.x, size.y, fit_whole_);
        needs_fit_ = false;
    }
    if (focus_) {
        auto it = layout_.box_of.find(*focus_);
        if (it != layout_.box_of.end()) {
            const auto& n = layout_.nodes[it->second];
            center_ = {n.x, n.y + n.h / 2};
            zoom_ = std::max(zoom_, 0.6f);
        }
        focus_.reset();
    }
    std::string canvas_id = "canvas" + title_;
    ImGui::InvisibleButton(canvas_id.c_str(), size,
                           ImGuiButtonFlags_MouseButtonLeft | ImGuiButtonFlags_MouseButtonRight);
    bool hovered = ImGui::IsItemHovered();
    ImGuiIO& io = ImGui::GetIO();
    auto to_screen = [&](Point p) {
        return ImVec2(origin.x + size.x / 2 + (p.x - center_.x) * zoom_,
                      origin.y + size.y / 2 + (p.y - center_.y) * zoom_);
    };
    auto to_world = [&](ImVec2 s) {
        return Point{center_.x + (s.x - origin.x - size.x / 2) / zoom_,
                     center_.y + (s.y - origin.y - size.y / 2) / zoom_};
    };
    if (ImGui::IsItemActive() && ImGui::IsMouseDragging(ImGuiMouseButton_Left, 2.0f)) {
        center_.x -= io.MouseDelta.x / zoom_;
        center_.y -= io.MouseDelta.y / zoom_;
    }
    if (hovered && io.MouseWheel != 0) {
        Point before = to_world(io.MousePos);
        zoom_ = std::clamp(zoom_ * std::pow(1.15f, io.MouseWheel), 0.02f, 3.0f);
        Point after = to_world(io.MousePos);
        center_.x += before.x - after.x;
        center_.y += before.y - after.y;
    }

    ImDrawList* dl = ImGui::GetWindowDrawList();
    ImVec2 clip_max(origin.x + size.x, origin.y + size.y);
    dl->PushClipRect(origin, clip_max, true);
    // Dot grid: depth cue while panning.
    float step = 40 * zoom_;
    if (step > 12) {
        float ox = std::fmod(origin.x + size.x / 2 - center_.x * zoom_, step);
        float oy = std::fmod(origin.y + size.y / 2 - center_.y * zoom_, step);
        for (float x = origin.x + ox; x < clip_max.x; x += step)
            for (float y = origin.y + oy; y < clip_max.y; y += step)
                dl->AddRectFilled({x, y}, {x + 1, y + 1}, theme::kGridDot);
    }

    const float margin = 40;
    auto visible = [&](ImVec2 a, ImVec2 b) {
        return b.x >= origin.x - margin && a.x <= clip_max.x + margin && b.y >= origin.y - margin &&
               a.y <= clip_max.y + margin;
    };
    ImFont* font = ImGui::GetFont();
    float base = ImGui::GetFontSize();
    bool show_labels = zoom_ > 0.55f;
    float edge_width = std::max(1.0f, 1.6f * zoom_);
    for (const auto& e : layout_.edges) {
        ImVec2 lo(1e9f, 1e9f), hi(-1e9f, -1e9f);
        std::vector<ImVec2> pts;
        for (const auto& p : e.points) {
            ImVec2 s = to_screen(p);
            lo = {std::min(lo.x, s.x), std::min(lo.y, s.y)};
            hi = {std::max(hi.x, s.x), std::max(hi.y, s.y)};
            pts.push_back(s);
        }
        if (!visible(lo, hi)) continue;
        bool skip = pts.size() > 2;
        ImU32 col = skip ? theme::kShortcutEdge : theme::kEdge;
        for (size_t i = 0; i + 1 < pts.size(); ++i) {
            ImVec2 a = pts[i], b = pts[i + 1];
            float dy = (b.y - a.y) * 0.5f;
            dl->AddBezierCubic(a, {a.x, a.y + dy}, {b.x, b.y - dy}, b, col, edge_width, 12);
        }
        ImVec2 tip = pts.back();
        float ah = 6 * zoom_;
        dl->AddTriangleFilled({tip.x - ah, tip.y - ah * 1.4f}, {tip.x + ah, tip.y - ah * 1.4f}, tip,
                              col);
        if (show_labels && !e.label.empty()) {
            ImVec2 a = pts[0], b = pts[1];
            ImVec2 at((a.x + b.x) / 2 + 5 * zoom_, (a.y + b.y) / 2 - base * zoom_ * 0.85f * 0.5f);
            dl->AddText(font, base * zoom_ * 0.85f, at, theme::kEdgeLabel, e.label.c_str());
        }
    }

    double max_ms = 0;
    for (const auto& [n, ms] : node_ms) max_ms = std::max(max_ms, ms);
    drawn_boxes_ = 0;
    std::optional<int> hovered_box;
    for (size_t i = 0; i < layout_.nodes.size(); ++i) {
        const auto& n = layout_.nodes[i];
        if (n.kind == LayoutNode::Kind::Dummy) continue;
        ImVec2 a = to_screen({n.x - n.w / 2, n.y});
        ImVec2 b = to_screen({n.x + n.w / 2, n.y + n.h});
        if (!visible(a, b)) continue;
        ++drawn_boxes_;
        bool is_selected = false;
        for (const auto& m : n.members) is_selected |= selected.count(m) > 0;
        float rounding = 6 * zoom_;
        ImU32 fill = n.kind == LayoutNode::Kind::Block ? theme::kBlockFill
                     : n.kind == LayoutNode::Kind::Op  ? theme::op_color(n.op)
                                                       : theme::kIoFill;
        if (is_selected)
            dl->AddRect({a.x - 4, a.y - 4}, {b.x + 4, b.y + 4}, theme::kSelectionGlow, rounding + 4,
                        0, 6);
        dl->AddRectFilled(a, b, fill, rounding);
        if (n.kind == LayoutNode::Kind::Block) {
            // Stacked look: the box stands for many.
            dl->AddRect({a.x + 4 * zoom_, a.y + 4 * zoom_}, {b.x + 4 * zoom_, b.y + 4 * zoom_},
                        theme::kBlockEdge, rounding);
        }
        if (n.reserved_channels > 0)
            dl->AddRectFilled(a, {a.x + 6 * zoom_, b.y}, theme::kReserved, rounding,
                              ImDrawFlags_RoundCornersLeft);
        dl->AddRect(a, b, is_selected ? theme::kSelection : theme::kNodeBorder, rounding, 0,
                    is_selected ? 2.5f : 1.0f);
        if (ImGui::IsMouseHoveringRect(a, b) && hovered) hovered_box = int(i);

        auto ms = n.members.size() == 1 ? node_ms.find(n.members[0]) : node_ms.end();
        if (ms != node_ms.end() && max_ms > 0 && ms->second > 0) {
            float f = float(ms->second / max_ms);
            dl->AddRectFilled({a.x + 8 * zoom_, b.y - 4 * zoom_},
                              {a.x + 8 * zoom_ + (b.x - a.x - 16 * zoom_) * f, b.y - 2 * zoom_},
                              theme::kTimeBar);
        }
        if (zoom_ > 0.3f) {
            ImVec4 clip(a.x + 8 * zoom_, a.y, b.x - 4 * zoom_, b.y);
            float fs = base * zoom_;
            dl->AddText(font, fs, {a.x + 10 * zoom_, a.y + 5 * zoom_}, theme::kNodeText,
                        n.title.c_str(), nullptr, 0, &clip);
            dl->AddText(font, fs * 0.88f, {a.x + 10 * zoom_, a.y + 5 * zoom_ + fs},
                        theme::kNodeSubText, n.subtitle.c_str(), nullptr, 0, &clip);
            if (n.reserved_channels > 0) {
                std::string badge = "+" + std::to_string(n.reserved_channels) + " reserved";
                ImVec2 ts = font->CalcTextSizeA(fs * 0.8f, 1e9f, 0, badge.c_str());
                ImVec2 p(b.x - ts.x - 6 * zoom_, a.y - ts.y * 0.55f);
                dl->AddRectFilled({p.x - 3 * zoom_, p.y}, {p.x + ts.x + 3 * zoom_, p.y + ts.y},
                                  theme::kReserved, 3 * zoom_);
                dl->AddText(font, fs * 0.8f, p, theme::kReservedText, badge.c_str());
            }
        }
    }
    if (zoom_ < 0.2f)
        dl->AddText({origin.x + 8, clip_max.y - 22}, theme::kEdgeLabel,
                    "zoom in for names (wheel)");
    dl->PopClipRect();

    if (hovered_box) {
        const auto& n = layout_.nodes[*hovered_box];
        ImGui::BeginTooltip();
        ImGui::TextUnformatted(n.title.c_str());
        ImGui::TextDisabled("%s", n.subtitle.c_str());
        if (n.kind == LayoutNode::Kind::Block)
            ImGui::TextDisabled("double-click to expand");
        else if (!n.block.empty())
            ImGui::TextDisabled("in block %s (right-click to collapse)", n.block.c_str());
        ImGui::EndTooltip();
        bool dragged = ImGui::GetMouseDragDelta(ImGuiMouseButton_Left, 3.0f).x != 0 ||
                       ImGui::GetMouseDragDelta(ImGuiMouseButton_Left, 3.0f).y != 0;
        if (ImGui::IsMouseReleased(ImGuiMouseButton_Left) && !dragged && !n.members.empty())
            clicked = n.members.front();
        if (ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left) &&
            n.kind == LayoutNode::Kind::Block) {
            collapsed_.erase(n.block);
            dirty_ = true;
        }
        if (ImGui::IsMouseClicked(ImGuiMouseButton_Right) && !n.block.empty()) {
            collapsed_.insert(n.block);
            dirty_ = true;
        }
    }
    return clicked;
}

}  // namespace rmvk::ui
