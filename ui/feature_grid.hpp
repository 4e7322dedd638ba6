#pragma once
// The feature-map grids' arithmetic, apart from drawing: a tensor's channels x height x width,
// which channels a page shows, the texture atlas they are packed into, and the largest tile
// size that fits a page in its column. Pure functions, no window.
#include <cstddef>
#include <utility>
#include <vector>

#include "rm/tensor.hpp"

namespace rmvk::ui {

struct GridDims {
    int channels = 1, height = 1, width = 1;
};
// NCHW: C x H x W; a vector ([1, N] logits, flattened features) is one channel of one row.
GridDims grid_dims(const rm::Shape& shape);

// The smallest and largest of `n` values (0, 0 when there are none).
std::pair<float, float> min_max(const float* values, size_t n);

// Pages of `per_page` that `count` channels fill.
int pages_for(int count, int per_page);

// A page shows the same original channels in every grid (so residual and plain line up) and,
// apart, a page of the reserved ones: on pages past the last reserved page the last one stays,
// so the reserved channels are always in view, whatever the page.
struct PageChannels {
    std::vector<int> shown;  // display positions: originals 0.., then reserved from `originals`
    int reserved_first = 0;  // index (among the reserved) of the first one shown
};
PageChannels page_channels(int originals, int reserved, int page, int per_page);

// The tiles of one page packed near-square into a texture, one column when that would pass
// 8192 texels on a side.
struct AtlasSize {
    int cols = 1, width = 0, height = 0;
};
AtlasSize atlas_size(int tiles, int tile_width, int tile_height);

// The largest tile (width in pixels, at least 8) and the column count that fit `originals`
// then `reserved` tiles (each group starting a new row) of `aspect` (width / height) into
// `width` x `height`, with 3 pixels between tiles.
struct TileFit {
    float tile_width = 8;
    int cols = 1;
};
TileFit fit_tiles(int originals, int reserved, float aspect, float width, float height);

}  // namespace rmvk::ui
