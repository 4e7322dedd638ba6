// Conv planning: which kernel a conv runs on (depthwise, direct, tiled or Winograd, chosen by
// device and by a cost model), its tile, the tuning overrides, and the weights in the layout
// the chosen kernel reads. The dispatches themselves: conv_plan_spatial.cpp (direct, tiled),
// conv_plan_winograd.cpp, conv_plan_depthwise.cpp.
#include "app/engine/conv_plan.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>

#include "app/engine/conv_plan_internal.hpp"
#include "app/vulkan/vulkan_error.hpp"
#include "rm/winograd.hpp"

namespace rmvk {

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