#pragma once
// Planning dispatches for one operator: which pipeline, which buffer ranges, which push
// constants and how many workgroups. Operators whose tensors exceed the largest binding
// (maxStorageBufferRange) are split here into several dispatches over slices.
#include <array>
#include <cstdint>
#include <vector>

#include "app/engine/context_impl.hpp"
#include "app/engine/conv_plan.hpp"
#include "app/engine/shader_params.hpp"
#include "rm/graph.hpp"

namespace rmvk {

// A tensor on the device: elements [first, first + element_count(shape)) of `buffer`.
struct TensorRef {
    const Buffer* buffer = nullptr;
    uint64_t first = 0;
    rm::Shape shape;
};

struct Dispatch {
    const ComputePipeline* pipeline = nullptr;
    std::vector<BufferRange> ranges;
    PushConstants push;  // one of the Push structs of shader_params.hpp
    uint32_t groups[3] = {1, 1, 1};
    bool after_previous = false;  // reads what the previous dispatch of its step wrote
};

class KernelPlanner {
  public:
    // element_bytes: 4 (fp32 tensors) or 2 (fp16 storage).
    explicit KernelPlanner(Context::Impl& ctx, uint32_t element_bytes = 4)
        : ctx_(ctx), element_bytes_(element_bytes) {}
    Context::Impl& ctx() { return ctx_; }
    uint32_t element_bytes() const { return element_bytes_; }
    // The shader's pipeline in this planner's storage type (Context::Impl::pipeline).
    const ComputePipeline& pipeline(std::string_view shader, uint32_t bindings, uint32_t push_bytes,
                                    std::span<const uint32_t> spec_constants = {},
                                    uint32_t texel_mask = 0, uint32_t rgba_mask = 0);

    // Elements one binding can always cover, whatever the alignment of its start.
    uint64_t max_elements() const;
    // Binds elements [first, first + count) of `t` (relative to t.first); `element_offset` gets
    // the index of element `first` inside the bound range. Throws when the range is too large.
    // `min_align` (bytes) raises the start's alignment, e.g. 16 for vec4 texel views.
    BufferRange bind(const TensorRef& t, uint64_t first, uint64_t count, uint32_t& element_offset,
                     uint64_t min_align = 4) const;

    // A 2-D grid of at least `groups` workgroups (kernels use flat_group_id()).
    static void grid_1d(uint64_t groups, uint32_t out[3]);

  private:
    Context::Impl& ctx_;
    uint32_t element_bytes_;
};

// The planners' description of this context's device: limits, forced choices (conv_variant,
// winograd) and the RMVK_CONV_TILE / RMVK_CONV_CU / RMVK_WINOGRAD environment knobs, for
// tensors of element_bytes (4 fp32, 2 fp16 storage).
DeviceCaps device_caps(const Context::Impl& ctx, uint32_t element_bytes = 4);
// Pipelines and descriptor ranges for a conv plan; buffers[operand] holds that operand
// (VK_NULL_HANDLE for those the plan does not bind). The pipelines are the variants for the
// plan's caps.element_bytes.
std::vector<Dispatch> realize_conv_plan(Context::Impl& ctx, const ConvPlan& plan,
                                        const std::array<VkBuffer, kConvOperands>& buffers,
                                        uint32_t element_bytes = 4);

std::vector<Dispatch> plan_pool(KernelPlanner& planner, const TensorRef& x, const TensorRef& y,
                                const rm::Attrs& a, bool average);
std::vector<Dispatch> plan_global_avg_pool(KernelPlanner& planner, const TensorRef& x,
                                           const TensorRef& y);
std::vector<Dispatch> plan_relu(KernelPlanner& planner, const TensorRef& x, const TensorRef& y);
// Binary element-wise ops with numpy broadcasting over up to 4 dimensions (a per-channel
// [C,1,1] constant, a scalar, or a full tensor); the values are eltwise.comp's OP constant.
// Max and Min keep NaN; PRelu is x < 0 ? b * x : x (x first: it is not commutative).
enum class BinaryOp : uint32_t { Add = 0, Mul = 1, Max = 2, Min = 3, PRelu = 4 };
std::vector<Dispatch> plan_binary(KernelPlanner& planner, BinaryOp op, const TensorRef& a,
                                  const TensorRef& b, const TensorRef& y, bool relu);
// Channel c of x clamped to [params[2c], params[2c + 1]], keeping NaN; params of one pair
// clamp every channel alike.
std::vector<Dispatch> plan_clamp(KernelPlanner& planner, const TensorRef& x,
                                 const TensorRef& params, const TensorRef& y);
// params: (scale, mean, shift) per channel.
std::vector<Dispatch> plan_batchnorm(KernelPlanner& planner, const TensorRef& x,
                                     const TensorRef& params, const TensorRef& y, bool relu);
// Gemm and MatMul with at most this many rows (per batch entry) run as GEMV (gemv.comp: one
// workgroup per output element), others as 16x16 tiles (gemm.comp).
constexpr uint32_t kGemvMaxRows = 4;
std::vector<Dispatch> plan_gemm(KernelPlanner& planner, const TensorRef& a, const TensorRef& b,
                                const TensorRef* c, const TensorRef& y, const rm::Attrs& attrs);
std::vector<Dispatch> plan_matmul(KernelPlanner& planner, const TensorRef& a, const TensorRef& b,
                                  const TensorRef& y);
std::vector<Dispatch> plan_softmax(KernelPlanner& planner, const TensorRef& x, const TensorRef& y,
                                   int64_t axis);

}  // namespace rmvk
