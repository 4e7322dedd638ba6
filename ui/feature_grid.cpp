#include "ui/feature_grid.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rmvk::ui {

GridDims grid_dims(const rm::Shape& s) {
    GridDims d;
    if (s.size() == 4) {
        d.channels = int(s[1]);
        d.height = int(s[2]);
        d.width = int(s[3]);
    } else if (!s.empty()) {
        d.width = int(rm::element_count(s) / std::max<int64_t>(1, s[0]));
    }
    return d;
}

std::pair<float, float> min_max(const float* p, size_t n) {
    float lo = std::numeric_limits<float>::max(), hi = std::numeric_limits<float>::lowest();
    for (size_t i = 0; i < n; ++i) {
        lo = std::min(lo, p[i]);
        hi = std::max(hi, p[i]);
    }
    if (n == 0) lo = hi = 0;
    return {lo, hi};
}

int pages_for(int count, int per_page) {
    return (count + per_page - 1) / per_page;
}

PageChannels page_channels(int originals, int reserved, int page, int per_page) {
    PageChannels out;
    for (int p = page * per_page; p < std::min(originals, (page + 1) * per_page); ++p)
        out.shown.push_back(p);
    if (reserved > 0) {
        int rpage = std::min(page, pages_for(reserved, per_page) - 1);
        out.reserved_first = rpage * per_page;
        for (int p = rpage * per_page; p < std::min(reserved, (rpage + 1) * per_page); ++p)
            out.shown.push_back(originals + p);
    }
    return out;
}

AtlasSize atlas_size(int tiles, int tile_width, int tile_height) {
    AtlasSize a;
    a.cols = std::max(1, int(std::ceil(std::sqrt(double(tiles)))));
    int rows = (tiles + a.cols - 1) / a.cols;
    a.width = a.cols * tile_width;
    a.height = rows * tile_height;
    if (a.width > 8192 || a.height > 8192) {
        a.cols = 1;
        a.width = tile_width;
        a.height = tiles * tile_height;
    }
    return a;
}

TileFit fit_tiles(int originals, int reserved, float aspect, float width, float height) {
    TileFit best;
    for (int cols = 1; cols <= originals + reserved; ++cols) {
        int rows = (originals + cols - 1) / cols + (reserved + cols - 1) / cols;
        float tw = (width - 4) / float(cols) - 3;
        float th = std::min(tw / aspect, height / float(std::max(rows, 1)) - 3);
        float tile_w = th * aspect;
        if (tile_w > best.tile_width) {
            best.tile_width = tile_w;
            best.cols = cols;
        }
    }
    return best;
}

}  // namespace rmvk::ui
