// The direct and tiled conv plans: slicing over images and output channels so that every
// binding stays within maxStorageBufferRange (a plain Wide-ResNet conv weight is ~340 MB), the
// kernel's layout variants (texel reads, row layout, split-K), and one dispatch per slice.
#include <algorithm>
#include <string>

#include "app/engine/conv_plan_internal.hpp"
#include "app/vulkan/vulkan_error.hpp"

namespace rmvk {

uint64_t max_binding_elements(uint64_t max_binding_bytes, uint64_t offset_alignment,
                              uint32_t element_bytes) {
    uint64_t align = std::max<uint64_t>(offset_alignment, 16);
    return max_binding_bytes > align ? (max_binding_bytes - align) / element_bytes : 0;
}

BindingRange binding_range(uint64_t tensor_first, uint64_t first, uint64_t count, uint64_t align,
                           uint64_t max_bytes, uint32_t element_bytes) {
    uint64_t byte = (tensor_first + first) * element_bytes;
    uint64_t start = byte - byte % align;
    uint64_t range = byte + std::max<uint64_t>(count, 1) * element_bytes - start;
    if (range > max_bytes)
        throw VulkanError("internal error: a binding of " + std::to_string(range) +
                          " bytes exceeds the device limit of " + std::to_string(max_bytes));
    return {start, range, static_cast<uint32_t>((byte - start) / element_bytes)};
}

void grid_1d(uint64_t groups, uint32_t out[3]) {
    uint64_t gx = std::min<uint64_t>(std::max<uint64_t>(groups, 1), 65535);
    out[0] = static_cast<uint32_t>(gx);
    out[1] = static_cast<uint32_t>(std::max<uint64_t>((groups + gx - 1) / gx, 1));
    out[2] = 1;
}

}  // namespace rmvk

