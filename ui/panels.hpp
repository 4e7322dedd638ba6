#pragma once
// The stateless panels: each draws from AppState into the current ImGui window.
#include <imgui.h>

#include "rm/compare.hpp"
#include "ui/app_state.hpp"

namespace rmvk::ui {

// Top-5 of both graphs, max|diff|, NMSE and the match verdict with its tolerance.
void draw_outputs_panel(const AppState& state);
// The verdict in the badge ("  OUTPUTS NOT FINITE  "), the status bar ("outputs not finite")
// and its colour.
const char* verdict_badge(rm::Verdict v);
const char* verdict_label(rm::Verdict v);
ImVec4 verdict_colour(rm::Verdict v);
// Operator, attributes, weights, params, MACs and device time of the selected node in each graph.
void draw_properties_panel(const AppState& state);

}  // namespace rmvk::ui
