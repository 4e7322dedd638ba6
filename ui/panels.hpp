#pragma once
// The stateless panels: each draws from AppState into the current ImGui window.
#include "ui/app_state.hpp"

namespace rmvk::ui {

// Top-5 of both graphs, max|diff|, NMSE and the match verdict with its tolerance.
void draw_outputs_panel(const AppState& state);
// Operator, attributes, weights, params, MACs and device time of the selected node in each graph.
void draw_properties_panel(const AppState& state);

}  // namespace rmvk::ui
