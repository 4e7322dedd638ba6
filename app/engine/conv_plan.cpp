// Conv planning: kernel and tile choice, and slicing over images and output channels so that
// every binding stays within maxStorageBufferRange (a plain Wide-ResNet conv weight is ~340 MB).
#include "app/engine/conv_plan.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>

#include "app/engine/conv_plan_internal.hpp"
#include "app/vulkan/vulkan_error.hpp"
#include "rm/winograd.hpp"

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

namespace {

std::vector<std::string> split_fields(const std::string& s, char sep) {
    std::vector<std::string> out(1);
    for (char ch : s) {
        if (ch == sep)
            out.emplace_back();
        else
            out.back() += ch;
    }
    return out;
}

// A positive decimal integer, or nullopt.
std::optional<uint32_t> positive(const std::string& s) {
    uint32_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v == 0) return std::nullopt;
    return v;
}

}  // namespace

conv_detail::Tile parse_tile_override(const DeviceCaps& caps) {
    using conv_detail::kMaxSplitK;
    using conv_detail::Tile;
    const std::string what = "RMVK_CONV_TILE=" + caps.tile + ": ";
    auto refuse = [&](const std::string& why) { throw VulkanError(what + why); };
    const std::vector<std::string> f = split_fields(caps.tile, ':');
    if (f.size() != 6 && f.size() != 7)
        refuse(
            "expected name:TM:TN:TK:RM:RN[:SPLIT] (name tiled or direct, e.g. tiled:64:64:16:4:4, "
            "SPLIT a split-K factor for tiled)");
    Tile t{"conv2d", 0, 0, 0, 0, 0};
    if (f[0] == "direct" || f[0] == "conv2d_direct")
        t.shader = "conv2d_direct";
    else if (f[0] != "tiled" && f[0] != "conv2d")
        refuse("unknown kernel '" + f[0] + "' (tiled or direct)");
    uint32_t* values[] = {&t.tm, &t.tn, &t.tk, &t.rm, &t.rn};
    for (size_t i = 0; i < 5; ++i) {
        auto v = positive(f[i + 1]);
        if (!v || *v > 4096) refuse("'" + f[i + 1] + "' is not a size from 1 to 4096");
        *values[i] = *v;
    }
    if (f.size() == 7) {
        auto v = positive(f[6]);
        if (!v || *v > kMaxSplitK)
            refuse("'" + f[6] + "' is not a split-K factor from 1 to " +
                   std::to_string(kMaxSplitK));
        if (std::string(t.shader) != "conv2d") refuse("only the tiled kernel splits K");
        t.split = *v;
    }
    if (t.tm % t.rm != 0 || t.tn % t.rn != 0) refuse("RM must divide TM and RN must divide TN");
    if (t.rm * t.rn > 128)
        refuse("RM x RN = " + std::to_string(t.rm * t.rn) +
               " accumulators per invocation (at most 128)");
    const uint32_t wg = t.workgroup();
    if (wg > caps.max_workgroup_invocations)
        refuse("a workgroup of " + std::to_string(wg) + " invocations exceeds the device's " +
               std::to_string(caps.max_workgroup_invocations));
    if (std::string(t.shader) == "conv2d") {
        // The im2col loader gives each invocation one column of the TN-wide tile and steps
        // through the TK rows by WG / TN: fewer invocations than TN would never advance.
        if (wg < t.tn || wg % t.tn != 0)
            refuse("the tiled kernel needs (TM/RM) x (TN/RN) = " + std::to_string(wg) +
                   " invocations to be a multiple of TN = " + std::to_string(t.tn));
        // Its weights arrive as vec4s of 4 output channels (pack_conv_weights, 4 rows).
        if (t.tm % 4 != 0) refuse("the tiled kernel needs TM to be a multiple of 4");
        const uint64_t shared = conv_detail::tiled_shared_bytes(t);
        if (shared > caps.max_shared_memory)
            refuse("its tiles need " + std::to_string(shared) +
                   " bytes of shared memory, the device has " +
                   std::to_string(caps.max_shared_memory));
    } else {
        if (!caps.subgroup_shuffle) refuse("the direct kernel needs subgroup shuffles");
        if (t.tm != t.rm || t.rm % 4 != 0 || t.tk != 1)
            refuse("the direct kernel needs TM = RM, a multiple of 4, and TK = 1");
        if (wg % std::max<uint32_t>(caps.subgroup_size, 1) != 0)
            refuse("the direct kernel needs TN/RN = " + std::to_string(wg) +
                   " invocations to be a multiple of the subgroup size " +
                   std::to_string(caps.subgroup_size));
    }
    return t;
}

