#include "ui/weight_grid.hpp"

#include <imgui.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ui/colormap.hpp"
#include "ui/renderer.hpp"
#include "ui/texture.hpp"
#include "ui/theme.hpp"

namespace rmvk::ui {

namespace {

// Pictures larger than this per side are drawn from a summary (or a detail window).
constexpr int64_t kMaxTexels = 2048;
// A summary has about this many texels per side: near the region's size, so that a lone Dirac
// value (a summary texel is the largest value of its cells) is not lost to minification.
constexpr int64_t kSummaryTexels = 256;
// A detail window is built when the visible taps fit in this many per side.
constexpr int64_t kDetailTaps = 1024;

std::array<uint8_t, 3> colour_of(float v, float scale) {
    return diverging(scale > 0 ? v / scale : 0.0f);
}

int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

}  // namespace

uint32_t part_colour(rm::WeightPartKind kind) {
    switch (kind) {
        case rm::WeightPartKind::Original:
            return theme::rgb(40, 190, 235);
        case rm::WeightPartKind::ReservedCopy:
            return theme::kReserved;
        case rm::WeightPartKind::Zero:
            return theme::rgb(140, 140, 150);
        case rm::WeightPartKind::IdentityMerge:
            return theme::rgb(60, 200, 90);
        case rm::WeightPartKind::ProjectionMerge:
            return theme::rgb(220, 70, 220);
        case rm::WeightPartKind::PreActivation:
            return theme::rgb(240, 160, 40);
    }
    return theme::kEdge;
}

WeightImage render_weight(const rm::ConvStructure& s, float scale, int cells_per_texel, int64_t o0,
                          int64_t o1, int64_t i0, int64_t i1) {
    const int64_t kh = s.shape.at(2), kw = s.shape.at(3), taps = kh * kw, icg = s.shape.at(1);
    const int64_t ocg = s.out_channels() / s.group;
    const int64_t p = std::max(0, cells_per_texel);
    WeightImage img;
    img.cells_per_texel = int(p);
    img.tap_x0 = i0 * kw;
    img.tap_y0 = o0 * kh;
    img.width = int(p == 0 ? (i1 - i0) * kw : ceil_div(i1 - i0, p));
    img.height = int(p == 0 ? (o1 - o0) * kh : ceil_div(o1 - o0, p));
    // Signed value of largest magnitude per texel; zero where no weight is.
    std::vector<float> texel(size_t(img.width) * size_t(img.height), 0.0f);
    const int64_t row_len = icg * taps;
    const int64_t chunk = std::max<int64_t>(1, (int64_t(1) << 22) / std::max<int64_t>(1, row_len));
    std::vector<float> rows;
    for (int64_t r0 = o0; r0 < o1; r0 += chunk) {
        const int64_t r1 = std::min(o1, r0 + chunk);
        rows.resize(size_t((r1 - r0) * row_len));
        rm::materialise_rows(s, r0, r1, rows.data());
        for (int64_t o = r0; o < r1; ++o) {
            const int64_t g0 = (o / ocg) * icg;
            const float* row = rows.data() + (o - r0) * row_len;
            for (int64_t i = std::max(i0, g0); i < std::min(i1, g0 + icg); ++i) {
                const float* k = row + (i - g0) * taps;
                if (p == 0) {
                    for (int64_t ky = 0; ky < kh; ++ky)
                        for (int64_t kx = 0; kx < kw; ++kx)
                            texel[size_t(((o - o0) * kh + ky) * img.width + (i - i0) * kw + kx)] =
                                k[ky * kw + kx];
                } else {
                    float& t = texel[size_t(((o - o0) / p) * img.width + (i - i0) / p)];
                    for (int64_t j = 0; j < taps; ++j)
                        if (std::abs(k[j]) > std::abs(t)) t = k[j];
                }
            }
        }
    }
    img.rgba.resize(texel.size() * 4);
    for (size_t j = 0; j < texel.size(); ++j) {
        auto c = colour_of(texel[j], scale);
        img.rgba[j * 4 + 0] = c[0];
        img.rgba[j * 4 + 1] = c[1];
        img.rgba[j * 4 + 2] = c[2];
        img.rgba[j * 4 + 3] = 255;
    }
    return img;
}

std::string describe_cell(const rm::ExplainedConv& conv, int64_t o, int64_t i) {
    const rm::ConvStructure& s = conv.weight;
    const int64_t kh = s.shape.at(2), kw = s.shape.at(3);
    const rm::WeightPart* part = nullptr;
    for (const auto& p : conv.parts)
        if (o >= p.out_begin && o < p.out_end && i >= p.in_begin && i < p.in_end) part = &p;
    std::vector<float> k = rm::kernel_row(s, o, i, i + 1);
    std::string text = "output channel " + std::to_string(o) + ", input channel " +
                       std::to_string(i) + "\nkernel " + std::to_string(kh) + "x" +
                       std::to_string(kw) + ":";
    char buf[64];
    for (int64_t y = 0; y < kh; ++y) {
        text += "\n  ";
        for (int64_t x = 0; x < kw; ++x) {
            std::snprintf(buf, sizeof(buf), "%9.4f", double(k[size_t(y * kw + x)]));
            text += buf;
        }
    }
    if (conv.bias && o < conv.bias->size()) {
        std::snprintf(buf, sizeof(buf), "\nbias of channel %lld: %.5g", (long long)o,
                      double(conv.bias->data[size_t(o)]));
        text += buf;
    }
    if (part) {
        text += std::string("\n\n") + rm::weight_part_name(part->kind) + ": ";
        using K = rm::WeightPartKind;
        switch (part->kind) {
            case K::Original:
                text += "residual weight " + part->source_weight + "[" +
                        std::to_string(o - part->out_begin) + ", " +
                        std::to_string(i - part->in_begin) + "] of " + part->source_conv;
                text += part->source_bn.empty()
                            ? std::string(" as it is")
                            : "\n  times " + part->source_bn + "'s g/sqrt(var+eps)";
                break;
            case K::ProjectionMerge:
                text += "projection shortcut " + part->source_weight + "[" +
                        std::to_string(o - part->out_begin) + ", " +
                        std::to_string(i - part->in_begin) + "] of " + part->source_conv +
                        (part->source_bn.empty() ? "" : ", " + part->source_bn + " folded") +
                        ",\n  placed at the centre tap";
                break;
            case K::ReservedCopy:
                text += o - part->out_begin == i - part->in_begin
                            ? "Dirac: output " + std::to_string(o) + " copies channel " +
                                  std::to_string(i) + " of the block input\n  " +
                                  part->source_weight
                            : "off the diagonal of the Dirac copy: zero";
                break;
            case K::IdentityMerge:
                text += o - part->out_begin == i - part->in_begin
                            ? "Dirac: adds reserved channel " + std::to_string(i) +
                                  " (= block input channel " + std::to_string(i - part->in_begin) +
                                  ")\n  to output " + std::to_string(o) + ": the identity shortcut"
                            : "off the diagonal of the identity merge: zero";
                break;
            case K::Zero:
                text += "no path from this input to this output in the block";
                break;
            case K::PreActivation:
                text += o - part->out_begin == i - part->in_begin
                            ? "scaled Dirac: output " + std::to_string(o) + " is channel " +
                                  std::to_string(i) + " of the block input times " +
                                  (part->source_conv.empty() ? std::string("1")
                                                             : part->source_conv + "'s scale") +
                                  "\n  (its shift is the bias; ReLU follows): F's input"
                            : "off the diagonal of the pre-activation BN: zero";
                break;
        }
    }
    return text;
}

WeightGrid::WeightGrid(Renderer& renderer) : renderer_(renderer) {}
WeightGrid::~WeightGrid() = default;

int WeightGrid::texture_width() const {
    return overview_.width;
}
int WeightGrid::texture_height() const {
    return overview_.height;
}

void WeightGrid::bind(const rm::ExplainedConv& conv, const std::string& key) {
    key_ = key;
    const rm::ConvStructure& s = conv.weight;
    const int64_t outs = s.out_channels(), ins = s.in_channels();
    const int64_t kh = s.shape.at(2), kw = s.shape.at(3);
    scale_ = conv.original_max_abs > 0 ? conv.original_max_abs : 1.0f;
    summary_ = outs * kh > kMaxTexels || ins * kw > kMaxTexels;
    // Stepping back and forth shows the same few weights again: keep their pictures.
    auto hit =
        std::find_if(cache_.begin(), cache_.end(), [&](const Cached& c) { return c.key == key; });
    if (hit == cache_.end()) {
        const int64_t p = summary_ ? ceil_div(std::max(outs, ins), kSummaryTexels) : 0;
        Cached c;
        c.key = key;
        c.image = render_weight(s, scale_, int(p), 0, outs, 0, ins);
        c.texture =
            std::make_shared<Texture>(renderer_, c.image.width, c.image.height, c.image.rgba);
        cache_.push_back(std::move(c));
        if (cache_.size() > kCached) cache_.erase(cache_.begin());
        hit = cache_.end() - 1;
    }
    overview_ = hit->image;
    overview_tex_ = hit->texture;
    detail_ = {};
    detail_tex_.reset();
    fit_pending_ = true;
}

void WeightGrid::update_detail(const rm::ExplainedConv& conv, double vx0, double vy0, double vx1,
                               double vy1) {
    const rm::ConvStructure& s = conv.weight;
    const int64_t kh = s.shape.at(2), kw = s.shape.at(3);
    const int64_t outs = s.out_channels(), ins = s.in_channels();
    int64_t i0 = std::max<int64_t>(0, int64_t(std::floor(vx0 / double(kw))));
    int64_t i1 = std::min<int64_t>(ins, int64_t(std::ceil(vx1 / double(kw))));
    int64_t o0 = std::max<int64_t>(0, int64_t(std::floor(vy0 / double(kh))));
    int64_t o1 = std::min<int64_t>(outs, int64_t(std::ceil(vy1 / double(kh))));
    if (detail_tex_ && detail_.cells_per_texel == 0) {
        const int64_t di0 = detail_.tap_x0 / kw, do0 = detail_.tap_y0 / kh;
        const int64_t di1 = di0 + detail_.width / kw, do1 = do0 + detail_.height / kh;
        if (i0 >= di0 && i1 <= di1 && o0 >= do0 && o1 <= do1) return;  // still covered
    }
    // Half a window of margin each way, so a short pan needs no new texture.
    const int64_t mi = (i1 - i0) / 2 + 1, mo = (o1 - o0) / 2 + 1;
    i0 = std::max<int64_t>(0, i0 - mi);
    i1 = std::min(ins, i1 + mi);
    o0 = std::max<int64_t>(0, o0 - mo);
    o1 = std::min(outs, o1 + mo);
    detail_ = render_weight(s, scale_, 0, o0, o1, i0, i1);
    detail_tex_ = std::make_unique<Texture>(renderer_, detail_.width, detail_.height, detail_.rgba);
}

void WeightGrid::draw(const rm::ExplainedConv& conv, const std::string& key, ImVec2 size,
                      int64_t highlight_row) {
    if (key != key_) bind(conv, key);
    const rm::ConvStructure& s = conv.weight;
    const int64_t kh = s.shape.at(2), kw = s.shape.at(3);
    const int64_t outs = s.out_channels(), ins = s.in_channels();
    const double full_w = double(ins * kw), full_h = double(outs * kh);
    size.x = std::max(size.x, 40.0f);
    size.y = std::max(size.y, 40.0f);
    // Fitted with room above and below for labels of whole columns.
    const double margin = 2.0 * (ImGui::GetTextLineHeight() + 8);
    const double fit =
        std::min(double(size.x) / full_w, std::max(20.0, double(size.y) - margin) / full_h);
    if (fit_pending_) {
        zoom_ = fit;
        pan_x_ = pan_y_ = 0;
        fit_pending_ = false;
    }
    if (zoom_request_ > 0) {
        zoom_ = std::clamp(fit * zoom_request_, fit, 64.0);
        pan_x_ = (full_w - size.x / zoom_) / 2;
        pan_y_ = (full_h - size.y / zoom_) / 2;
        zoom_request_ = 0;
    }
    ImVec2 p0 = ImGui::GetCursorScreenPos();
    ImVec2 p1(p0.x + size.x, p0.y + size.y);
    ImGui::InvisibleButton("##weightgrid", size);
    const bool hovered = ImGui::IsItemHovered();
    const ImGuiIO& io = ImGui::GetIO();
    if (hovered && io.MouseWheel != 0) {
        const double mx = (io.MousePos.x - p0.x) / zoom_ + pan_x_;
        const double my = (io.MousePos.y - p0.y) / zoom_ + pan_y_;
        zoom_ = std::clamp(zoom_ * std::pow(1.25, double(io.MouseWheel)), fit, 64.0);
        pan_x_ = mx - (io.MousePos.x - p0.x) / zoom_;
        pan_y_ = my - (io.MousePos.y - p0.y) / zoom_;
    }
    if (ImGui::IsItemActive() && ImGui::IsMouseDragging(ImGuiMouseButton_Left, 0.0f)) {
        pan_x_ -= io.MouseDelta.x / zoom_;
        pan_y_ -= io.MouseDelta.y / zoom_;
    }
    const double view_w = size.x / zoom_, view_h = size.y / zoom_;
    pan_x_ = std::clamp(pan_x_, std::min(0.0, full_w - view_w), std::max(0.0, full_w - view_w));
    pan_y_ = std::clamp(pan_y_, std::min(0.0, full_h - view_h), std::max(0.0, full_h - view_h));
    // Centre a weight smaller than the region.
    if (full_w < view_w) pan_x_ = -(view_w - full_w) / 2;
    if (full_h < view_h) pan_y_ = -(view_h - full_h) / 2;

    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->PushClipRect(p0, p1, true);
    auto sx = [&](double tx) { return float(p0.x + (tx - pan_x_) * zoom_); };
    auto sy = [&](double ty) { return float(p0.y + (ty - pan_y_) * zoom_); };
    // Draws `img` (covering taps from its origin) where it meets the region.
    auto draw_picture = [&](const WeightImage& img, const Texture& tex) {
        const double tx = img.cells_per_texel == 0 ? 1.0 : double(img.cells_per_texel * kw);
        const double ty = img.cells_per_texel == 0 ? 1.0 : double(img.cells_per_texel * kh);
        const double ax0 = double(img.tap_x0), ay0 = double(img.tap_y0);
        const double ax1 = std::min(full_w, ax0 + img.width * tx);
        const double ay1 = std::min(full_h, ay0 + img.height * ty);
        const double vx0 = std::max(ax0, pan_x_), vx1 = std::min(ax1, pan_x_ + view_w);
        const double vy0 = std::max(ay0, pan_y_), vy1 = std::min(ay1, pan_y_ + view_h);
        if (vx1 <= vx0 || vy1 <= vy0) return;
        renderer_.draw_image(
            dl, tex, ImVec2(sx(vx0), sy(vy0)), ImVec2(sx(vx1), sy(vy1)),
            ImVec2(float((vx0 - ax0) / tx / img.width), float((vy0 - ay0) / ty / img.height)),
            ImVec2(float((vx1 - ax0) / tx / img.width), float((vy1 - ay0) / ty / img.height)));
    };
    draw_picture(overview_, *overview_tex_);
    detail_shown_ = false;
    if (summary_ && view_w <= double(kDetailTaps) && view_h <= double(kDetailTaps)) {
        update_detail(conv, pan_x_, pan_y_, pan_x_ + view_w, pan_y_ + view_h);
        if (detail_tex_) {
            draw_picture(detail_, *detail_tex_);
            detail_shown_ = true;
        }
    }
    // Cell borders once a cell is big enough to read its taps.
    if (zoom_ * double(kw) >= 8 && (kh > 1 || kw > 1)) {
        const int64_t i0 = std::max<int64_t>(0, int64_t(pan_x_ / double(kw)));
        const int64_t i1 = std::min<int64_t>(ins, int64_t((pan_x_ + view_w) / double(kw)) + 1);
        const int64_t o0 = std::max<int64_t>(0, int64_t(pan_y_ / double(kh)));
        const int64_t o1 = std::min<int64_t>(outs, int64_t((pan_y_ + view_h) / double(kh)) + 1);
        if (i1 - i0 + o1 - o0 < 600) {
            const ImU32 line = theme::rgb(60, 60, 70, 160);
            const float top = std::max(p0.y, sy(0)), bottom = std::min(p1.y, sy(full_h));
            const float left = std::max(p0.x, sx(0)), right = std::min(p1.x, sx(full_w));
            for (int64_t i = i0; i <= i1; ++i)
                dl->AddLine(ImVec2(sx(double(i * kw)), top), ImVec2(sx(double(i * kw)), bottom),
                            line);
            for (int64_t o = o0; o <= o1; ++o)
                dl->AddLine(ImVec2(left, sy(double(o * kh))), ImVec2(right, sy(double(o * kh))),
                            line);
        }
    }
    // The parts: outlines first, then labels on top where they fit.
    const float line_h = ImGui::GetTextLineHeight();
    for (const auto& part : conv.parts) {
        ImVec2 a(sx(double(part.in_begin * kw)), sy(double(part.out_begin * kh)));
        ImVec2 b(sx(double(part.in_end * kw)), sy(double(part.out_end * kh)));
        dl->AddRect(ImVec2(a.x + 1, a.y + 1), ImVec2(b.x - 1, b.y - 1), part_colour(part.kind), 0,
                    0, 2.0f);
    }
    // A label goes inside its part when it fits, else beside the picture: right of parts that
    // reach the right edge, left of those that reach the left one, above/below whole columns.
    const ImVec2 pic0(std::max(p0.x, sx(0)), std::max(p0.y, sy(0)));
    const ImVec2 pic1(std::min(p1.x, sx(full_w)), std::min(p1.y, sy(full_h)));
    int column_labels = 0;
    for (const auto& part : conv.parts) {
        ImVec2 a(sx(double(part.in_begin * kw)), sy(double(part.out_begin * kh)));
        ImVec2 b(sx(double(part.in_end * kw)), sy(double(part.out_end * kh)));
        const char* label = rm::weight_part_name(part.kind);
        if (part.kind == rm::WeightPartKind::Original && !conv.plain && part.source_bn.empty())
            label = "original";
        const ImVec2 ts = ImGui::CalcTextSize(label);
        ImVec2 at(std::max(a.x, p0.x) + 4, std::max(a.y, p0.y) + 4);
        const float mid_y = (std::max(a.y, pic0.y) + std::min(b.y, pic1.y)) / 2 - ts.y / 2;
        const float mid_x = (std::max(a.x, pic0.x) + std::min(b.x, pic1.x)) / 2 - ts.x / 2;
        const bool inside =
            std::min(b.x, p1.x) - at.x >= ts.x + 4 && std::min(b.y, p1.y) - at.y >= line_h + 2;
        if (!inside) {
            if (part.in_end == ins && p1.x - pic1.x > ts.x + 12)
                at = ImVec2(pic1.x + 8, mid_y);
            else if (part.in_begin == 0 && pic0.x - p0.x > ts.x + 12)
                at = ImVec2(pic0.x - ts.x - 8, mid_y);
            else if (part.out_begin == 0 && part.out_end == outs)
                at = ImVec2(std::clamp(mid_x, p0.x + 2, p1.x - ts.x - 2),
                            column_labels++ % 2 == 0 ? pic0.y - ts.y - 6 : pic1.y + 6);
            else
                continue;
            if (at.y < p0.y || at.y + ts.y > p1.y) continue;
        }
        dl->AddRectFilled(ImVec2(at.x - 2, at.y - 1), ImVec2(at.x + ts.x + 2, at.y + ts.y + 1),
                          theme::rgb(20, 22, 28, 215));
        dl->AddText(at, part_colour(part.kind), label);
    }
    if (highlight_row >= 0 && highlight_row < outs) {
        dl->AddRect(
            ImVec2(std::max(p0.x, sx(0)) - 1, sy(double(highlight_row * kh)) - 2),
            ImVec2(std::min(p1.x, sx(full_w)) + 1, sy(double((highlight_row + 1) * kh)) + 2),
            theme::kSelection, 0, 0, 2.5f);
    }
    dl->PopClipRect();

    if (hovered) {
        const double tx = (io.MousePos.x - p0.x) / zoom_ + pan_x_;
        const double ty = (io.MousePos.y - p0.y) / zoom_ + pan_y_;
        const int64_t i = int64_t(std::floor(tx / double(kw)));
        const int64_t o = int64_t(std::floor(ty / double(kh)));
        if (i >= 0 && i < ins && o >= 0 && o < outs)
            ImGui::SetTooltip("%s", describe_cell(conv, o, i).c_str());
    }
}

bool WeightGrid::export_png(const std::string& path, const rm::ExplainedConv& conv) const {
    if (overview_.rgba.empty()) return false;
    const int64_t kh = conv.weight.shape.at(2), kw = conv.weight.shape.at(3);
    const int w = overview_.width, h = overview_.height;
    // Small weights are enlarged so their outlines do not cover the taps.
    const int f = std::clamp(768 / std::max(w, h), 1, 8);
    const int W = w * f, H = h * f;
    std::vector<uint8_t> out(size_t(W) * size_t(H) * 4);
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
            std::copy_n(&overview_.rgba[(size_t(y / f) * size_t(w) + size_t(x / f)) * 4], 4,
                        &out[(size_t(y) * size_t(W) + size_t(x)) * 4]);
    const double tx = overview_.cells_per_texel == 0 ? 1.0 : double(overview_.cells_per_texel * kw);
    const double ty = overview_.cells_per_texel == 0 ? 1.0 : double(overview_.cells_per_texel * kh);
    auto put = [&](int x, int y, uint32_t c) {
        if (x < 0 || y < 0 || x >= W || y >= H) return;
        uint8_t* p = &out[(size_t(y) * size_t(W) + size_t(x)) * 4];
        p[0] = uint8_t(c & 0xff);
        p[1] = uint8_t((c >> 8) & 0xff);
        p[2] = uint8_t((c >> 16) & 0xff);
        p[3] = 255;
    };
    for (const auto& part : conv.parts) {
        const int x0 = int(double(part.in_begin * kw) / tx * f);
        const int x1 = int(std::ceil(double(part.in_end * kw) / tx * f)) - 1;
        const int y0 = int(double(part.out_begin * kh) / ty * f);
        const int y1 = int(std::ceil(double(part.out_end * kh) / ty * f)) - 1;
        const uint32_t c = part_colour(part.kind);
        for (int t = 0; t < 2; ++t) {
            for (int x = x0; x <= x1; ++x) {
                put(x, y0 + t, c);
                put(x, y1 - t, c);
            }
            for (int y = y0; y <= y1; ++y) {
                put(x0 + t, y, c);
                put(x1 - t, y, c);
            }
        }
    }
    return stbi_write_png(path.c_str(), W, H, 4, out.data(), W * 4) != 0;
}

}  // namespace rmvk::ui
