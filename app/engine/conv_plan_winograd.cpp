// Winograd F(m, 3) plans for stride-1 3x3 convs: input transform, the batched GEMM as a grouped
// pointwise conv (one group per transformed position xi, planned by plan_spatial so that it
// runs on the device's conv kernel), output transform with bias, residual and ReLU.
//
// The GEMM of position xi is U[xi] (oc x c) V[xi] (c x tiles). The CPU-device kernel puts
// pixels across SIMD lanes and 16 output channels in each invocation's registers, so it is
// run either with tiles as its pixels (U as packed weights, V as input: "tiles across lanes")
// or, when there are few tiles (small feature maps), transposed: V^T as packed weights in rows
// of 16 tiles and U^T as input, output channels across lanes.
#include <algorithm>

#include "app/engine/conv_plan_internal.hpp"
#include "app/vulkan/vulkan_error.hpp"
#include "rm/winograd.hpp"

namespace rmvk::conv_detail {

namespace {

struct WinogradShape {
    uint32_t m = 0;
    int64_t t = 0;
    bool transposed = false;  // output channels across lanes
    int64_t n = 0, c = 0, oc = 0, tiles_h = 0, tiles_w = 0, tiles = 0, tiles_padded = 0;
    uint64_t v_elements = 0, product_elements = 0, weight_elements = 0;
};

int64_t round_up(int64_t v, int64_t to) {
    return (v + to - 1) / to * to;
}

WinogradShape winograd_shape(const ConvProblem& p, uint32_t m, bool transposed, uint32_t rows) {
    WinogradShape s;
    s.m = m;
    s.t = m + 2;
    s.transposed = transposed;
    s.n = p.x[0];
    s.c = p.in_channels ? p.in_channels : p.x[1];
    s.oc = p.out_channels ? p.out_channels : p.y[1];
    s.tiles_h = (p.y[2] + m - 1) / m;
    s.tiles_w = (p.y[3] + m - 1) / m;
    s.tiles = s.n * s.tiles_h * s.tiles_w;
    // Whole RGBA texels of tiles; whole packed rows when the tiles are the GEMM's rows.
    s.tiles_padded = round_up(s.tiles, transposed ? rows : 4);
    const uint64_t tt = static_cast<uint64_t>(s.t * s.t);
    s.v_elements = tt * static_cast<uint64_t>(s.c * s.tiles_padded);
    s.product_elements = tt * static_cast<uint64_t>(s.oc * s.tiles_padded);
    const int64_t oc_rows = transposed ? s.oc : round_up(s.oc, rows ? rows : kTiledWeightRows);
    s.weight_elements = tt * static_cast<uint64_t>(oc_rows * s.c);
    return s;
}

// Scratch (transformed input, products) per conv at most: a large batch runs spatially rather
// than holding gigabytes of transformed tensors.
constexpr uint64_t kMaxScratchElements = 64ull << 20;  // 256 MB each

// Everything one binding must hold fits (Winograd plans do not slice).
bool fits(const ConvProblem& p, const WinogradShape& s, const DeviceCaps& caps) {
    const uint64_t limit = std::min(
        max_binding_elements(caps.max_binding_bytes, caps.offset_alignment, caps.element_bytes),
        kMaxScratchElements);
    const uint64_t x = static_cast<uint64_t>(rm::element_count(p.x)),
                   y = static_cast<uint64_t>(rm::element_count(p.y)),
                   r = static_cast<uint64_t>(p.residual.empty() ? 0
                                                                : rm::element_count(p.residual));
    return s.v_elements <= limit && s.product_elements <= limit && s.weight_elements <= limit &&
           x <= limit && y <= limit && r <= limit;
}

}  // namespace

std::vector<WinogradOption> winograd_options(const ConvProblem& p, const DeviceCaps& caps) {
    const rm::Attrs& a = *p.attrs;
    const int64_t c = p.in_channels ? p.in_channels : p.x[1];
    const int64_t oc = p.out_channels ? p.out_channels : p.y[1];
    std::vector<WinogradOption> out;
    if (caps.winograd == DeviceCaps::Winograd::Off || a.kernel.size() != 2 ||
        !rm::winograd::applies(a, {oc, c, a.kernel[0], a.kernel[1]}))
        return out;
    const uint32_t rows = packed_rows(caps);
    for (uint32_t m : {4u, 2u})
        for (bool transposed : {false, true}) {
            if (caps.winograd_m && caps.winograd_m != m) continue;
            // F(4,3)'s transforms scale fp16 rounding of the stored transformed input and
            // products up about tenfold (README, "fp16 storage"): fp16 storage plans F(2,3) only.
            if (m == 4 && caps.element_bytes == 2) continue;
            // Output channels across lanes: the CPU kernel's packed rows, 4 channels a texel.
            if (transposed && (!rows || oc % 4 != 0 || caps.winograd_orientation == 1)) continue;
            if (!transposed && caps.winograd_orientation == 2 && rows && oc % 4 == 0) continue;
            if (fits(p, winograd_shape(p, m, transposed, rows), caps))
                out.push_back({m, transposed});
        }
    return out;
}

void plan_winograd(const ConvProblem& p, const DeviceCaps& caps, uint32_t m, bool transposed,
                   ConvPlan& plan) {
    const uint32_t rows = packed_rows(caps);
    const WinogradShape s = winograd_shape(p, m, transposed, rows);
    const bool residual = !p.residual.empty();
    const int64_t h = p.x[2], w = p.x[3], oh = p.y[2], ow = p.y[3];
    const uint64_t hw = static_cast<uint64_t>(h * w), ohw = static_cast<uint64_t>(oh * ow);
    const uint64_t x_stride = static_cast<uint64_t>(p.x[1]) * hw,
                   y_stride = static_cast<uint64_t>(p.y[1]) * ohw,
                   r_stride = residual ? static_cast<uint64_t>(p.residual[1]) * ohw : 0;
    auto bind = [&](ConvOperand operand, uint64_t tensor_first, uint64_t count,
                    uint32_t& element_offset, uint64_t min_align) {
        BindingRange r =
            binding_range(tensor_first, 0, count, std::max(caps.offset_alignment, min_align),
                          caps.max_binding_bytes, caps.element_bytes);
        element_offset = r.element_offset;
        return PlannedBinding{operand, r.offset, r.range};
    };
    plan.name = "winograd F(" + std::to_string(m) + ",3)";
    plan.weights = {transposed ? 0u : weight_rows(caps), m, transposed};
    plan.winograd_input_elements = s.v_elements;
    plan.winograd_product_elements = s.product_elements;

    // 1. Input transform: one invocation per 4 tiles of one channel.
    {
        plan.kernels.push_back({"winograd_input", spec_words(WinogradInputSpec{m, transposed}), 2,
                                sizeof(WinogradInputPush), 0b01u, 0u});
        PlannedDispatch d;
        d.kernel = static_cast<uint32_t>(plan.kernels.size() - 1);
        WinogradInputPush push{};
        d.bindings.push_back(bind(ConvOperand::X, p.x_first,
                                  static_cast<uint64_t>(s.n - 1) * x_stride +
                                      static_cast<uint64_t>(p.x_channel + s.c) * hw,
                                  push.x_off, 4));
        d.bindings.push_back(bind(ConvOperand::WinogradInput, 0, s.v_elements, push.v_off, 16));
        push.v_off /= 4;
        push.c = u32(s.c);
        push.h = u32(h);
        push.w = u32(w);
        push.x_image_stride = u32(x_stride);
        push.x_channel = u32(p.x_channel);
        push.tiles_h = u32(s.tiles_h);
        push.tiles_w = u32(s.tiles_w);
        push.tiles = u32(s.tiles);
        push.tiles_padded = u32(s.tiles_padded);
        push.pad_top = static_cast<int32_t>(p.attrs->pads[0]);
        push.pad_left = static_cast<int32_t>(p.attrs->pads[1]);
        d.push = push;
        grid_1d((static_cast<uint64_t>(s.c * s.tiles_padded / 4) + 63) / 64, d.groups);
        plan.dispatches.push_back(std::move(d));
    }

    // 2. The batched GEMM: (m+2)^2 groups of a pointwise conv over a 1-row image.
    {
        const int64_t positions = s.t * s.t;
        rm::Attrs g;
        g.kernel = {1, 1};
        g.group = positions;
        ConvProblem gemm;
        gemm.attrs = &g;
        SpatialOperands operands;
        if (transposed) {  // M^T[xi] (tiles x oc) = V^T[xi] (packed) U^T[xi] (c x oc)
            gemm.x = {1, positions * s.c, 1, s.oc};
            gemm.y = {1, positions * s.tiles_padded, 1, s.oc};
            operands = {ConvOperand::W, ConvOperand::WinogradInput, ConvOperand::WinogradProduct};
        } else {  // M[xi] (oc x tiles) = U[xi] (packed) V[xi] (c x tiles)
            gemm.x = {1, positions * s.c, 1, s.tiles_padded};
            gemm.y = {1, positions * s.oc, 1, s.tiles_padded};
            operands = {ConvOperand::WinogradInput, ConvOperand::W, ConvOperand::WinogradProduct};
        }
        const size_t first = plan.dispatches.size();
        plan_spatial(gemm, caps, plan, operands, nullptr);
        if (plan.dispatches.size() != first + 1)
            throw VulkanError("internal error: a Winograd GEMM was planned in slices");
        plan.dispatches.back().after_previous = true;
    }

    // 3. Output transform and epilogue.
    {
        const bool y4 = m == 4 && ow % 4 == 0 && y_stride % 4 == 0 && p.y_first % 4 == 0 &&
                        (!residual || (r_stride % 4 == 0 && p.residual_first % 4 == 0));
        plan.kernels.push_back(
            {"winograd_output",
             spec_words(WinogradOutputSpec{m, p.clamp, residual, y4, transposed}), 4,
             sizeof(WinogradOutputPush), 0b1011u, y4 ? 0b1001u : 0b0001u});
        PlannedDispatch d;
        d.kernel = static_cast<uint32_t>(plan.kernels.size() - 1);
        d.after_previous = true;
        WinogradOutputPush push{};
        d.bindings.push_back(
            bind(ConvOperand::WinogradProduct, 0, s.product_elements, push.m_off, 16));
        push.m_off /= 4;
        d.bindings.push_back(
            p.bias ? bind(ConvOperand::Bias, 0, u32(s.oc * (p.clamp ? 3 : 1)), push.b_off, 4)
                   : bind(ConvOperand::W, 0, 1, push.b_off, 4));
        const uint64_t y_count = static_cast<uint64_t>(s.n - 1) * y_stride +
                                 static_cast<uint64_t>(p.y_channel + s.oc) * ohw;
        d.bindings.push_back(bind(ConvOperand::Y, p.y_first, y_count, push.y_off, y4 ? 16 : 4));
        if (residual)
            d.bindings.push_back(bind(ConvOperand::Residual, p.residual_first,
                                      static_cast<uint64_t>(s.n - 1) * r_stride +
                                          static_cast<uint64_t>(p.residual_channel + s.oc) * ohw,
                                      push.r_off, y4 ? 16 : 4));
        else
            d.bindings.push_back(d.bindings.front());  // unused
        push.oc = u32(s.oc);
        push.oh = u32(oh);
        push.ow = u32(ow);
        push.y_image_stride = u32(y_stride);
        push.y_channel = u32(p.y_channel);
        push.r_image_stride = u32(r_stride);
        push.r_channel = u32(p.residual_channel);
        push.tiles_h = u32(s.tiles_h);
        push.tiles_w = u32(s.tiles_w);
        push.tiles = u32(s.tiles);
        push.tiles_padded = u32(s.tiles_padded);
        push.has_bias = p.bias;
        push.act_stride = u32(s.oc);
        push.relu = conv_act(p) == ConvAct::Relu;
        d.push = push;
        const int64_t invocations = transposed ? s.tiles * (s.oc / 4) : s.oc * ((s.tiles + 3) / 4);
        grid_1d((static_cast<uint64_t>(invocations) + 63) / 64, d.groups);
        plan.dispatches.push_back(std::move(d));
    }
}

}  // namespace rmvk::conv_detail
