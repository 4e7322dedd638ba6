#pragma once
// The Explain tab: for the selected residual block, the four steps of RM (original with BN,
// BN folded, reserve, merge) with the block's diagram, its cost so far, every conv weight as a
// readable grid of kernels with its parts outlined (weight_grid.hpp), a weight histogram, and a
// worked pixel computed by the residual block and by the plain chain.
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rm/explain_block.hpp"
#include "rm/explain_pixel.hpp"
#include "ui/app_state.hpp"
#include "ui/explain_diagram.hpp"

namespace rmvk::ui {

class Renderer;
class Texture;
class WeightGrid;

// What the tab shows, for --dump-state.
struct ExplainPartFacts {
    rm::WeightPart part;
    double max_abs_vs_source = -1;     // part_difference (-1: not computed)
    std::vector<float> centre_values;  // projection merge: the centre taps, [out][in], if small
};
struct ExplainConvFacts {
    std::string node, title;
    bool plain = false, drawn = false;
    rm::Shape shape;
    std::vector<ExplainPartFacts> parts;
    std::vector<rm::ChannelRange> mapping_channels;  // the NodeMapping's ranges (plain convs)
};
struct ExplainFacts {
    std::string block, kind, error;
    bool projection = false;
    int64_t in_channels = 0;
    int step = 0;  // 1-based; 0: nothing shown
    std::string step_title;
    std::vector<rm::StepCost> costs;  // per step
    int conv = 0;                     // shown conv of the step (0-based)
    bool summary = false, detail = false;
    int texture_w = 0, texture_h = 0, cells_per_texel = 0;
    std::vector<ExplainConvFacts> convs;  // of the current step
    std::optional<rm::WorkedPixel> pixel;
    std::string pixel_error;
    int64_t highlight_row = -1;
    std::string exported;  // last PNG written
    std::string hover;     // the tooltip of the --hover cell
    // The drawn conv's histogram (empty when none is shown): value counts per bin.
    std::vector<int64_t> hist_original, hist_plain;
    int64_t hist_plain_zeros = 0;
};

class ExplainPanel {
  public:
    explicit ExplainPanel(Renderer& renderer);
    ~ExplainPanel();
    // `active`: the tab is in front (arrow keys step through the steps).
    void draw(const AppState& state, bool active);
    ExplainFacts facts(const AppState& state) const;

    // Scripted or linked use (1-based step; conv index within the step).
    void request_step(int step) { pending_step_ = step; }
    void request_conv(int conv) { pending_conv_ = conv; }
    void request_pixel(int64_t channel, int64_t y, int64_t x) { pixel_request_ = {channel, y, x}; }
    // Show plain conv `node`'s weight at the merge step with output channel `row` framed
    // (a reserved channel picked in the feature maps).
    void show_row(const std::string& node, int64_t row);
    void next_step() { step_ = (step_ + 1) % 4; }
    void request_zoom(double factor) { zoom_request_ = factor; }
    // Reports what hovering cell (out, in) of the drawn weight shows (ExplainFacts::hover).
    void request_hover(int64_t out, int64_t in) { hover_ = {out, in}; }
    bool export_png(const std::string& path);

  private:
    void bind(const AppState& state);
    void draw_header(bool active);
    void draw_pixel(const AppState& state, float height);
    void update_pixel(const AppState& state);

    Renderer& renderer_;
    std::unique_ptr<WeightGrid> grid_;
    std::string model_key_, sel_key_, bind_key_, block_, chosen_block_;
    std::optional<rm::BlockExplanation> explained_;
    std::string error_;
    int step_ = 0, conv_ = 0;
    int pending_step_ = 0, pending_conv_ = -1;
    double zoom_request_ = 0;
    std::array<int64_t, 2> hover_{-1, -1};
    std::string show_node_;
    std::string highlight_node_;
    int64_t highlight_row_ = -1;
    std::string hist_key_, grid_key_;
    WeightHistogram hist_;
    std::optional<std::array<int64_t, 3>> pixel_request_;
    std::array<int64_t, 3> pixel_{0, -1, -1};
    std::string pixel_key_;
    std::optional<rm::WorkedPixel> worked_;
    std::string pixel_error_;
    std::unique_ptr<Texture> pixel_tex_;
    std::string pixel_tex_key_;
    std::string export_message_, exported_;
};

}  // namespace rmvk::ui
