#pragma once
// Colours and style of the app, in one place.
#include <imgui.h>

#include "rm/graph.hpp"

namespace rmvk::ui::theme {

inline const ImVec4 kAccent{0.55f, 0.78f, 1.0f, 1.0f};
inline const ImVec4 kGood{0.36f, 0.85f, 0.47f, 1.0f};
inline const ImVec4 kBad{1.0f, 0.38f, 0.35f, 1.0f};
inline const ImVec4 kWarn{1.0f, 0.78f, 0.3f, 1.0f};
// NaN/Inf in an output: a deeper red than a plain mismatch, so the two are not confused.
inline const ImVec4 kNotFinite{1.0f, 0.1f, 0.1f, 1.0f};
inline const ImVec4 kMuted{0.6f, 0.62f, 0.66f, 1.0f};
inline const ImVec4 kReservedText4{0.98f, 0.80f, 0.32f, 1.0f};
// The renderer clears the window to this colour and panels paint no background of their own:
// on a software rasteriser every filled pixel costs, and stacked panel fills were most of a frame.
inline const ImVec4 kBackground{0.12f, 0.128f, 0.148f, 1.0f};

inline constexpr ImU32 rgb(int r, int g, int b, int a = 255) {
    return IM_COL32(r, g, b, a);
}

inline constexpr ImU32 kGridDot = rgb(52, 56, 64);
inline constexpr ImU32 kEdge = rgb(120, 128, 142);
inline constexpr ImU32 kShortcutEdge = rgb(232, 150, 62);
inline constexpr ImU32 kEdgeLabel = rgb(150, 158, 170);
inline constexpr ImU32 kNodeBorder = rgb(12, 12, 14, 200);
inline constexpr ImU32 kNodeText = rgb(240, 242, 246);
inline constexpr ImU32 kNodeSubText = rgb(200, 206, 216);
inline constexpr ImU32 kSelection = rgb(255, 214, 90);
inline constexpr ImU32 kSelectionGlow = rgb(255, 214, 90, 90);
inline constexpr ImU32 kBlockFill = rgb(66, 74, 96);
inline constexpr ImU32 kBlockEdge = rgb(120, 130, 160);
inline constexpr ImU32 kIoFill = rgb(78, 82, 90);
inline constexpr ImU32 kReserved = rgb(236, 178, 46);
inline constexpr ImU32 kReservedText = rgb(30, 24, 10);
inline constexpr ImU32 kTimeBar = rgb(255, 120, 90);
inline constexpr ImU32 kResidualBar = rgb(96, 160, 240);
inline constexpr ImU32 kPlainBar = rgb(120, 210, 140);

ImU32 op_color(rm::Op op);
void apply_style();

}  // namespace rmvk::ui::theme
