#pragma once
// The selected node's output in both graphs as grids of channel images (one texture atlas per
// grid), the plain graph's reserved channels apart, and their difference where shapes match.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ui/app_state.hpp"

namespace rmvk::ui {

class Renderer;
class Texture;

struct FeatureGridInfo {
    std::string title, node, tensor;
    rm::Shape shape;
    int channels_total = 0;
    int channels_shown = 0;
    int reserved_shown = 0;
    int reserved_total = 0;  // reserved channels in the tensor
    int reserved_first = 0;  // index (among the reserved) of the first one shown
    std::string reserved_source;
    std::string pruned;  // a pruned model: which of the unpruned channels survive
    bool non_blank = false;
    float lo = 0, hi = 0;
};

class FeatureMapsPanel {
  public:
    explicit FeatureMapsPanel(Renderer& renderer);
    ~FeatureMapsPanel();
    void draw(const AppState& state);
    // 0: residual, 1: plain, 2: difference (empty when not shown).
    FeatureGridInfo info(int side) const;
    // Writes each grid of the current page as PNG next to `prefix` ("<prefix>_residual.png" ...).
    std::vector<std::string> export_png(const std::string& prefix) const;
    // Shows channel page `page` (0-based) from the next frame on, as the pager would.
    void request_page(int page) { pending_page_ = page; }
    int page() const { return page_; }
    int page_count() const;  // pages of original channels or of reserved ones, whichever is more

    // A reserved channel clicked in the plain grid: `node` (the plain node shown) and the
    // channel, to be shown in the Explain tab as the Dirac row that made it.
    struct ReservedPick {
        std::string node;
        int channel = 0;
    };
    std::optional<ReservedPick> take_reserved_pick() {
        auto p = pick_;
        pick_.reset();
        return p;
    }
    // Scripted: as if the k-th reserved channel (0-based) of the plain grid were clicked.
    void request_reserved_pick(int k) { pending_pick_ = k; }

    enum class Range { PerChannel, PerLayer, Shared };

  private:
    struct Grid;
    void update(const AppState& state);
    void bind(const AppState& state);           // selection or runs changed
    void build_atlases(const AppState& state);  // page, range or binding changed
    void draw_grid(Grid& grid, float width, float height);

    Renderer& renderer_;
    std::vector<std::unique_ptr<Grid>> grids_;  // residual, plain, difference
    int page_ = 0;
    int pending_page_ = -1;
    int per_page_ = 64;
    Range range_ = Range::PerChannel;
    bool show_diff_ = true;
    std::string last_selection_;
    std::string bind_key_;
    float shared_lo_ = 0, shared_hi_ = 0;
    std::string export_message_;
    std::optional<ReservedPick> pick_;
    int pending_pick_ = -1;
};

}  // namespace rmvk::ui