void apply_tuning_overrides(DeviceCaps& caps, const char* winograd, const char* tile,
                            const char* cu) {
    // RMVK_WINOGRAD (benchmarks): 0 off, 1 on wherever it applies, 2 or 4 only F(2,3) /
    // F(4,3); unset or empty: chosen per layer. The API's choice (Context::Impl) wins.
    using W = DeviceCaps::Winograd;
    if (winograd && *winograd) {
        const std::string v = winograd;
        if (v != "0" && v != "1" && v != "2" && v != "4")
            throw VulkanError("RMVK_WINOGRAD=" + v +
                              ": expected 0 (off), 1 (wherever it applies), 2 or 4 (only F(2,3) "
                              "or F(4,3))");
        if (caps.winograd == W::Auto) {
            caps.winograd = v == "0" ? W::Off : W::On;
            if (v == "2" || v == "4") caps.winograd_m = static_cast<uint32_t>(v[0] - '0');
        }
    }
    if (tile && *tile) {
        caps.tile = tile;
        parse_tile_override(caps);  // refused here, before anything runs
    }
    if (cu && *cu) {
        auto v = positive(cu);
        if (!v || *v > 16)
            throw VulkanError(std::string("RMVK_CONV_CU=") + cu +
                              ": expected input channels per iteration from 1 to 16");
        caps.cu = *v;
    }
}

