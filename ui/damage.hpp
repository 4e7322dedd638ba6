#pragma once
// Which part of the window changed since the last frame. On a software rasteriser (lavapipe)
// every drawn pixel and triangle costs CPU time, and most frames change a small area (a pane
// being dragged, a hovered button, the fps counter): the renderer keeps the last frame and
// redraws only the changed rectangle.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

struct ImDrawData;
struct ImDrawList;

namespace rmvk::ui {

// One drawn thing: a hash of everything that decides its pixels, and the screen area it covers.
struct DamageItem {
    uint64_t hash = 0;
    float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

// A rectangle in framebuffer pixels, [x0, x1) x [y0, y1).
struct DamageRect {
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    bool empty() const { return x1 <= x0 || y1 <= y0; }
};

// The smallest rectangle holding both.
inline DamageRect unite(const DamageRect& a, const DamageRect& b) {
    if (a.empty()) return b;
    if (b.empty()) return a;
    return {a.x0 < b.x0 ? a.x0 : b.x0, a.y0 < b.y0 ? a.y0 : b.y0, a.x1 > b.x1 ? a.x1 : b.x1,
            a.y1 > b.y1 ? a.y1 : b.y1};
}

// Hashes `count` bytes into `seed`.
uint64_t hash_bytes(const void* data, size_t count, uint64_t seed);

// What draw callbacks draw, per draw list (ImGui cannot see inside them): the renderer's images.
using CallbackItems = std::map<const ImDrawList*, std::vector<DamageItem>>;

class DamageTracker {
  public:
    // The bounding rectangle (in framebuffer pixels, `scale` per ImGui unit) of everything drawn
    // that appeared or disappeared since the previous call, clamped to the window: empty when
    // nothing changed, all of it after invalidate(). Only draw lists whose contents changed are
    // compared triangle by triangle.
    DamageRect update(const ImDrawData& data, const CallbackItems& callbacks, int width,
                      int height);
    // The kept picture is gone (new swapchain) or unknown: redraw everything next frame.
    void invalidate() { whole_ = true; }

  private:
    struct ListState {
        uint64_t hash = 0;
        std::vector<DamageItem> items;  // sorted by hash
    };
    std::map<std::string, ListState> lists_;  // by window name
    std::vector<std::string> order_;          // last frame's draw order
    bool whole_ = true;
};

}  // namespace rmvk::ui
