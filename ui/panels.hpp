#pragma once
// The stateless panels: each draws from AppState into the current ImGui window.
#include <imgui.h>

#include "rm/compare.hpp"
#include "ui/app_state.hpp"

namespace rmvk::ui {

// Top-5 of both graphs, max|diff|, NMSE and the match verdict with its tolerance.
void draw_outputs_panel(const AppState& state);
// The verdict as the badge ("  OUTPUTS NOT FINITE  ") and the status bar ("outputs not finite")
// say it, and its colour. A plain graph pruned past exact zeros (threshold > 0) is approximate by
// design: its finite difference is "pruned: top-1 agrees/differs", in amber, not a failure.
struct VerdictText {
    const char* badge;
    const char* label;
    ImVec4 colour;
};
VerdictText verdict_text(const AppState& state);
// Operator, attributes, weights, params, MACs and device time of the selected node in each graph.
void draw_properties_panel(const AppState& state);

}  // namespace rmvk::ui
