#pragma once
// One graph pane: the cached layered layout drawn with ImGui, pan (drag), zoom (wheel),
// fit-to-view, search, collapsible residual blocks, off-screen culling.
#include <map>
#include <optional>
#include <set>
#include <string>

#include "ui/graph_layout.hpp"

struct ImDrawList;

namespace rmvk::ui {

struct GraphViewInput {
    const rm::Graph* graph = nullptr;
    const rm::ShapeMap* shapes = nullptr;
    const rm::NodeMapping* mapping = nullptr;  // plain pane only: reserved-channel marks
    BlockMembership blocks;
    // Text put before a box's second line (a pruned model's "ch 48->32"); may be null.
    const std::map<std::string, std::string>* notes = nullptr;
};

class GraphView {
  public:
    explicit GraphView(std::string title) : title_(std::move(title)) {}

    void set_graph(GraphViewInput input);
    // Draws the pane filling the current region. `selected`: nodes to highlight.
    // `node_ms`: device time per node (thin bar in each box). Returns a clicked node name.
    std::optional<std::string> draw(const std::set<std::string>& selected,
                                    const std::map<std::string, double>& node_ms);
    // Centres the view on `node` next frame (expanding nothing: a collapsed block is shown).
    void focus(const std::string& node) { focus_ = node; }
    void set_all_collapsed(bool collapsed);
    // Moves the view by screen pixels, as a mouse drag would (scripted smoothness checks).
    void pan_by(float dx, float dy) {
        center_.x -= dx / zoom_;
        center_.y -= dy / zoom_;
    }
    int drawn_boxes() const { return drawn_boxes_; }
    int box_count() const;
    const std::string& title() const { return title_; }

  private:
    void rebuild();
    void fit(float canvas_w, float canvas_h, bool whole);
    void draw_toolbar();

    std::string title_;
    GraphViewInput input_;
    GraphLayout layout_;
    std::set<std::string> collapsed_;
    bool dirty_ = true;
    bool needs_fit_ = true;
    bool fit_whole_ = false;
    float zoom_ = 1.0f;
    Point center_;  // world point at the canvas centre
    std::optional<std::string> focus_;
    char search_[128] = {};
    int search_hit_ = 0;
    int drawn_boxes_ = 0;
};

}  // namespace rmvk::ui
