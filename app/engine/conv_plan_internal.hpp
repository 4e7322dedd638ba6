#pragma once
// Shared by the conv planner's files (conv_plan.cpp, conv_plan_winograd.cpp): tile choice and
// the spatial (direct or tiled) planner.
#include <cstdint>

#include "app/engine/conv_plan.hpp"

namespace rmvk::conv_detail {

struct Tile {
    const char* shader;
    uint32_t tm, tn, tk, rm, rn;
    uint32_t workgroup() const { return (tm / rm) * (tn / rn); }
};

bool direct_by_device(const DeviceCaps& caps);
// `row_width`: the output width when the CPU kernel will use its row layout (kernels wider
// than 1 or strided), else 0.
Tile choose_tile(const DeviceCaps& caps, int64_t ocg, int64_t cols, int64_t row_width = 0);
// Output channels per packed row group for this device's conv kernel; 0: weights not packed.
uint32_t packed_rows(const DeviceCaps& caps);

// Appends the kernel and dispatches of a direct or tiled conv to `plan`, reading x_operand and
// writing y_operand; `forced`: this tile instead of the device's choice.
void plan_spatial(const ConvProblem& p, const DeviceCaps& caps, ConvPlan& plan,
                  ConvOperand x_operand, ConvOperand y_operand, const Tile* forced);

}  // namespace rmvk::conv_detail
