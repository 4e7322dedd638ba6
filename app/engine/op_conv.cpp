// Conv planning: tile choice, and slicing over images and output channels so that every
// binding stays within maxStorageBufferRange (a plain Wide-ResNet conv weight is ~340 MB).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "app/engine/kernel_plan.hpp"

namespace rmvk {
namespace {

struct Tile {
    const char* shader;
    uint32_t tm, tn, tk, rm, rn;
    uint32_t workgroup() const { return (tm / rm) * (tn / rn); }
};

// RMVK_CONV_TILE=name:TM:TN:TK:RM:RN overrides the choice (tuning experiments).
bool tile_from_env(Tile& t) {
    const char* env = std::getenv("RMVK_CONV_TILE");
    if (!env) return false;
    t = {"conv2d", 64, 64, 16, 4, 4};
    char name[32] = {0};
    if (std::sscanf(env, "%31[^:]:%u:%u:%u:%u:%u", name, &t.tm, &t.tn, &t.tk, &t.rm, &t.rn) != 6)
        return false;
    t.shader = std::string(name) == "direct" ? "conv2d_direct" : "conv2d";
    return true;
}

bool direct_by_device(const Context::Impl& ctx) {
    // CPU devices (lavapipe) gain nothing from shared memory and pay for every barrier. The
    // direct kernel shuffles weights between subgroup lanes.
    return ctx.conv_variant == 2 ||
           (ctx.conv_variant == 0 && ctx.info.type == "cpu" && ctx.info.subgroup_shuffle);
}

// `row_width`: the output width when the CPU kernel will use its row layout (kernels wider
// than 1 or strided), else 0.
Tile choose_tile(const Context::Impl& ctx, int64_t ocg, int64_t cols, int64_t row_width = 0) {
    if (Tile t; tile_from_env(t)) return t;
    if (direct_by_device(ctx)) {
        // 4 pixels per invocation; small feature maps (7x7) get narrower workgroups so that
        // fewer SIMD lanes idle. Rows of 8k pixels take 8 pixels per invocation: fewer input
        // fetches per pixel and weights shared by twice the products (ResNet-18 ~10 % faster
        // on lavapipe).
        uint32_t tn = cols >= 256 ? 256 : cols >= 64 ? 64 : 32;
        // Widths of 4k from 24 up lose at most 1/7 of the slots to a short last block and still
        // gain (28-wide ResNet layers ~8 %).
        if (row_width > 0 && row_width % 4 == 0 && (row_width % 8 == 0 || row_width >= 24))
            return {"conv2d_direct", 16, 2 * tn, 1, 16, 8};
        return {"conv2d_direct", 16, tn, 1, 16, 4};
    }
    // Narrow layers (few output channels, e.g. the first conv of a tiny net, grouped convs)
    // waste less of a 32-wide tile; everything else uses the 64x64 tile.
    if (ocg <= 32) return {"conv2d", 32, 64, 16, 2, 4};
    return {"conv2d", 64, 64, 16, 4, 4};
}

}  // namespace

uint32_t conv_packed_rows(const Context::Impl& ctx) {
    Tile t;
    if (tile_from_env(t)) return std::string(t.shader) == "conv2d_direct" ? t.rm : 0;
    return direct_by_device(ctx) ? choose_tile(ctx, 1, 1).rm : 0;
}

rm::Tensor pack_conv_weights(const rm::Tensor& w, int64_t groups, uint32_t rows) {
    const int64_t oc = w.shape.at(0), ocg = oc / groups, rm = rows,
                  row_groups = (ocg + rm - 1) / rm;
    const int64_t k = oc ? w.size() / oc : 0;
    rm::Tensor packed(rm::Shape{groups * row_groups * k * rm});
    for (int64_t o = 0; o < oc; ++o) {
        const int64_t g = o / ocg, ol = o % ocg;
        float* dst = packed.ptr() + (g * row_groups + ol / rm) * k * rm + ol % rm;
        const float* src = w.ptr() + o * k;
        for (int64_t j = 0; j < k; ++j) dst[rm * j] = src[j];
    }
    return packed;
}

std::vector<Dispatch> plan_conv(KernelPlanner& planner, const ConvParams& p) {
    const rm::Attrs& a = *p.attrs;
    const auto& xs = p.x.shape;
    const auto& ys = p.y.shape;
    int64_t n = xs[0], h = xs[2], w = xs[3];
    int64_t oh = ys[2], ow = ys[3];
    int64_t c = p.in_channels ? p.in_channels : xs[1];
    int64_t oc = p.out_channels ? p.out_channels : ys[1];
    int64_t groups = a.group, cg = c / groups, kh = a.kernel.at(0), kw = a.kernel.at(1);
    int64_t ocg = oc / groups;
    int64_t k = cg * kh * kw;
    uint64_t limit = planner.max_elements();
    if (p.x_channel + c > xs[1] || p.y_channel + oc > ys[1] ||
        (p.residual && p.residual_channel + oc > p.residual->shape[1]))
        throw VulkanError("internal error: a conv's channel window lies outside its tensor");

    const uint64_t hw = static_cast<uint64_t>(h * w), ohw = static_cast<uint64_t>(oh * ow);
    const uint64_t x_stride = static_cast<uint64_t>(xs[1]) * hw,
                   y_stride = static_cast<uint64_t>(ys[1]) * ohw,
                   r_stride = p.residual ? static_cast<uint64_t>(p.residual->shape[1]) * ohw : 0;
    // Elements a binding covers: `images` images of `stride`, the last up to channel `end`.
    auto span = [](int64_t images, uint64_t stride, int64_t end, uint64_t plane) {
        return static_cast<uint64_t>(images - 1) * stride + static_cast<uint64_t>(end) * plane;
    };
    if (span(1, x_stride, p.x_channel + c, hw) > limit)
        throw VulkanError("conv input of one image (" +
                          std::to_string(span(1, x_stride, p.x_channel + c, hw) * 4) +
                          " bytes) exceeds the device's largest buffer binding");
    // Packed weights: ceil(ocg / rows) groups of `rows` output channels per conv group.
    const int64_t rows = conv_packed_rows(planner.ctx());
    const bool packed = rows > 0;
    const int64_t packed_group = packed ? (ocg + rows - 1) / rows * rows * k : 0;
    auto weight_span = [&](int64_t oc0,
                           int64_t count) -> std::pair<uint64_t, uint64_t> {  // elements
        if (!packed) return {static_cast<uint64_t>(oc0 * k), static_cast<uint64_t>(count * k)};
        if (groups > 1)
            return {static_cast<uint64_t>(oc0 / ocg * packed_group),
                    static_cast<uint64_t>(count / ocg * packed_group)};
        return {static_cast<uint64_t>(oc0 * k),
                static_cast<uint64_t>((count + rows - 1) / rows * rows * k)};  // oc0 % rows == 0
    };
    // Output channels per dispatch: whole groups (whole row groups when packed), weights and
    // output slice within the limit. A slice's output (and residual) binding starts at its
    // first channel within the window; the window's own offset stays in the push constants.
    int64_t oc_chunk = oc;
    auto fits = [&](int64_t chunk) {
        return weight_span(0, chunk).second <= limit &&
               span(1, y_stride, p.y_channel + chunk, ohw) <= limit &&
               (!p.residual || span(1, r_stride, p.residual_channel + chunk, ohw) <= limit);
    };
    while (!fits(oc_chunk)) {
        int64_t half =
            packed ? std::max(rows, (oc_chunk / 2 + rows - 1) / rows * rows) : (oc_chunk + 1) / 2;
        int64_t next = groups > 1 ? std::max<int64_t>(ocg, (oc_chunk / 2) / ocg * ocg)
                                  : std::min(half, oc_chunk);
        if (next == oc_chunk)
            throw VulkanError("conv weights or output of " + std::to_string(oc_chunk) +
                              " output channels exceed the device's largest buffer binding (" +
                              std::to_string(limit * 4) + " bytes)");
        oc_chunk = next;
    }
    // Images per dispatch: all when everything fits, else as many as fit.
    int64_t images = n;
    if (oc_chunk < oc) images = 1;
    while (images > 1 &&
           (span(images, x_stride, p.x_channel + c, hw) > limit ||
            span(images, y_stride, p.y_channel + oc, ohw) > limit ||
            (p.residual && span(images, r_stride, p.residual_channel + oc, ohw) > limit) ||
            (images * oh * ow + 255) / 64 > 65535))
        images = (images + 1) / 2;

    int64_t ocg_dispatch = groups > 1 ? ocg : oc_chunk;  // output channels per group per dispatch
    const bool pointwise = kh == 1 && kw == 1 && a.strides[0] == 1 && a.strides[1] == 1 &&
                           a.pads[0] == 0 && a.pads[1] == 0 && a.pads[2] == 0 && a.pads[3] == 0;
    // The CPU kernel's row layout: RN neighbouring pixels of one output row per invocation.
    const bool rows_mode = packed && !pointwise && (kw > 1 || a.strides[1] > 1);
    Tile t = choose_tile(planner.ctx(), ocg_dispatch, images * oh * ow, rows_mode ? ow : 0);
    // The CPU kernel reads a pointwise conv's input 4 pixels per RGBA texel when planes (and
    // so every image and channel) start at multiples of 4 floats.
    const bool x4 = packed && pointwise && t.rn % 4 == 0 && hw % t.rn == 0 && x_stride % 4 == 0 &&
                    p.x.first % 4 == 0;
    // Input channels per loop iteration of the CPU kernel: enough products per accumulator
    // to amortise its stack round trip (a 3x3 kernel already gives 9).
    uint32_t cu = kh * kw == 1 ? static_cast<uint32_t>(std::min<int64_t>(cg, 8)) : 1;
    if (const char* env = std::getenv("RMVK_CONV_CU"))  // tuning experiments, as RMVK_CONV_TILE
        cu = static_cast<uint32_t>(std::max(1, std::atoi(env)));
    const bool xr4 = rows_mode && a.pads[1] == 0 && w % 4 == 0 && (t.rn * a.strides[1]) % 4 == 0 &&
                     x_stride % 4 == 0 && p.x.first % 4 == 0;
    const bool y4 = t.rn % 4 == 0 && (x4 || (rows_mode && ow % 4 == 0)) && y_stride % 4 == 0 &&
                    p.y.first % 4 == 0 &&
                    (!p.residual || (r_stride % 4 == 0 && p.residual->first % 4 == 0));
    ConvSpec spec{t.workgroup(),
                  t.tm,
                  t.tn,
                  t.tk,
                  t.rm,
                  t.rn,
                  p.relu,
                  u32(kh),
                  u32(kw),
                  u32(a.strides[0]),
                  u32(a.strides[1]),
                  u32(a.dilations[0]),
                  u32(a.dilations[1]),
                  pointwise,
                  p.residual != nullptr};
    DirectConvSpec direct{
        spec, x4, cu, std::max<uint32_t>(planner.ctx().info.subgroup_size, 1), y4, xr4, rows_mode};
    // The CPU kernel reads X, W, bias and the residual through texel buffers: W always as
    // RGBA, X and the residual when x4/xr4 and y4.
    const uint32_t texel = packed ? 0b10111u : 0u;
    const uint32_t rgba = packed ? (x4 || xr4 ? 0b11u : 0b10u) | (y4 ? 0b10000u : 0u) : 0u;
    const bool is_direct = std::string(t.shader) == "conv2d_direct";
    const ComputePipeline& pipe =
        planner.ctx().pipeline(t.shader, 5, sizeof(ConvPush),
                               is_direct ? spec_words(direct) : spec_words(spec), texel, rgba);

    std::vector<Dispatch> out;
    for (int64_t n0 = 0; n0 < n; n0 += images) {
        int64_t nb = std::min(images, n - n0);
        for (int64_t oc0 = 0; oc0 < oc; oc0 += oc_chunk) {
            int64_t occ = std::min(oc_chunk, oc - oc0);
            Dispatch d;
            d.pipeline = &pipe;
            ConvPush push{};
            d.ranges.push_back(planner.bind(p.x, static_cast<uint64_t>(n0) * x_stride,
                                            span(nb, x_stride, p.x_channel + c, hw), push.x_off,
                                            x4 || xr4 ? 16 : 4));
            if (x4) push.x_off /= 4;  // in texels (the start is 16-byte aligned, x_stride % 4 == 0)
            auto [w_first, w_count] = weight_span(oc0, occ);
            d.ranges.push_back(planner.bind(p.w, w_first, w_count, push.w_off, packed ? 16 : 4));
            if (packed) {
                if (push.w_off % 4 != 0)
                    throw VulkanError(
                        "internal error: packed conv weights bound at an unaligned offset");
                push.w_off /= 4;  // in vec4 texels
            }
            if (p.bias)
                d.ranges.push_back(planner.bind(*p.bias, static_cast<uint64_t>(oc0),
                                                static_cast<uint64_t>(occ), push.b_off));
            else
                d.ranges.push_back(planner.bind(p.w, 0, 1, push.b_off));  // unused: has_bias = 0
            // Output and residual: from channel oc0 (of the window) of image n0.
            d.ranges.push_back(planner.bind(
                p.y, static_cast<uint64_t>(n0) * y_stride + static_cast<uint64_t>(oc0) * ohw,
                span(nb, y_stride, p.y_channel + occ, ohw), push.y_off, y4 ? 16 : 4));
            push.r_off = push.y_off;
            d.ranges.push_back(p.residual
                                   ? planner.bind(*p.residual,
                                                  static_cast<uint64_t>(n0) * r_stride +
                                                      static_cast<uint64_t>(oc0) * ohw,
                                                  span(nb, r_stride, p.residual_channel + occ, ohw),
                                                  push.r_off, y4 ? 16 : 4)
                                   : d.ranges.back());
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
            push.r_image_stride = p.residual ? u32(r_stride) : push.y_image_stride;
            push.r_channel = p.residual ? u32(p.residual_channel) : push.y_channel;
            push.cg = u32(cg);
            push.ocg = u32(groups > 1 ? ocg : occ);
            push.group_first = u32(oc0 / ocg);
            push.pad_top = static_cast<int32_t>(a.pads[0]);
            push.pad_left = static_cast<int32_t>(a.pads[1]);
            push.has_bias = p.bias ? 1u : 0u;
            d.push = push;
            // The CPU kernel gives each invocation RN pixels of one output row when the kernel
            // is wider than 1 (rows padded to whole blocks of RN).
            int64_t slots = rows_mode ? nb * oh * ((ow + t.rn - 1) / t.rn) * t.rn : nb * oh * ow;
            d.groups[0] = u32((slots + t.tn - 1) / t.tn);
            d.groups[1] = u32(((groups > 1 ? ocg : occ) + t.tm - 1) / t.tm);
            d.groups[2] = u32(groups > 1 ? occ / ocg : 1);
            out.push_back(std::move(d));
        }
    }
    return out;
}

}  // namespace rmvk
