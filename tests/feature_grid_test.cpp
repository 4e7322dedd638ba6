// The feature-map grids' paging and packing, without a window.
#include "ui/feature_grid.hpp"

#include <doctest/doctest.h>

using namespace rmvk::ui;

TEST_CASE("a tensor's grid: NCHW channels, a vector as one row") {
    GridDims d = grid_dims({1, 64, 7, 5});
    CHECK(d.channels == 64);
    CHECK(d.height == 7);
    CHECK(d.width == 5);
    d = grid_dims({1, 1000});
    CHECK(d.channels == 1);
    CHECK(d.height == 1);
    CHECK(d.width == 1000);
    const float v[] = {3, -2, 7, 0};
    CHECK(min_max(v, 4) == std::pair<float, float>(-2, 7));
    CHECK(min_max(v, 0) == std::pair<float, float>(0, 0));
}

TEST_CASE("pages of originals; the reserved channels stay in view on every page") {
    CHECK(pages_for(64, 64) == 1);
    CHECK(pages_for(65, 64) == 2);
    CHECK(pages_for(0, 64) == 0);

    // 130 originals and 40 reserved, 64 per page: originals 0-63, 64-127, 128-129; the 40
    // reserved (positions 130..169) on every page.
    PageChannels p0 = page_channels(130, 40, 0, 64);
    REQUIRE(p0.shown.size() == 64 + 40);
    CHECK(p0.shown.front() == 0);
    CHECK(p0.shown[63] == 63);
    CHECK(p0.shown[64] == 130);
    CHECK(p0.shown.back() == 169);
    CHECK(p0.reserved_first == 0);
    PageChannels p2 = page_channels(130, 40, 2, 64);
    REQUIRE(p2.shown.size() == 2 + 40);
    CHECK(p2.shown[0] == 128);
    CHECK(p2.shown[1] == 129);
    CHECK(p2.shown[2] == 130);

    // More reserved than one page: page 1 shows the second page of them; past it, the last.
    PageChannels r1 = page_channels(10, 100, 1, 64);
    REQUIRE(r1.shown.size() == 36);
    CHECK(r1.reserved_first == 64);
    CHECK(r1.shown.front() == 10 + 64);
    CHECK(page_channels(10, 100, 3, 64).reserved_first == 64);
    CHECK(page_channels(10, 0, 0, 64).shown.size() == 10);
    CHECK(page_channels(10, 0, 1, 64).shown.empty());
}

TEST_CASE("a page's tiles pack near-square into the atlas, one column past 8192 texels") {
    AtlasSize a = atlas_size(64, 7, 7);
    CHECK(a.cols == 8);
    CHECK(a.width == 56);
    CHECK(a.height == 56);
    a = atlas_size(10, 5, 3);  // 4 columns, 3 rows
    CHECK(a.cols == 4);
    CHECK(a.width == 20);
    CHECK(a.height == 9);
    a = atlas_size(4, 5000, 10);  // 2 x 5000 would pass 8192
    CHECK(a.cols == 1);
    CHECK(a.width == 5000);
    CHECK(a.height == 40);
}

TEST_CASE("the largest tile that fits a page in its column") {
    // 16 square tiles, originals only, in 400 x 400: 4 columns of (396 / 4 - 3) = 96 pixels.
    TileFit f = fit_tiles(16, 0, 1.0f, 400, 400);
    CHECK(f.cols == 4);
    CHECK(f.tile_width == doctest::Approx(96));
    // The reserved ones start a row of their own: 4 + 1 tiles in 400 x 300 take 2 columns of
    // 3 rows (400 - 4) / 2 - 3 = 195 wide, 300 / 3 - 3 = 97 high; 3 columns would be 2 rows
    // (129 pixels) if the reserved tile could share the originals' row.
    f = fit_tiles(4, 1, 1.0f, 400, 300);
    CHECK(f.cols == 2);
    CHECK(f.tile_width == doctest::Approx(97));
    // Nothing fits: the 8-pixel floor and one column.
    f = fit_tiles(100, 0, 1.0f, 20, 20);
    CHECK(f.cols == 1);
    CHECK(f.tile_width == doctest::Approx(8));
}
