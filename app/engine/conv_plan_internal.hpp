#pragma once
// Shared by the conv planner's files (conv_plan*.cpp): tile choice, the spatial (direct or
// tiled), Winograd and depthwise planners, and the cost model that chooses between them.
#include <cstdint>
#include <vector>

#include "app/engine/conv_plan.hpp"

namespace rmvk::conv_detail {

constexpr uint32_t kMaxSplitK = 32;

struct Tile {
    const char* shader;
    uint32_t tm, tn, tk, rm, rn;
    uint32_t split = 1;  // the tiled kernel's split-K factor (SPLIT_K)
    uint32_t workgroup() const { return (tm / rm) * (tn / rn); }
};

bool direct_by_device(const DeviceCaps& caps);
}  // namespace rmvk::conv_detail

namespace rmvk {
// caps.tile (RMVK_CONV_TILE) as a tile; throws a VulkanError saying what is wrong with it.
conv_detail::Tile parse_tile_override(const DeviceCaps& caps);
}  // namespace rmvk

namespace rmvk::conv_detail {
inline ConvAct conv_act(const ConvProblem& p) {
    return p.clamp ? ConvAct::Clamp : p.relu ? ConvAct::Relu : ConvAct::None;
}
// `row_width`: the output width when the CPU kernel will use its row layout (kernels wider
// than 1 or strided), else 0.
// `k`, `conv_groups`: the reduction depth and the groups in one dispatch (split-K; 0: none).
Tile choose_tile(const DeviceCaps& caps, int64_t ocg, int64_t cols, int64_t row_width = 0,
                 int64_t k = 0, int64_t conv_groups = 1);
// The tiled kernel's tile and split-K factor for an (M = ocg, N = cols, K = k) product in
// `conv_groups` groups: the largest tile that gives every compute unit kWorkgroupsPerUnit
// workgroups, else the smallest with K split to make up the rest.
Tile choose_gpu_tile(const DeviceCaps& caps, int64_t ocg, int64_t cols, int64_t k,
                     int64_t conv_groups);
// Output channels per packed row group of the CPU kernel (conv2d_direct) where this device
// runs it; 0: it runs the tiled kernel.
uint32_t packed_rows(const DeviceCaps& caps);
// The tiled kernel (conv2d.comp) reads weights packed in rows of 4 output channels: a vec4.
constexpr uint32_t kTiledWeightRows = 4;
// Rows per packed group of the weights of this device's conv kernel (never 0).
uint32_t weight_rows(const DeviceCaps& caps);
// Shared memory the tiled kernel's tiles take.
uint64_t tiled_shared_bytes(const Tile& t);

// Which operands a spatial plan binds as its input, weights and output.
struct SpatialOperands {
    ConvOperand x = ConvOperand::X, w = ConvOperand::W, y = ConvOperand::Y;
};
// Appends the kernel and dispatches of a direct or tiled conv to `plan`; `forced`: this tile
// instead of the device's choice. Returns the packing its weights need (0: unpacked).
uint32_t plan_spatial(const ConvProblem& p, const DeviceCaps& caps, ConvPlan& plan,
                      const SpatialOperands& operands, const Tile* forced);

// The Winograd plans this conv allows: F(m, 3) with the GEMM's tiles or (transposed) output
// channels across lanes, where it applies and every transformed tensor fits one binding.
struct WinogradOption {
    uint32_t m = 0;
    bool transposed = false;
};
std::vector<WinogradOption> winograd_options(const ConvProblem& p, const DeviceCaps& caps);
// Appends the three stages of a Winograd F(m, 3) conv to `plan`.
void plan_winograd(const ConvProblem& p, const DeviceCaps& caps, uint32_t m, bool transposed,
                   ConvPlan& plan);

// The depthwise plan (group == channels, whole tensors that fit one binding each); false, and
// `plan` untouched, where it does not apply.
bool plan_depthwise(const ConvProblem& p, const DeviceCaps& caps, ConvPlan& plan);

// Device time of a plan on the CPU-device kernels (lavapipe) by the cost model the planner
// chooses with (README, Performance: "Winograd").
double estimated_ns(const ConvPlan& plan);

}  // namespace rmvk::conv_detail
