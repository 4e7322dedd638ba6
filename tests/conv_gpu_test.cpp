// The conv kernel against rm::cpu::conv2d on awkward shapes, including the sliced path for
// tensors larger than the largest buffer binding.
#include "app/engine/context_impl.hpp"
#include "gpu_test_util.hpp"
#include "rm/cpu_ops.hpp"

using namespace rmvk;
using namespace rmvk::test;

namespace {

struct ConvCase {
    const char* name;
    int64_t n, c, h, w, oc, kh, kw;
    std::vector<int64_t> strides, pads, dilations;
    int64_t group;
    bool bias;
};

// The GPU-vs-CPU error; `dispatches` gets the number of dispatches the conv planned.
double run_conv_case(GpuEnv& env, const ConvCase& k, bool relu = false, int* dispatches = nullptr) {
    rm::Attrs a;
    a.kernel = {k.kh, k.kw};
    a.strides = k.strides;
    a.pads = k.pads;
    a.dilations = k.dilations;
    a.group = k.group;
    auto [x, w, b, g, seed] = random_conv({k.n, k.c, k.h, k.w}, k.oc, a, k.bias);
    if (relu) {
        g.nodes[0].outputs = {"t"};
        g.nodes.push_back({"relu", rm::Op::Relu, {"t"}, {"y"}, {}});
    }
    rm::Tensor want = rm::cpu::conv2d(x, w, k.bias ? &b : nullptr, a);
    if (relu) want = rm::cpu::relu(want);
    RunResult res = run_gpu_result(*env.context, g, {{"x", x}}, k.n);
    if (dispatches) *dispatches = res.timings.at(0).dispatches;
    return max_relative_error(res.outputs.at("y"), want);
}

// The GPU env these tests run on: convs on the spatial kernels (winograd_gpu_test has the
// rest), and with `tiled` on the tiled GPU kernel, forced on lavapipe too. nullptr: no device.
std::unique_ptr<GpuEnv> spatial_env(bool tiled = false) {
    auto env = make_gpu_env();
    if (!env) return nullptr;
    env->context->impl().winograd = 1;
    if (tiled) env->context->impl().conv_variant = 1;
    return env;
}

const ConvCase kCases[] = {
    {"3x3 pad 1", 1, 8, 9, 11, 16, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true},
    {"3x3 stride 2 odd", 2, 5, 13, 7, 6, 3, 3, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1, true},
    {"7x7 stride 2 pad 3", 1, 3, 23, 19, 12, 7, 7, {2, 2}, {3, 3, 3, 3}, {1, 1}, 1, true},
    {"1x1 pointwise", 2, 37, 6, 5, 70, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, false},
    {"1x1 planes of 4k floats", 2, 13, 6, 6, 19, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, true},
    {"1x1 grouped, planes of 4k", 2, 12, 8, 4, 10, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, 2, true},
    {"1x1 stride 2, rows of 4k floats",
     2,
     11,
     7,
     12,
     18,
     1,
     1,
     {2, 2},
     {0, 0, 0, 0},
     {1, 1},
     1,
     true},
    {"3x3 stride 2 unpadded, rows of 4k",
     1,
     5,
     9,
     16,
     7,
     3,
     3,
     {2, 2},
     {0, 0, 0, 0},
     {1, 1},
     1,
     true},
    {"3x3, rows of 8 pixels", 2, 6, 10, 16, 20, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true},
    {"3x3, rows of 28: a short last block of 8",
     2,
     3,
     5,
     28,
     6,
     3,
     3,
     {1, 1},
     {1, 1, 1, 1},
     {1, 1},
     1,
     true},
    {"1x1 stride 2, rows of 8 pixels", 1, 5, 6, 32, 9, 1, 1, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1, true},
    {"1x1 stride 2", 1, 20, 9, 9, 33, 1, 1, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1, true},
    {"asymmetric pads", 1, 6, 10, 9, 7, 3, 2, {1, 2}, {0, 1, 2, 0}, {1, 1}, 1, true},
    {"dilation 2", 1, 4, 12, 12, 5, 3, 3, {1, 1}, {2, 2, 2, 2}, {2, 2}, 1, true},
    {"groups 3", 2, 9, 8, 7, 12, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 3, true},
    {"depthwise", 1, 10, 7, 7, 10, 3, 3, {2, 2}, {1, 1, 1, 1}, {1, 1}, 10, true},
    {"deep K, wide OC", 1, 70, 5, 6, 130, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true},
};

}  // namespace

TEST_CASE("conv kernel matches the CPU reference on awkward shapes") {
    auto env = spatial_env();
    if (!env) return;
    for (const auto& k : kCases) {
        CAPTURE(k.name);
        CHECK(run_conv_case(*env, k) <= kTolerance);
    }
    CHECK(run_conv_case(*env, kCases[0], true) <= kTolerance);  // fused ReLU
    check_validation_clean(*env);
}

TEST_CASE(
    "both conv kernels (shared-memory tiles for GPUs, texel-buffer direct for CPUs) are exact") {
    auto env = spatial_env();
    if (!env) return;
    for (int variant : {1, 2}) {
        env->context->impl().conv_variant = variant;
        for (const auto& k : kCases) {
            CAPTURE(variant);
            CAPTURE(k.name);
            CHECK(run_conv_case(*env, k, variant == 1) <= kTolerance);
        }
    }
    check_validation_clean(*env);
}

