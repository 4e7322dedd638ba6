#pragma once
// The conv planner: a pure function of (shapes, attributes, device description) -> plan, with
// no Vulkan object in it, so that tests can assert which kernel it picks and how many
// dispatches it plans for any device limits. The graph runner turns a plan into pipelines and
// descriptor sets (realize_conv_plan, kernel_plan.hpp).
#include <cstdint>
#include <string>
#include <vector>

#include "app/engine/shader_params.hpp"
#include "rm/graph.hpp"

namespace rmvk {

// What the planners know of a device: a plain struct, filled from the Vulkan properties by
// device_caps() (kernel_plan.hpp), or by hand in tests.
struct DeviceCaps {
    std::string type = "discrete";  // as DeviceInfo::type: "cpu" for lavapipe
    bool subgroup_shuffle = false;
    uint32_t subgroup_size = 32;
    uint64_t max_binding_bytes = 128ull << 20;  // the largest range one binding may cover
    uint64_t offset_alignment = 16;             // binding offsets are multiples of this (bytes)
    uint32_t max_workgroup_invocations = 1024;
    uint32_t max_shared_memory = 32768;  // bytes per workgroup
    // Shader cores running workgroups side by side (DeviceInfo::compute_units); the GPU tile
    // and split-K choice aim for at least kWorkgroupsPerUnit workgroups on each. 0: as 1.
    uint32_t compute_units = 0;
    // Bytes per tensor element in device buffers: 4 (fp32) or 2 (fp16 storage). Split-K
    // partial sums stay fp32.
    uint32_t element_bytes = 4;

