#pragma once
// One conv weight drawn as an output x input grid of kernel cells (each cell the kh x kw
// kernel, blue < 0 < red), its parts outlined and labelled, with zoom (wheel), pan (drag) and a
// tooltip naming the kernel's values and the residual-graph weight it came from. Weights too
// large for one texture are drawn from a summary (per cell, the value of largest magnitude,
// pooled over blocks of cells); zoomed in far enough, the visible cells get a detailed texture
// of their own, built for that window only.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rm/explain_block.hpp"

struct ImVec2;

namespace rmvk::ui {

class Renderer;
class Texture;

// RGBA8 picture of a weight: taps (or summary texels) starting at (tap_x0, tap_y0).
struct WeightImage {
    int width = 0, height = 0;
    int cells_per_texel = 0;  // 0: a texel per tap; n > 0: a summary texel covers n x n cells
    int64_t tap_x0 = 0, tap_y0 = 0;
    std::vector<uint8_t> rgba;
};

// Tap (o*kh + ky, i*kw + kx) of the dense weight as colours on a signed scale of +-`scale`.
// With `cells_per_texel` > 0 each texel summarises that many cells per side. Only output
// channels [o0, o1) and inputs [i0, i1) are drawn.
WeightImage render_weight(const rm::ConvStructure& s, float scale, int cells_per_texel, int64_t o0,
                          int64_t o1, int64_t i0, int64_t i1);

// What hovering cell (output o, input i) shows: its kernel values, its bias, its part and
// where in the residual graph its values came from.
std::string describe_cell(const rm::ExplainedConv& conv, int64_t o, int64_t i);

// The colour of each part kind's outline (a test finds them in screenshots).
uint32_t part_colour(rm::WeightPartKind kind);

class WeightGrid {
  public:
    explicit WeightGrid(Renderer& renderer);
    ~WeightGrid();

    // Draws `conv` into a region of `size` at the cursor. A different `key` resets the view.
    // `highlight_row` >= 0 frames that output channel (a reserved channel picked elsewhere).
    void draw(const rm::ExplainedConv& conv, const std::string& key, ImVec2 size,
              int64_t highlight_row);
    bool summary() const { return summary_; }
    int texture_width() const;
    int texture_height() const;
    int cells_per_texel() const { return overview_.cells_per_texel; }
    bool detail_shown() const { return detail_shown_; }
    // From the next draw: `factor` times the fitted zoom, centred (scripted use).
    void request_zoom(double factor) { zoom_request_ = factor; }
    // The overview picture with the parts' outlines burnt in, as PNG.
    bool export_png(const std::string& path, const rm::ExplainedConv& conv) const;

  private:
    void bind(const rm::ExplainedConv& conv, const std::string& key);
    void update_detail(const rm::ExplainedConv& conv, double vx0, double vy0, double vx1,
                       double vy1);

    Renderer& renderer_;
    std::string key_;
    struct Cached {
        std::string key;
        WeightImage image;
        std::shared_ptr<Texture> texture;
    };
    static constexpr size_t kCached = 12;
    std::vector<Cached> cache_;  // oldest first
    WeightImage overview_;
    std::shared_ptr<Texture> overview_tex_;
    WeightImage detail_;
    std::unique_ptr<Texture> detail_tex_;
    bool summary_ = false;
    bool detail_shown_ = false;
    float scale_ = 1;
    // View: screen pixels per tap and the tap at the region's top-left corner.
    double zoom_ = 1, pan_x_ = 0, pan_y_ = 0;
    bool fit_pending_ = true;
    double zoom_request_ = 0;
};

}  // namespace rmvk::ui
