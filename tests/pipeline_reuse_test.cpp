// A conv with its ReLU fused and the same conv on its own (the app's feature-map runs run every
// node on its own) share their pipelines: lavapipe compiles each pipeline, and compiling is most
// of the time to the first view of a large model with Mesa's shader cache empty.
#include <doctest/doctest.h>

#include "app/engine/context_impl.hpp"
#include "app/engine/conv_plan.hpp"
#include "gpu_test_util.hpp"
#include "rm/cpu_ops.hpp"

using namespace rmvk;
using namespace rmvk::test;

namespace {

DeviceCaps device(const std::string& type, DeviceCaps::Winograd winograd, uint32_t units = 0) {
    DeviceCaps caps;
    caps.type = type;
    caps.winograd = winograd;
    caps.subgroup_shuffle = true;
    caps.subgroup_size = type == "cpu" ? 8 : 32;
    caps.compute_units = units;
    return caps;
}

// The plan of an n x c x h x w -> oc, k x k, stride s conv with a bias, with or without ReLU.
ConvPlan plan(int64_t c, int64_t h, int64_t oc, int64_t k, int64_t s, bool relu,
              const DeviceCaps& caps) {
    rm::Attrs a;  // read while planning only
    a.kernel = {k, k};
    a.strides = {s, s};
    a.pads = {k / 2, k / 2, k / 2, k / 2};
    ConvProblem p;
    p.x = {1, c, h, h};
    p.y = {1, oc, (h + 2 * (k / 2) - k) / s + 1, (h + 2 * (k / 2) - k) / s + 1};
    p.bias = true;
    p.relu = relu;
    p.attrs = &a;
    return plan_conv(p, caps);
}

}  // namespace

TEST_CASE("the planner gives a conv with and without its ReLU the same kernels") {
    using W = DeviceCaps::Winograd;
    struct Case {
        const char* name;
        int64_t c, h, oc, k, s;
        DeviceCaps caps;
    } cases[] = {
        {"direct rows, 3x3", 64, 56, 64, 3, 1, device("cpu", W::Off)},
        {"direct, 1x1 by texels", 256, 28, 64, 1, 1, device("cpu", W::Off)},
        {"direct rows, 7x7 stride 2", 3, 64, 64, 7, 2, device("cpu", W::Off)},
        {"Winograd", 64, 28, 64, 3, 1, device("cpu", W::On)},
        {"tiled", 64, 56, 64, 3, 1, device("discrete", W::Off)},
        {"tiled split-K", 512, 7, 512, 3, 1, device("discrete", W::Off, 132)},
    };
    for (const Case& k : cases) {
        CAPTURE(k.name);
        ConvPlan plain = plan(k.c, k.h, k.oc, k.k, k.s, false, k.caps);
        ConvPlan relu = plan(k.c, k.h, k.oc, k.k, k.s, true, k.caps);
        CHECK(plain.name == relu.name);
        REQUIRE(plain.kernels.size() == relu.kernels.size());
        for (size_t i = 0; i < plain.kernels.size(); ++i) {
            CHECK(plain.kernels[i].shader == relu.kernels[i].shader);
            CHECK(plain.kernels[i].spec == relu.kernels[i].spec);
            CHECK(plain.kernels[i].texel_mask == relu.kernels[i].texel_mask);
            CHECK(plain.kernels[i].rgba_mask == relu.kernels[i].rgba_mask);
        }
    }
}

TEST_CASE("an unfused runner after a fused one makes no conv pipeline of its own") {
    auto env = make_gpu_env();
    if (!env) return;
    for (int winograd : {1, 2}) {  // never, wherever it applies
        CAPTURE(winograd);
        env->context->impl().winograd = winograd;
        rm::Attrs a;
        a.kernel = {3, 3};
        a.pads = {1, 1, 1, 1};
        auto [x, w, b, g, seed] = random_conv({1, 16, 12, 12}, 24, a, true);
        g.nodes[0].outputs = {"t"};
        g.nodes.push_back({"relu", rm::Op::Relu, {"t"}, {"y"}, {}});
        const rm::Tensor want = rm::cpu::relu(rm::cpu::conv2d(x, w, &b, a));

        CHECK(max_relative_error(run_gpu(*env->context, g, {{"x", x}}, 1), want) <= kTolerance);
        const size_t fused = env->context->impl().pipeline_count();
        RunOptions unfused;
        unfused.fuse = false;
        CHECK(max_relative_error(run_gpu(*env->context, g, {{"x", x}}, 1, unfused), want) <=
              kTolerance);
        // The Relu's own eltwise pipeline, the first time; nothing more.
        CHECK(env->context->impl().pipeline_count() <= fused + (winograd == 1 ? 1 : 0));
    }
    check_validation_clean(*env);
}