    // Choices forced by tests and benchmarks, and tuning experiments.
    enum class ConvKernel { Auto, Tiled, Direct };
    ConvKernel conv_kernel = ConvKernel::Auto;  // Auto: by device type
    enum class Winograd { Auto, Off, On };
    Winograd winograd = Winograd::Auto;  // Auto: per layer, where measured faster
    uint32_t winograd_m = 0;             // 2 or 4: only F(m, 3); 0: chosen
    // The Winograd GEMM's orientation: 0 chosen, 1 tiles across lanes, 2 output channels
    // across lanes (CPU kernel, oc % 4 == 0).
    int winograd_orientation = 0;
    std::string tile;  // "name:TM:TN:TK:RM:RN[:SPLIT]" (RMVK_CONV_TILE); "": chosen
    uint32_t cu = 0;   // direct kernel's input channels per iteration (RMVK_CONV_CU); 0: chosen
};

// Reads the tuning variables (RMVK_WINOGRAD, RMVK_CONV_TILE, RMVK_CONV_CU; null or empty:
// unset) into caps, refusing with a VulkanError that names the variable any value a kernel
// cannot run with (a tile with fewer invocations than its width, more shared memory or
// invocations than the device has, ...).
void apply_tuning_overrides(DeviceCaps& caps, const char* winograd, const char* tile,
                            const char* cu);

// Elements (of element_bytes each) one binding can always cover, whatever its start's alignment.
uint64_t max_binding_elements(uint64_t max_binding_bytes, uint64_t offset_alignment,
                              uint32_t element_bytes);

// Elements [first, first + count) of a tensor that starts `tensor_first` elements into its
// buffer, as one binding: the byte offset (aligned down to `align`), the byte range, and the
// index of element `first` within the bound range. Throws when the range exceeds `max_bytes`.
struct BindingRange {
    uint64_t offset = 0, range = 0;
    uint32_t element_offset = 0;
};
BindingRange binding_range(uint64_t tensor_first, uint64_t first, uint64_t count, uint64_t align,
                           uint64_t max_bytes, uint32_t element_bytes);

// A 2-D grid of at least `groups` workgroups, for kernels that use flat_group_id() (grids
// wider than the 65535 every device allows in x).
void grid_1d(uint64_t groups, uint32_t out[3]);

// The tensors a conv plan binds. Weights and bias sit at the start of their own buffers; the
// Winograd operands are scratch buffers the runner provides (ConvPlan's sizes).
// SplitKPartials: the split-K partial sums (ConvPlan::split_k_elements), a scratch buffer too.
enum class ConvOperand : uint32_t {
    X,
    W,
    Bias,
    Y,
    Residual,
    WinogradInput,
    WinogradProduct,
    SplitKPartials
};
constexpr size_t kConvOperands = 8;

// Workgroups per compute unit the GPU planner aims for: one to run while another waits on
// memory.
constexpr uint32_t kWorkgroupsPerUnit = 2;

struct ConvProblem {
    rm::Shape x, y;      // NCHW shapes of the input and output tensors
    rm::Shape residual;  // empty: no fused residual Add
    bool bias = false;
    bool relu = false;
    // A per-channel clamp after the bias (and residual) instead of the ReLU: the bias buffer
    // then holds 3 * out channels values, bias, lo and hi planes (bias = true).
    bool clamp = false;
    const rm::Attrs* attrs = nullptr;  // with kernel sizes resolved (infer_shapes)
    // Element offsets of x, y and the residual in their buffers (alignment decisions).
    uint64_t x_first = 0, y_first = 0, residual_first = 0;
    // Channel windows (a conv that is one block of a wider layer): read channels
    // [x_channel, x_channel + in_channels) of x, write [y_channel, y_channel + out_channels) of
    // y and add channels [residual_channel, ...) of the residual. 0 channels: the whole tensor.
    // Every tensor keeps its own image stride (channels * height * width of its shape).
    int64_t in_channels = 0, x_channel = 0;
    int64_t out_channels = 0, y_channel = 0, residual_channel = 0;
};

// How the plan's kernels read the weights.
struct ConvWeightLayout {
    uint32_t packed_rows = 0;  // 0: [oc, cg, kh, kw] as in the graph; else pack_conv_weights
    uint32_t winograd_m = 0;   // 2 or 4: transformed for F(m, 3) (then packed) first
    bool winograd_transposed = false;  // transformed as [xi][c][oc] instead of [xi][oc][c]
};

// One pipeline a plan uses.
struct ConvKernelUse {
    std::string shader;
    std::vector<uint32_t> spec;  // spec_words() of the shader's Spec struct
    uint32_t bindings = 0, push_bytes = 0;
    uint32_t texel_mask = 0, rgba_mask = 0;  // as for Context::Impl::pipeline
};

struct PlannedBinding {
    ConvOperand operand = ConvOperand::X;
    uint64_t offset = 0, range = 0;  // bytes into the operand's buffer
};

struct PlannedDispatch {
    uint32_t kernel = 0;  // index into ConvPlan::kernels
    std::vector<PlannedBinding> bindings;
    PushConstants push;
    uint32_t groups[3] = {1, 1, 1};
    bool after_previous = false;  // reads what the previous dispatch wrote: a barrier first
};

struct ConvPlan {
    std::string name;  // "direct", "direct rows", "tiled", "winograd F(4,3)", ...
    ConvWeightLayout weights;
    uint64_t winograd_input_elements = 0, winograd_product_elements = 0;  // scratch sizes
    uint64_t split_k_elements = 0;                                        // scratch size
    std::vector<ConvKernelUse> kernels;
    std::vector<PlannedDispatch> dispatches;
};

ConvPlan plan_conv(const ConvProblem& problem, const DeviceCaps& caps);

// The weights ([oc, cg, kh, kw], as in the graph) in the layout a plan asks for.
rm::Tensor conv_device_weights(const rm::Tensor& w, int64_t groups, const ConvWeightLayout& layout);
// [oc, cg, kh, kw] -> [groups][ceil(ocg / rows)][cg * kh * kw][rows], zero-padded: the weights
// of `rows` consecutive output channels for one k are adjacent (rows / 4 vec4 texels).
rm::Tensor pack_conv_weights(const rm::Tensor& w, int64_t groups, uint32_t rows);

}  // namespace rmvk
