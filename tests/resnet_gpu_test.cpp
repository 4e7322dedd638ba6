// Whole built-in ResNets (narrow, small input) on the GPU against the CPU executor, residual
// and plain (after RM), and under a tiny binding limit.
#include "app/engine/context_impl.hpp"
#include "gpu_test_util.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/rm_transform.hpp"

using namespace rmvk;
using namespace rmvk::test;

namespace {

// GPU output vs run_cpu; returns the max relative error.
// The GPU-vs-CPU error; `most_dispatches` gets the largest number of dispatches one node
// planned.
double gpu_vs_cpu(Context& ctx, const rm::Graph& g, int64_t batch = 2,
                  int* most_dispatches = nullptr) {
    rm::Shape shape = g.inputs.at(0).shape;
    shape[0] = batch;
    rm::Tensor x = random_tensor(shape, 41, 0.0f, 1.0f);
    std::map<std::string, rm::Tensor> inputs{{g.inputs.at(0).name, x}};
    auto want = rm::run_cpu(g, inputs);
    GraphRunner runner(ctx, g, batch);
    auto got = runner.run(inputs);
    if (most_dispatches)
        for (const auto& t : got.timings)
            *most_dispatches = std::max(*most_dispatches, t.dispatches);
    const std::string& out = g.outputs.at(0);
    return max_relative_error(got.outputs.at(out), want.at(out));
}

}  // namespace

TEST_CASE("built-in ResNets, residual and plain, match the CPU executor") {
    auto env = make_gpu_env();
    if (!env) return;
    // ResNet-18 (BasicBlocks, batch 2, odd size) and ResNet-50 (Bottlenecks, batch 1).
    for (const char* arch : {"resnet18", "resnet50"}) {
        CAPTURE(arch);
        bool basic = std::string(arch) == "resnet18";
        rm::Graph residual = basic ? small_resnet(arch) : small_resnet(arch, 32, 32);
        CHECK(gpu_vs_cpu(*env->context, residual, basic ? 2 : 1) <= kTolerance);
        rm::Graph plain = rm::rm_transform(residual).plain;
        CHECK(gpu_vs_cpu(*env->context, plain, basic ? 2 : 1) <= kTolerance);
    }
    check_validation_clean(*env);
}

TEST_CASE("built-in ResNets match the CPU executor with Winograd in every 3x3 stride-1 conv") {
    auto env = make_gpu_env();
    if (!env) return;
    env->context->impl().winograd = 2;  // wherever it applies, F(4,3) or F(2,3) as planned
    for (int m : {2, 4}) {
        env->context->impl().winograd_m = m;
        for (const char* arch : {"resnet18", "resnet50"}) {
            CAPTURE(m);
            CAPTURE(arch);
            rm::Graph residual = small_resnet(arch, 32, 28);
            CHECK(gpu_vs_cpu(*env->context, residual, 2) <= kTolerance);
            CHECK(gpu_vs_cpu(*env->context, rm::rm_transform(residual).plain, 1) <= kTolerance);
        }
    }
    const rm::Graph resnet18 = small_resnet("resnet18", 32, 28);
    GraphRunner runner(*env->context, resnet18, 1);
    auto res = runner.run({{"input", random_tensor({1, 3, 32, 28}, 3, 0.0f, 1.0f)}});
    int winograd = 0;
    for (const auto& t : res.timings) winograd += t.method.rfind("winograd", 0) == 0;
    CHECK(winograd == 13);  // every 3x3 conv but the three with stride 2
    env->context->impl().winograd = 0;
    env->context->impl().winograd_m = 0;
    check_validation_clean(*env);
}