TEST_CASE("split-K: the tiled kernel with K split over workgroups matches the CPU reference") {
    auto env = spatial_env(true);
    if (!env) return;
    auto& impl = env->context->impl();
    // 132 compute units: these small layers give a few workgroups, so K splits up to 32 ways
    // (where K allows two 16-deep steps per slice); the reduce adds bias and ReLU.
    impl.compute_units_override = 132;
    for (const auto& k : kCases) {
        CAPTURE(k.name);
        CHECK(run_conv_case(*env, k, true) <= kTolerance);
        CHECK(run_conv_case(*env, k, false) <= kTolerance);
    }
    // Sliced over images and output channels under a small binding limit, each slice split.
    impl.max_binding_override = 8192;
    CHECK(
        run_conv_case(
            *env, {"split batch", 3, 8, 10, 10, 6, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true}) <=
        kTolerance);
    CHECK(run_conv_case(
              *env, {"split oc", 1, 8, 9, 9, 40, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true}) <=
          kTolerance);
    CHECK(
        run_conv_case(
            *env, {"split groups", 1, 16, 8, 8, 16, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 2, true}) <=
        kTolerance);
    impl.max_binding_override = 0;
    // A forced split on a deep layer.
    impl.compute_units_override = 0;
    setenv("RMVK_CONV_TILE", "tiled:32:32:16:2:2:5", 1);
    CHECK(run_conv_case(*env, kCases[16], true) <= kTolerance);  // deep K, wide OC
    unsetenv("RMVK_CONV_TILE");
    impl.conv_variant = 0;
    check_validation_clean(*env);
}

TEST_CASE("the tiled kernel on every planner tile and on odd overrides matches the CPU reference") {
    auto env = spatial_env(true);
    if (!env) return;
    auto& impl = env->context->impl();
    // The planner's four tiles (vec4 shared reads of 8 x 4 or 4 x 4 outputs), the old 256-wide
    // ones (scalar shared reads), two vec4 groups per invocation (RN = 8), a depth of 12 that
    // neither the im2col loader's rows (8) nor the weight loader's items divide, TM = 48.
    for (const char* tile :
         {"tiled:64:64:16:8:4", "tiled:32:64:16:4:4", "tiled:64:32:16:4:4", "tiled:32:32:16:4:4",
          "tiled:64:64:16:4:4", "tiled:32:32:16:2:2", "tiled:64:32:16:4:2", "tiled:64:64:16:8:8",
          "tiled:32:32:12:2:2", "tiled:48:32:16:4:4", "tiled:32:32:8:4:4:3"}) {
        setenv("RMVK_CONV_TILE", tile, 1);
        for (const auto& k : kCases) {
            CAPTURE(tile);
            CAPTURE(k.name);
            CHECK(run_conv_case(*env, k, true) <= kTolerance);
        }
    }
    unsetenv("RMVK_CONV_TILE");
    impl.conv_variant = 0;
    check_validation_clean(*env);
}

TEST_CASE("conv splits tensors larger than the largest binding into slices") {
    auto env = spatial_env();
    if (!env) return;
    // Each case must be right and must really have been split: more than one dispatch.
    auto check_split = [&](const ConvCase& k) {
        CAPTURE(k.name);
        int dispatches = 0;
        CHECK(run_conv_case(*env, k, false, &dispatches) <= kTolerance);
        CHECK(dispatches > 1);
    };
    // 4 KiB bindings: the weights, input planes and outputs below all need several slices,
    // over output channels and over images.
    env->context->impl().max_binding_override = 4096;
    check_split({"split batch", 3, 4, 10, 10, 6, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true});
    check_split({"split groups", 1, 8, 8, 8, 16, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 4, true});
    check_split(
        {"split batch, rows of 8", 3, 2, 8, 16, 4, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true});
    // 8 KiB: the CPU kernel splits output channels in whole packed groups of 16.
    env->context->impl().max_binding_override = 8192;
    check_split({"split oc", 1, 8, 9, 9, 40, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true});
    check_split({"split pointwise", 3, 6, 8, 10, 14, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, true});
    // The tiled kernel (forced on lavapipe), 4 KiB bindings: output-channel slices in whole
    // rows of 4 packed channels, groups and images.
    env->context->impl().conv_variant = 1;
    env->context->impl().max_binding_override = 4096;
    check_split({"tiled split oc", 1, 8, 9, 9, 22, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true});
    check_split(
        {"tiled split pointwise", 3, 6, 8, 10, 14, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, true});
    check_split(
        {"tiled split batch", 3, 4, 10, 10, 6, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true});
    check_split(
        {"tiled split groups", 1, 9, 8, 8, 18, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 3, true});
    env->context->impl().max_binding_override = 0;
    env->context->impl().conv_variant = 0;
    check_validation_clean(*env);
}

TEST_CASE("a device name that matches nothing is a VulkanError naming the devices") {
    auto env = make_gpu_env();
    if (!env) return;
    ContextOptions o;
    o.device = "no-such-gpu-xyz";
    try {
        Context c(o);
        FAIL("expected VulkanError");
    } catch (const VulkanError& e) {
        std::string msg = e.what();
        CHECK(msg.find("no Vulkan device matches 'no-such-gpu-xyz'") != std::string::npos);
        CHECK(msg.find(env->context->device().name) != std::string::npos);
    }
    CHECK_THROWS_AS(choose_device({}, ""), VulkanError);
}