namespace conv_detail {

// RMVK_CONV_TILE=name:TM:TN:TK:RM:RN overrides the choice (tuning experiments).
bool tile_override(const DeviceCaps& caps, Tile& t) {
    if (caps.tile.empty()) return false;
    t = parse_tile_override(caps);
    return true;
}

bool direct_by_device(const DeviceCaps& caps) {
    // CPU devices (lavapipe) gain nothing from shared memory and pay for every barrier. The
    // direct kernel shuffles weights between subgroup lanes.
    using K = DeviceCaps::ConvKernel;
    return caps.conv_kernel == K::Direct ||
           (caps.conv_kernel == K::Auto && caps.type == "cpu" && caps.subgroup_shuffle);
}

Tile choose_gpu_tile(const DeviceCaps& caps, int64_t ocg, int64_t cols, int64_t k,
                     int64_t conv_groups) {
    // 256 invocations each, largest (most reuse per load) first. Not measured on a GPU yet:
    // the rule only makes sure small layers fill the device.
    // 8 x 4 or 4 x 4 outputs per invocation, read from shared memory as vec4s: 128 invocations
    // (64 for 32 x 32).
    static constexpr Tile kTiles[] = {{"conv2d", 64, 64, 16, 8, 4},
                                      {"conv2d", 32, 64, 16, 4, 4},
                                      {"conv2d", 64, 32, 16, 4, 4},
                                      {"conv2d", 32, 32, 16, 4, 4}};
    const uint64_t target =
        uint64_t{kWorkgroupsPerUnit} * std::max<uint32_t>(caps.compute_units, 1);
    auto workgroups = [&](const Tile& t) {
        return static_cast<uint64_t>((ocg + t.tm - 1) / t.tm) *
               static_cast<uint64_t>((cols + t.tn - 1) / t.tn) *
               static_cast<uint64_t>(std::max<int64_t>(conv_groups, 1));
    };
    for (const Tile& t : kTiles) {
        if (ocg <= 32 && t.tm > 32) continue;  // narrow layers: less of the tile is padding
        if (workgroups(t) >= target) return t;
    }
    // Even the smallest tile leaves units idle: split K over more workgroups, each slice at
    // least two TK steps deep so that it still amortises its tile loads.
    Tile t = kTiles[3];
    const uint64_t max_split =
        std::clamp<uint64_t>(static_cast<uint64_t>(k) / (2 * t.tk), 1, kMaxSplitK);
    const uint64_t wg = std::max<uint64_t>(workgroups(t), 1);
    t.split = static_cast<uint32_t>(std::min((target + wg - 1) / wg, max_split));
    return t;
}

Tile choose_tile(const DeviceCaps& caps, int64_t ocg, int64_t cols, int64_t row_width, int64_t k,
                 int64_t conv_groups) {
    if (Tile t; tile_override(caps, t)) return t;
    if (direct_by_device(caps)) {
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
    return choose_gpu_tile(caps, ocg, cols, k, conv_groups);
}

uint64_t tiled_shared_bytes(const Tile& t) {
    // conv2d.comp's As and Bs: two buffers of TK rows, each padded by one vec4.
    const uint64_t row_floats = (t.tm / 4 + 1) * 4 + ((t.tn + 3) / 4 + 1) * 4;
    return 2 * uint64_t{t.tk} * row_floats * 4;
}

uint32_t weight_rows(const DeviceCaps& caps) {
    const uint32_t direct = packed_rows(caps);
    return direct ? direct : kTiledWeightRows;
}

uint32_t packed_rows(const DeviceCaps& caps) {
    Tile t;
    if (tile_override(caps, t)) return std::string(t.shader) == "conv2d_direct" ? t.rm : 0;
    return direct_by_device(caps) ? choose_tile(caps, 1, 1).rm : 0;
}

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
                  static_cast<uint32_t>(conv_act(p)),
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
        plan.kernels.push_back(
            {"conv2d_splitk",
             spec_words(ConvSplitKSpec{static_cast<uint32_t>(conv_act(p)), residual}), 4,
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

}  // namespace conv_detail

namespace conv_detail {

// Estimated nanoseconds per unit of work on lavapipe (2 threads, AVX2), fitted to per-stage
// timings of ResNet layer shapes and of narrow layers (tests/bench/winograd_layers.sh): a
// multiply-add slot (useful or padding: rows rounded to 16 per invocation, columns to whole
// workgroups) of the direct 3x3 kernel and of the Winograd GEMM, an element a spatial kernel
// stores (lavapipe stores lane by lane), an element of the transformed input (written by its
// transform, read by the GEMM) and of the products (read by the output transform), and each
// dispatch (the barrier before it and handing out its workgroups: ~40 us, which decides the
// smallest layers).
constexpr double kDirectSlotNs = 0.10, kGemmSlotNs = 0.12, kStoreNs = 2.5, kInputNs = 2.5,
                 kProductNs = 1.6, kDispatchNs = 40e3;

double estimated_ns(const ConvPlan& plan) {
    double ns = kInputNs * static_cast<double>(plan.winograd_input_elements) +
                kProductNs * static_cast<double>(plan.winograd_product_elements) +
                kDispatchNs * static_cast<double>(plan.dispatches.size());
    for (const auto& d : plan.dispatches) {
        const ConvKernelUse& k = plan.kernels.at(d.kernel);
        if (k.shader != "conv2d_direct" && k.shader != "conv2d") continue;
        ConvSpec spec;  // the first member of DirectConvSpec too
        std::memcpy(&spec, k.spec.data(), sizeof spec);
        const ConvPush push = d.push.as<ConvPush>();
        const double slots = static_cast<double>(d.groups[0]) * spec.tn * d.groups[1] * spec.tm *
                             d.groups[2] * push.cg * spec.kh * spec.kw;
        const double stores =
            static_cast<double>(push.n) * push.ocg * d.groups[2] * push.oh * push.ow;
        ns += (plan.winograd_input_elements ? kGemmSlotNs : kDirectSlotNs) * slots +
              kStoreNs * stores;
    }
    return ns;
}

}  // namespace conv_detail

// Winograd where it applies and, unless forced, where the cost model says it is faster: so far
// the model is fitted to the CPU-device kernel only, so other devices keep the spatial kernels.
ConvPlan plan_conv(const ConvProblem& problem, const DeviceCaps& caps) {
    using namespace conv_detail;
    ConvPlan plan;
    if (problem.clamp && !problem.bias)
        throw VulkanError("internal error: a conv's clamp bounds travel in its bias buffer");
    if (plan_depthwise(problem, caps, plan)) return plan;
    plan.weights.packed_rows = plan_spatial(problem, caps, plan, {}, nullptr);
    const bool forced = caps.winograd == DeviceCaps::Winograd::On;
    if (!forced && !direct_by_device(caps)) return plan;
    double best = forced ? INFINITY : estimated_ns(plan);
    for (const WinogradOption& o : winograd_options(problem, caps)) {
        ConvPlan w;
        plan_winograd(problem, caps, o.m, o.transposed, w);
        if (double ns = estimated_ns(w); ns < best) {
            best = ns;
            plan = std::move(w);
        }
    }
    return plan;
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

rm::Tensor conv_device_weights(const rm::Tensor& w, int64_t groups,
                               const ConvWeightLayout& layout) {
    if (layout.winograd_m) {
        // U[xi][oc][c] as the weights [(m+2)^2 * oc, c, 1, 1] of a grouped pointwise conv.
        rm::Tensor u = rm::winograd::transform_weights(w, static_cast<int>(layout.winograd_m));
        const int64_t positions = u.shape[0], oc = u.shape[1], c = u.shape[2];
        if (layout.winograd_transposed) {  // [xi][c][oc]: the GEMM's input, oc across lanes
            rm::Tensor t({positions * c, oc});
            for (int64_t xi = 0; xi < positions; ++xi)
                for (int64_t o = 0; o < oc; ++o)
                    for (int64_t ci = 0; ci < c; ++ci)
                        t.data[(xi * c + ci) * oc + o] = u.data[(xi * oc + o) * c + ci];
            return t;
        }
        u.shape = {positions * oc, c, 1, 1};
        return layout.packed_rows ? pack_conv_weights(u, positions, layout.packed_rows) : u;
    }
    return layout.packed_rows ? pack_conv_weights(w, groups, layout.packed_rows) : w;
}

}  // namespace rmvk
