#include "ui/colormap.hpp"

#include <algorithm>
#include <cmath>

namespace rmvk::ui {

namespace {

std::array<uint8_t, 3> lerp_table(const float (*table)[3], int n, float t) {
    t = std::clamp(std::isfinite(t) ? t : 0.0f, 0.0f, 1.0f) * float(n - 1);
    int i = std::min(int(t), n - 2);
    float f = t - float(i);
    std::array<uint8_t, 3> out;
    for (int c = 0; c < 3; ++c)
        out[c] = uint8_t(255.0f * (table[i][c] * (1 - f) + table[i + 1][c] * f) + 0.5f);
    return out;
}

}  // namespace

std::array<uint8_t, 3> viridis(float t) {
    // Nine samples of matplotlib's viridis, linearly interpolated.
    static const float kTable[9][3] = {
        {0.267f, 0.005f, 0.329f}, {0.283f, 0.141f, 0.458f}, {0.254f, 0.265f, 0.530f},
        {0.207f, 0.372f, 0.553f}, {0.164f, 0.471f, 0.558f}, {0.128f, 0.567f, 0.551f},
        {0.135f, 0.659f, 0.518f}, {0.478f, 0.821f, 0.318f}, {0.993f, 0.906f, 0.144f}};
    return lerp_table(kTable, 9, t);
}

std::array<uint8_t, 3> diverging(float t) {
    static const float kTable[5][3] = {{0.23f, 0.30f, 0.75f},
                                       {0.55f, 0.69f, 0.99f},
                                       {0.95f, 0.95f, 0.95f},
                                       {0.96f, 0.60f, 0.48f},
                                       {0.71f, 0.02f, 0.15f}};
    return lerp_table(kTable, 5, (t + 1.0f) * 0.5f);
}

}  // namespace rmvk::ui
