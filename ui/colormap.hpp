#pragma once
// Colour maps for feature maps: viridis for non-negative data, blue-white-red for signed data.
#include <array>
#include <cstdint>

namespace rmvk::ui {

// t in [0, 1].
std::array<uint8_t, 3> viridis(float t);
// t in [-1, 1]: blue below zero, white at zero, red above.
std::array<uint8_t, 3> diverging(float t);

}  // namespace rmvk::ui
