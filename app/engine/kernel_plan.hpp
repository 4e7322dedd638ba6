#pragma once
// Planning dispatches for one operator: which pipeline, which buffer ranges, which push
// constants and how many workgroups. Operators whose tensors exceed the largest binding
// (maxStorageBufferRange) are split here into several dispatches over slices.
#include <cstdint>
#include <vector>

#include "app/engine/context_impl.hpp"
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
};

class KernelPlanner {
  public:
    explicit KernelPlanner(Context::Impl& ctx) : ctx_(ctx) {}
    Context::Impl& ctx() { return ctx_; }

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
};

inline uint32_t u32(int64_t v) {
    return static_cast<uint32_t>(v);
}

// `w` holds the weights as uploaded: [oc, cg, kh, kw] for the shared-memory kernel, or packed
// by pack_conv_weights() when conv_packed_rows() > 0 (the kernel for CPU devices).
struct ConvParams {
    TensorRef x, w, y;
    const TensorRef* bias = nullptr;
    const TensorRef* residual = nullptr;  // a fused Add: y = conv + bias + residual (then ReLU)
    const rm::Attrs* attrs = nullptr;     // with kernel sizes resolved (infer_shapes)
    bool relu = false;
    // Channel windows (a conv that is one block of a wider layer): read channels
    // [x_channel, x_channel + in_channels) of x, write [y_channel, y_channel + out_channels) of
    // y and add channels [residual_channel, ...) of the residual. 0 channels: the whole tensor.
    // Every tensor keeps its own image stride (channels * height * width of its shape).
    int64_t in_channels = 0, x_channel = 0;
    int64_t out_channels = 0, y_channel = 0, residual_channel = 0;
};
std::vector<Dispatch> plan_conv(KernelPlanner& planner, const ConvParams& p);
// Output channels per packed row group for this device's conv kernel; 0: weights not packed.
uint32_t conv_packed_rows(const Context::Impl& ctx);
// [oc, cg, kh, kw] -> [groups][ceil(ocg / rows)][cg * kh * kw][rows], zero-padded: the weights
// of `rows` consecutive output channels for one k are adjacent (rows / 4 vec4 texels).
rm::Tensor pack_conv_weights(const rm::Tensor& w, int64_t groups, uint32_t rows);

std::vector<Dispatch> plan_pool(KernelPlanner& planner, const TensorRef& x, const TensorRef& y,
                                const rm::Attrs& a, bool average);
std::vector<Dispatch> plan_global_avg_pool(KernelPlanner& planner, const TensorRef& x,
                                           const TensorRef& y);
std::vector<Dispatch> plan_relu(KernelPlanner& planner, const TensorRef& x, const TensorRef& y);
std::vector<Dispatch> plan_add(KernelPlanner& planner, const TensorRef& a, const TensorRef& b,
                               const TensorRef& y, bool relu);
// params: (scale, mean, shift) per channel.
std::vector<Dispatch> plan_batchnorm(KernelPlanner& planner, const TensorRef& x,
                                     const TensorRef& params, const TensorRef& y, bool relu);
std::vector<Dispatch> plan_gemm(KernelPlanner& planner, const TensorRef& a, const TensorRef& b,
                                const TensorRef* c, const TensorRef& y, const rm::Attrs& attrs);
std::vector<Dispatch> plan_matmul(KernelPlanner& planner, const TensorRef& a, const TensorRef& b,
                                  const TensorRef& y);
std::vector<Dispatch> plan_softmax(KernelPlanner& planner, const TensorRef& x, const TensorRef& y,
                                   int64_t axis);

}  // namespace rmvk