TEST_CASE("a runner prepared without Winograd (the app's feature maps) plans none") {
    auto env = make_gpu_env();
    if (!env) return;
    env->context->impl().winograd = 2;  // wherever it applies, unless the runner says no
    const rm::Graph residual = small_resnet("resnet18", 32, 28);
    const rm::Graph plain = rm::rm_transform(residual).plain;
    const rm::Tensor x = random_tensor({1, 3, 32, 28}, 3, 0.0f, 1.0f);
    for (const rm::Graph* g : {&residual, &plain}) {
        CAPTURE(g == &plain);
        RunOptions feature_maps = feature_map_run_options();  // as ui/run_tensors.cpp has them
        feature_maps.stream_weight_bytes = 0;  // every weight at once: the two weights compared
        GraphRunner without(*env->context, *g, 1, feature_maps);
        feature_maps.winograd = true;
        GraphRunner with(*env->context, *g, 1, feature_maps);
        auto a = without.run({{"input", x}});
        auto b = with.run({{"input", x}});
        int winograd_without = 0, winograd_with = 0;
        for (const auto& t : a.timings)
            winograd_without += t.method.find("winograd") != std::string::npos;
        for (const auto& t : b.timings)
            winograd_with += t.method.find("winograd") != std::string::npos;
        CHECK(winograd_without == 0);
        CHECK(winograd_with > 0);
        // Transformed 3x3 weights are larger than the graph's: the feature-map run holds less.
        CHECK(without.memory().weight_bytes < with.memory().weight_bytes);
        const std::string& out = g->outputs.at(0);
        CHECK(max_relative_error(a.outputs.at(out), rm::run_cpu(*g, {{"input", x}}).at(out)) <=
              kTolerance);
    }
    env->context->impl().winograd = 0;
    check_validation_clean(*env);
}

TEST_CASE("residual Adds are fused into the conv that runs last, on both conv kernels") {
    auto env = make_gpu_env();
    if (!env) return;
    rm::Graph g = small_resnet("resnet50", 32, 32);
    for (int variant : {1, 2}) {  // shared-memory tiles (GPUs), texel-buffer direct (CPUs)
        CAPTURE(variant);
        env->context->impl().conv_variant = variant;
        CHECK(gpu_vs_cpu(*env->context, g, 2) <= kTolerance);
        GraphRunner runner(*env->context, g, 1);
        auto res = runner.run({{"input", random_tensor({1, 3, 32, 32}, 3, 0.0f, 1.0f)}});
        int adds = 0;
        for (const auto& t : res.timings) {
            if (t.op != rm::Op::Add) continue;
            ++adds;
            CAPTURE(t.node);
            // Identity shortcuts: into conv3; projection shortcuts: into the downsample conv.
            bool projection = t.fused_into.ends_with(".downsample.0");
            CHECK((t.fused_into.ends_with(".conv3") || projection));
            CHECK(t.device_ms == 0.0);
        }
        CHECK(adds == 16);
    }
    env->context->impl().conv_variant = 0;
    check_validation_clean(*env);
}

TEST_CASE("split-K convs with fused residual Adds and ReLUs match the CPU reference") {
    auto env = make_gpu_env();
    if (!env) return;
    // The GPU kernel on a 132-unit description: every conv of this small net splits K, and
    // the reduce pass applies bias, the block's residual Add and ReLU.
    env->context->impl().conv_variant = 1;
    env->context->impl().compute_units_override = 132;
    CHECK(gpu_vs_cpu(*env->context, small_resnet("resnet50", 32, 32), 1) <= kTolerance);
    CHECK(gpu_vs_cpu(*env->context, small_resnet("resnet18", 32, 32), 2) <= kTolerance);
    env->context->impl().compute_units_override = 0;
    env->context->impl().conv_variant = 0;
    check_validation_clean(*env);
}

TEST_CASE("a plain ResNet runs sliced under a tiny binding limit") {
    auto env = make_gpu_env();
    if (!env) return;
    env->context->impl().max_binding_override =
        128 * 1024;  // the widest plain weights need several slices
    rm::Graph plain = rm::rm_transform(small_resnet("resnet18")).plain;
    int most = 0;
    CHECK(gpu_vs_cpu(*env->context, plain, 2, &most) <= kTolerance);
    CHECK(most > 1);  // the limit really did split something
    check_validation_clean(*env);
}