namespace rmvk::conv_detail {

uint32_t plan_spatial(const ConvProblem& p, const DeviceCaps& caps, ConvPlan& plan,
                      const SpatialOperands& operands, const Tile* forced) {
    const rm::Attrs& a = *p.attrs;
    const auto& xs = p.x;
    const auto& ys = p.y;
    const bool residual = !p.residual.empty();
    int64_t n = xs[0], h = xs[2], w = xs[3];
    int64_t oh = ys[2], ow = ys[3];
    int64_t c = p.in_channels ? p.in_channels : xs[1];
    int64_t oc = p.out_channels ? p.out_channels : ys[1];
    int64_t groups = a.group, cg = c / groups, kh = a.kernel.at(0), kw = a.kernel.at(1);
    int64_t ocg = oc / groups;
    int64_t k = cg * kh * kw;
    const uint64_t limit =
        max_binding_elements(caps.max_binding_bytes, caps.offset_alignment, caps.element_bytes);
    if (p.x_channel + c > xs[1] || p.y_channel + oc > ys[1] ||
        (residual && p.residual_channel + oc > p.residual[1]))
        throw VulkanError("internal error: a conv's channel window lies outside its tensor");

    const uint64_t hw = static_cast<uint64_t>(h * w), ohw = static_cast<uint64_t>(oh * ow);
    const uint64_t x_stride = static_cast<uint64_t>(xs[1]) * hw,
                   y_stride = static_cast<uint64_t>(ys[1]) * ohw,
                   r_stride = residual ? static_cast<uint64_t>(p.residual[1]) * ohw : 0;
    // Elements a binding covers: `images` images of `stride`, the last up to channel `end`.
    auto span = [](int64_t images, uint64_t stride, int64_t end, uint64_t plane) {
        return static_cast<uint64_t>(images - 1) * stride + static_cast<uint64_t>(end) * plane;
    };
    if (span(1, x_stride, p.x_channel + c, hw) > limit)
        throw VulkanError(
            "conv input of one image (" +
            std::to_string(span(1, x_stride, p.x_channel + c, hw) * caps.element_bytes) +
            " bytes) exceeds the device's largest buffer binding");
    // Packed weights: ceil(ocg / rows) groups of `rows` output channels per conv group, rows
    // of 16 (texels) for the CPU kernel, 4 (vec4s) for the tiled one.
    const bool direct_kernel =
        forced ? std::string(forced->shader) == "conv2d_direct" : packed_rows(caps) > 0;
    const int64_t rows =
        forced ? (direct_kernel ? forced->rm : kTiledWeightRows) : weight_rows(caps);
    const int64_t packed_group = (ocg + rows - 1) / rows * rows * k;
    auto weight_span = [&](int64_t oc0,
                           int64_t count) -> std::pair<uint64_t, uint64_t> {  // elements
        if (groups > 1)
            return {static_cast<uint64_t>(oc0 / ocg * packed_group),
                    static_cast<uint64_t>(count / ocg * packed_group)};
        return {static_cast<uint64_t>(oc0 * k),
                static_cast<uint64_t>((count + rows - 1) / rows * rows * k)};  // oc0 % rows == 0
    };
    // Output channels per dispatch: whole groups (whole row groups), weights and
    // output slice within the limit. A slice's output (and residual) binding starts at its
    // first channel within the window; the window's own offset stays in the push constants.
    int64_t oc_chunk = oc;
    auto fits = [&](int64_t chunk) {
        return weight_span(0, chunk).second <= limit &&
               span(1, y_stride, p.y_channel + chunk, ohw) <= limit &&
               (!residual || span(1, r_stride, p.residual_channel + chunk, ohw) <= limit);
    };
    while (!fits(oc_chunk)) {
        int64_t half = std::max(rows, (oc_chunk / 2 + rows - 1) / rows * rows);
        int64_t next = groups > 1 ? std::max<int64_t>(ocg, (oc_chunk / 2) / ocg * ocg)
                                  : std::min(half, oc_chunk);
        if (next == oc_chunk)
            throw VulkanError("conv weights or output of " + std::to_string(oc_chunk) +
                              " output channels exceed the device's largest buffer binding (" +
                              std::to_string(limit * caps.element_bytes) + " bytes)");
        oc_chunk = next;
    }
    // Images per dispatch: all when everything fits, else as many as fit.
    int64_t images = n;
    if (oc_chunk < oc) images = 1;
    while (images > 1 &&
           (span(images, x_stride, p.x_channel + c, hw) > limit ||
            span(images, y_stride, p.y_channel + oc, ohw) > limit ||
            (residual && span(images, r_stride, p.residual_channel + oc, ohw) > limit) ||
            (images * oh * ow + 255) / 64 > 65535))
        images = (images + 1) / 2;

    int64_t ocg_dispatch = groups > 1 ? ocg : oc_chunk;  // output channels per group per dispatch
    const bool pointwise = kh == 1 && kw == 1 && a.strides[0] == 1 && a.strides[1] == 1 &&
                           a.pads[0] == 0 && a.pads[1] == 0 && a.pads[2] == 0 && a.pads[3] == 0;
    // The CPU kernel's row layout: RN neighbouring pixels of one output row per invocation.
    const bool rows_mode = direct_kernel && !pointwise && (kw > 1 || a.strides[1] > 1);
    const int64_t groups_dispatch = groups > 1 ? oc_chunk / ocg : 1;
    Tile t = forced ? *forced
                    : choose_tile(caps, ocg_dispatch, images * oh * ow, rows_mode ? ow : 0, k,
                                  groups_dispatch);
    const bool is_direct = std::string(t.shader) == "conv2d_direct";
    if (!is_direct) {
        // Narrow tiles need more workgroups along x than the 65535 every device allows.
        while (images > 1 && (images * oh * ow + t.tn - 1) / t.tn > 65535)
            images = (images + 1) / 2;
        if ((oh * ow + t.tn - 1) / t.tn > 65535)
            throw VulkanError("conv output of " + std::to_string(oh * ow) +
                              " pixels per image is too large for one dispatch");
    }
    // Split-K partials ([split][channel][column] of one dispatch) within one binding, and the
    // z dimension within 65535.
    // (Not for a Winograd GEMM: its operands are scratch buffers, one dispatch each.)
    uint32_t split = is_direct || operands.y != ConvOperand::Y ? 1 : t.split;
    while (split > 1 &&
           (static_cast<uint64_t>(split) * static_cast<uint64_t>(oc_chunk * images) * ohw > limit ||
            static_cast<uint64_t>(split) * static_cast<uint64_t>(groups_dispatch) > 65535))
        --split;
    // The CPU kernel reads a pointwise conv's input 4 pixels per RGBA texel when planes (and
    // so every image and channel) start at multiples of 4 floats.
    const bool x4 = direct_kernel && pointwise && t.rn % 4 == 0 && hw % t.rn == 0 &&
                    x_stride % 4 == 0 && p.x_first % 4 == 0;
    // Input channels per loop iteration of the CPU kernel: enough products per accumulator
    // to amortise its stack round trip (a 3x3 kernel already gives 9).
    uint32_t cu = kh * kw == 1 ? static_cast<uint32_t>(std::min<int64_t>(cg, 8)) : 1;
    if (caps.cu) cu = caps.cu;
    const bool xr4 = rows_mode && a.pads[1] == 0 && w % 4 == 0 && (t.rn * a.strides[1]) % 4 == 0 &&
                     x_stride % 4 == 0 && p.x_first % 4 == 0;
    const bool y4 = t.rn % 4 == 0 && (x4 || (rows_mode && ow % 4 == 0)) && y_stride % 4 == 0 &&
                    p.y_first % 4 == 0 &&
                    (!residual || (r_stride % 4 == 0 && p.residual_first % 4 == 0));
    ConvSpec spec{t.workgroup(),
                  t.tm,
                  t.tn,
                  t.tk,
                  t.rm,
                  t.rn,
                  p.clamp,
                  u32(kh),
                  u32(kw),
                  u32(a.strides[0]),
                  u32(a.strides[1]),
                  u32(a.dilations[0]),
                  u32(a.dilations[1]),
                  pointwise,
                  residual};
    DirectConvSpec direct{spec, x4,  cu,       std::max<uint32_t>(caps.subgroup_size, 1),
                          y4,   xr4, rows_mode};
    // The CPU kernel reads X, W, bias and the residual through texel buffers: W always as
    // RGBA, X and the residual when x4/xr4 and y4.
    ConvKernelUse use{t.shader,
                      is_direct ? spec_words(direct) : spec_words(TiledConvSpec{spec, split}), 5,
                      sizeof(ConvPush)};
    use.texel_mask = direct_kernel ? 0b10111u : 0u;
    use.rgba_mask = direct_kernel ? (x4 || xr4 ? 0b11u : 0b10u) | (y4 ? 0b10000u : 0u) : 0u;
    const uint32_t kernel = static_cast<uint32_t>(plan.kernels.size());
    plan.kernels.push_back(std::move(use));
    if (plan.name.empty()) plan.name = !is_direct ? "tiled" : rows_mode ? "direct rows" : "direct";
    uint32_t reduce_kernel = 0;
    if (split > 1) {
        plan.name = "tiled split-K " + std::to_string(split);
        reduce_kernel = static_cast<uint32_t>(plan.kernels.size());
        plan.kernels.push_back({"conv2d_splitk", spec_words(ConvSplitKSpec{p.clamp, residual}), 4,
                                sizeof(ConvSplitKPush)});
    }

    const uint64_t max_bytes = caps.max_binding_bytes;
    auto bind = [&](ConvOperand operand, uint64_t tensor_first, uint64_t first, uint64_t count,
                    uint32_t& element_offset, uint64_t min_align) {
        BindingRange r =
            binding_range(tensor_first, first, count, std::max(caps.offset_alignment, min_align),
                          max_bytes, caps.element_bytes);
        element_offset = r.element_offset;
        return PlannedBinding{operand, r.offset, r.range};
    };
    for (int64_t n0 = 0; n0 < n; n0 += images) {
        int64_t nb = std::min(images, n - n0);
        for (int64_t oc0 = 0; oc0 < oc; oc0 += oc_chunk) {
            int64_t occ = std::min(oc_chunk, oc - oc0);
            PlannedDispatch d;
            d.kernel = kernel;
            ConvPush push{};
            d.bindings.push_back(bind(operands.x, p.x_first, static_cast<uint64_t>(n0) * x_stride,
                                      span(nb, x_stride, p.x_channel + c, hw), push.x_off,
                                      x4 || xr4 ? 16 : 4));
            if (x4) push.x_off /= 4;  // in texels (the start is 16-byte aligned, x_stride % 4 == 0)
            auto [w_first, w_count] = weight_span(oc0, occ);
            d.bindings.push_back(bind(operands.w, 0, w_first, w_count, push.w_off, 16));
            if (push.w_off % 4 != 0)
                throw VulkanError(
                    "internal error: packed conv weights bound at an unaligned offset");
            push.w_off /= 4;  // in vec4s (texels for the CPU kernel)
            if (p.bias)
                d.bindings.push_back(bind(ConvOperand::Bias, 0, static_cast<uint64_t>(oc0),
                                          static_cast<uint64_t>(occ + (p.clamp ? 2 * oc : 0)),
                                          push.b_off, 4));
            else  // unused (has_bias = 0): any valid range
                d.bindings.push_back(bind(operands.w, 0, 0, 1, push.b_off, 4));
            // Output and residual: from channel oc0 (of the window) of image n0.
            d.bindings.push_back(
                bind(operands.y, p.y_first,
                     static_cast<uint64_t>(n0) * y_stride + static_cast<uint64_t>(oc0) * ohw,
                     span(nb, y_stride, p.y_channel + occ, ohw), push.y_off, y4 ? 16 : 4));
            push.r_off = push.y_off;
            d.bindings.push_back(residual ? bind(ConvOperand::Residual, p.residual_first,
                                                 static_cast<uint64_t>(n0) * r_stride +
                                                     static_cast<uint64_t>(oc0) * ohw,
                                                 span(nb, r_stride, p.residual_channel + occ, ohw),
                                                 push.r_off, y4 ? 16 : 4)
                                          : d.bindings.back());
            push.n = u32(nb);
            push.c = u32(c);
            push.h = u32(h);
            push.w = u32(w);
            push.x_image_stride = u32(x_stride);
            push.x_channel = u32(p.x_channel);
            push.oh = u32(oh);
            push.ow = u32(ow);
            push.y_image_stride = u32(y_stride);
            push.y_channel = u32(p.y_channel);
            push.r_image_stride = residual ? u32(r_stride) : push.y_image_stride;
            push.r_channel = residual ? u32(p.residual_channel) : push.y_channel;
            push.cg = u32(cg);
            push.ocg = u32(groups > 1 ? ocg : occ);
            push.group_first = u32(oc0 / ocg);
            push.pad_top = static_cast<int32_t>(a.pads[0]);
            push.pad_left = static_cast<int32_t>(a.pads[1]);
            push.has_bias = p.bias ? 1u : 0u;
            push.act_stride = u32(oc);
            push.relu = conv_act(p) == ConvAct::Relu;
            d.push = push;
            // The CPU kernel gives each invocation RN pixels of one output row when the kernel
            // is wider than 1 (rows padded to whole blocks of RN).
            int64_t slots = rows_mode ? nb * oh * ((ow + t.rn - 1) / t.rn) * t.rn : nb * oh * ow;
            d.groups[0] = u32((slots + t.tn - 1) / t.tn);
            d.groups[1] = u32(((groups > 1 ? ocg : occ) + t.tm - 1) / t.tm);
            d.groups[2] = u32(groups > 1 ? occ / ocg : 1);
            if (split > 1) {
                // The conv writes partial sums to the scratch buffer (the previous slice's
                // reduce must have read them first); the reduce writes y.
                const uint64_t partials = uint64_t{split} * static_cast<uint64_t>(occ * nb) * ohw;
                plan.split_k_elements = std::max(plan.split_k_elements, partials);
                PlannedDispatch r;
                r.kernel = reduce_kernel;
                r.after_previous = true;
                const PlannedBinding scratch{ConvOperand::SplitKPartials, 0, partials * 4};
                r.bindings = {scratch, d.bindings[2], residual ? d.bindings[4] : scratch,
                              d.bindings[3]};
                ConvSplitKPush rp{};
                rp.b_off = push.b_off;
                rp.r_off = residual ? push.r_off : 0;
                rp.y_off = push.y_off;
                rp.splits = split;
                rp.channels = u32(occ);
                rp.n = u32(nb);
                rp.ohw = u32(ohw);
                rp.y_image_stride = push.y_image_stride;
                rp.y_channel = push.y_channel;
                rp.r_image_stride = push.r_image_stride;
                rp.r_channel = push.r_channel;
                rp.has_bias = push.has_bias;
                rp.act_stride = push.act_stride;
                rp.relu = push.relu;
                r.push = rp;
                grid_1d((partials / split + 63) / 64, r.groups);
                d.bindings[3] = d.bindings[4] = scratch;
                push.y_off = push.r_off = 0;
                d.push = push;
                d.groups[2] *= split;
                d.after_previous = !plan.dispatches.empty();
                plan.dispatches.push_back(std::move(d));
                plan.dispatches.push_back(std::move(r));
                continue;
            }
            plan.dispatches.push_back(std::move(d));
        }
    }
    return static_cast<uint32_t>(rows);
}

}  // namespace rmvk::conv_detail
