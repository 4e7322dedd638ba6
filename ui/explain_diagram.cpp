#include "ui/explain_diagram.hpp"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "ui/theme.hpp"
#include "ui/weight_grid.hpp"

namespace rmvk::ui {

namespace {

struct Box {
    std::string label, sub;
    ImU32 fill;
    bool reserved = false;  // carries the reserved copy of x (an amber band)
    bool add = false;       // the Add the shortcut joins
};

std::string channels(const rm::ExplainedConv& c) {
    const auto& s = c.weight.shape;
    return std::to_string(s[2]) + "x" + std::to_string(s[3]) + " " +
           std::to_string(s[1] * c.weight.group) + "->" + std::to_string(s[0]);
}

}  // namespace

void draw_block_diagram(const rm::BlockExplanation& e, int step, float width) {
    const auto& st = e.steps.at(size_t(step));
    const size_t n = e.steps[3].convs.size();
    const ImU32 conv = theme::op_color(rm::Op::Conv),
                bn = theme::op_color(rm::Op::BatchNormalization),
                relu = theme::op_color(rm::Op::Relu), add = theme::op_color(rm::Op::Add);
    // A pre-activation block's plain chain starts with conv0' (its BN-ReLU of x); before RM
    // (steps 1, 2) that is a BN and a ReLU on x. Blocks with no activation after the Add
    // (pre-activation, inverted residuals) give their widened convs a clamp: ReLU on F's
    // channels, the identity on the reserved ones.
    const size_t lead = e.block.pre_activation ? 1 : 0;
    const bool post_relu = !e.block.relu_node.empty();
    const size_t count = step < 2 ? n - lead : n;
    std::vector<Box> boxes{{"x", std::to_string(e.in_channels) + " ch", theme::kIoFill}};
    if (lead && step < 2) {
        boxes.push_back({"BN", "", bn});
        boxes.push_back({"ReLU", "", relu});
    }
    for (size_t i = 0; i < count; ++i) {
        const rm::ExplainedConv& c = st.convs.at(i);
        std::string name = c.title.substr(0, c.title.find(' '));
        const bool widened = c.plain;
        if (step == 1 || (step == 2 && !widened)) name += "+BN";
        boxes.push_back({name, channels(c), conv, widened && i + 1 < count});
        if (step == 0 && !e.steps[1].convs.at(i).parts.at(0).source_bn.empty())
            boxes.push_back({"BN", "", bn});
        if (i + 1 < count)
            boxes.push_back({widened && !post_relu ? "clamp" : "ReLU", "", relu, widened});
    }
    const bool merged = step == 3;
    if (!merged) boxes.push_back({"+", "", add, false, true});
    if (post_relu) boxes.push_back({"ReLU", "", relu});
    boxes.push_back({"y", "", theme::kIoFill});

    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const float h = 66, box_h = 34, gap = 10, top = p.y + 26;
    // Convs get the room their channel counts need; ReLU, x and y less.
    auto weight = [](const Box& b) {
        return b.add ? 0.0f : b.sub.empty() || b.label == "x" ? 0.7f : 1.4f;
    };
    float total = 0, adds = 0;
    for (const Box& b : boxes) {
        total += weight(b);
        adds += b.add ? box_h : 0.0f;
    }
    const float unit =
        std::min(80.0f, (width - adds - gap * float(boxes.size() - 1)) / std::max(total, 1.0f));
    float x = p.x;
    ImVec2 x_centre, add_centre;
    for (size_t k = 0; k < boxes.size(); ++k) {
        const Box& b = boxes[k];
        const float w = b.add ? box_h : unit * weight(b);
        ImVec2 a(x, top), c(x + w, top + box_h);
        if (b.add) {
            add_centre = ImVec2(x + w / 2, top + box_h / 2);
            dl->AddCircleFilled(add_centre, box_h / 2, b.fill);
        } else {
            dl->AddRectFilled(a, c, b.fill, 4);
            if (b.reserved) dl->AddRectFilled(a, ImVec2(c.x, a.y + 6), theme::kReserved, 4);
        }
        if (k == 0) x_centre = ImVec2(x + w / 2, top);
        ImVec2 ts = ImGui::CalcTextSize(b.label.c_str());
        dl->AddText(ImVec2(x + (w - ts.x) / 2, top + (b.sub.empty() ? (box_h - ts.y) / 2 : 4)),
                    theme::kNodeText, b.label.c_str());
        if (!b.sub.empty()) {
            ImVec2 ss = ImGui::CalcTextSize(b.sub.c_str());
            ImGui::PushClipRect(a, c, true);
            dl->AddText(ImVec2(x + std::max(2.0f, (w - ss.x) / 2), top + box_h - ss.y - 2),
                        theme::kNodeSubText, b.sub.c_str());
            ImGui::PopClipRect();
        }
        if (k + 1 < boxes.size())
            dl->AddLine(ImVec2(x + w, top + box_h / 2), ImVec2(x + w + gap, top + box_h / 2),
                        theme::kEdge, 1.5f);
        x += w + gap;
    }
    if (!merged) {
        // The shortcut: over the boxes from x to the Add.
        const char* label = e.block.projection ? (step == 0 ? "shortcut: 1x1 conv + BN"
                                                            : "shortcut: 1x1 conv (BN folded)")
                                               : "shortcut: identity";
        if (step == 2) label = "shortcut reads the reserved copy of x";
        const float y0 = top - 12;
        dl->AddLine(x_centre, ImVec2(x_centre.x, y0), theme::kShortcutEdge, 2);
        dl->AddLine(ImVec2(x_centre.x, y0), ImVec2(add_centre.x, y0), theme::kShortcutEdge, 2);
        dl->AddLine(ImVec2(add_centre.x, y0), ImVec2(add_centre.x, top), theme::kShortcutEdge, 2);
        dl->AddText(ImVec2(x_centre.x + 30, y0 - 15), theme::kShortcutEdge, label);
    } else {
        dl->AddText(ImVec2(p.x + 30, top - 24), ImGui::GetColorU32(theme::kGood),
                    "no shortcut: the reserved channels carry x to the last conv, which adds it");
    }
    ImGui::Dummy(ImVec2(width, h));
}

WeightHistogram weight_histogram(const rm::ExplainedConv& original, const rm::ExplainedConv& plain,
                                 int bins) {
    WeightHistogram h;
    h.original.assign(size_t(bins), 0);
    h.plain.assign(size_t(bins), 0);
    float m = 0;
    for (const auto* c : {&original, &plain}) {
        for (const auto& b : c->weight.blocks)
            for (float v : b.weight->data) m = std::max(m, std::abs(v));
        for (const auto& d : c->weight.diracs) m = std::max(m, std::abs(d.scale));
    }
    if (m == 0) m = 1;
    h.lo = -m;
    h.hi = m;
    auto bin = [&](float v) {
        return size_t(std::clamp(int((v + m) / (2 * m) * float(bins)), 0, bins - 1));
    };
    auto count = [&](const rm::ExplainedConv& c, std::vector<int64_t>& into) {
        for (const auto& b : c.weight.blocks)
            for (float v : b.weight->data) ++into[bin(v)];
        for (const auto& d : c.weight.diracs) ++into[bin(d.scale)];
        const int64_t implicit = c.weight.dense_values() - c.weight.stored_values();
        into[bin(0.0f)] += implicit;
        return implicit;
    };
    count(original, h.original);
    count(plain, h.plain);
    h.plain_total = plain.weight.dense_values();
    h.plain_zeros = 0;
    for (const auto& b : plain.weight.blocks)
        for (float v : b.weight->data) h.plain_zeros += v == 0.0f;
    h.plain_zeros += plain.weight.dense_values() - plain.weight.stored_values();
    return h;
}

void draw_histogram(const WeightHistogram& h, float width, float height) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const float plot_h = height - 18;
    const size_t bins = h.original.size();
    double top = 1;
    for (size_t i = 0; i < bins; ++i)
        top = std::max({top, double(h.original[i]), double(h.plain[i])});
    // Counts on a log scale: the plain weight's zeros would flatten everything else.
    auto bar = [&](int64_t c) {
        return c <= 0 ? 0.0f : float(std::log10(1.0 + double(c)) / std::log10(1.0 + top)) * plot_h;
    };
    const float bw = width / float(bins);
    const ImU32 orig = part_colour(rm::WeightPartKind::Original), plain = theme::kTimeBar;
    for (size_t i = 0; i < bins; ++i) {
        const float x0 = p.x + float(i) * bw;
        const float a = bar(h.original[i]), b = bar(h.plain[i]);
        dl->AddRectFilled(ImVec2(x0, p.y + plot_h - b), ImVec2(x0 + bw * 0.5f, p.y + plot_h),
                          plain);
        dl->AddRectFilled(ImVec2(x0 + bw * 0.5f, p.y + plot_h - a),
                          ImVec2(x0 + bw - 1, p.y + plot_h), orig);
    }
    dl->AddLine(ImVec2(p.x, p.y + plot_h), ImVec2(p.x + width, p.y + plot_h), theme::kEdge);
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2g", double(h.lo));
    dl->AddText(ImVec2(p.x, p.y + plot_h + 2), theme::kEdgeLabel, buf);
    std::snprintf(buf, sizeof(buf), "%.2g", double(h.hi));
    dl->AddText(ImVec2(p.x + width - ImGui::CalcTextSize(buf).x, p.y + plot_h + 2),
                theme::kEdgeLabel, buf);
    dl->AddText(ImVec2(p.x + width / 2 - 4, p.y + plot_h + 2), theme::kEdgeLabel, "0");
    ImGui::Dummy(ImVec2(width, height));
}

}  // namespace rmvk::ui
