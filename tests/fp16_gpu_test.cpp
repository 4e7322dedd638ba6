// fp16 storage (RunOptions::precision = Fp16: tensors stored as fp16, arithmetic in fp32) on
// every kernel family against the fp32 CPU twin, with the fp16 tolerance derived in the README
// ("fp16 storage"); the device-feature refusal; and that fp16 really is what ran.
#include <optional>

#include "app/engine/context_impl.hpp"
#include "gpu_test_util.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/error.hpp"
#include "rm/rm_transform.hpp"

using namespace rmvk;
using namespace rmvk::test;

namespace {

// One operator: its inputs, weights and output each rounded once to fp16 (relative error
// <= 2^-11), accumulation in fp32: max|d| <= 2^-9 * max|ref| (README, "fp16 storage").
constexpr double kFp16Tolerance = 1.0 / 512;

RunOptions fp16_options() {
    RunOptions o;
    o.precision = Precision::Fp16;
    return o;
}

// The fp16 GPU output of graph `g` (input "x") against the fp32 CPU executor; `method`, when
// given, is what the first node must have run as ("" for none of Winograd).
double fp16_error(Context& ctx, const rm::Graph& g, const rm::Tensor& x,
                  const std::optional<std::string>& method = std::nullopt) {
    std::map<std::string, rm::Tensor> inputs{{g.inputs.at(0).name, x}};
    auto want = rm::run_cpu(g, inputs);
    GraphRunner runner(ctx, g, x.shape.at(0), fp16_options());
    auto got = runner.run(inputs);
    if (method && method->empty())
        CHECK(got.timings.at(0).method.find("winograd") == std::string::npos);
    else if (method)
        CHECK(got.timings.at(0).method == *method);
    const std::string& out = g.outputs.at(0);
    return max_relative_error(got.outputs.at(out), want.at(out));
}

struct ConvCase {
    const char* name;
    int64_t n, c, h, w, oc, kh, kw, stride, pad, dilation, group;
};

const ConvCase kConvCases[] = {
    {"3x3 pad 1", 1, 8, 9, 11, 16, 3, 3, 1, 1, 1, 1},
    {"3x3 stride 2 odd", 2, 5, 13, 7, 6, 3, 3, 2, 1, 1, 1},
    {"7x7 stride 2 pad 3", 1, 3, 23, 19, 12, 7, 7, 2, 3, 1, 1},
    {"1x1 pointwise", 2, 37, 6, 5, 70, 1, 1, 1, 0, 1, 1},
    {"1x1 pointwise, planes of 4k", 2, 13, 6, 6, 19, 1, 1, 1, 0, 1, 1},
    {"1x1 stride 2", 1, 20, 9, 9, 33, 1, 1, 2, 0, 1, 1},
    {"3x3, rows of 8 pixels", 2, 6, 10, 16, 20, 3, 3, 1, 1, 1, 1},
    {"dilation 2", 1, 4, 12, 12, 5, 3, 3, 1, 2, 2, 1},
    {"groups 3", 2, 9, 8, 7, 12, 3, 3, 1, 1, 1, 3},
    {"depthwise", 1, 10, 7, 7, 10, 3, 3, 2, 1, 1, 10},
    {"deep K, wide OC", 1, 70, 5, 6, 130, 3, 3, 1, 1, 1, 1},
};

// Conv (+ bias) + ReLU; with `residual` (c == oc, same size) Conv + Add(x) + ReLU, which the
// runner fuses into the conv's epilogue.
rm::Graph conv_graph(const ConvCase& k, bool residual) {
    rm::Attrs a;
    a.kernel = {k.kh, k.kw};
    a.strides = {k.stride, k.stride};
    a.pads = {k.pad, k.pad, k.pad, k.pad};
    a.dilations = {k.dilation, k.dilation};
    a.group = k.group;
    const uint32_t seed = static_cast<uint32_t>(k.c * 131 + k.oc * 7 + k.h);
    rm::Graph g =
        single_node_graph(rm::Op::Conv, {k.n, k.c, k.h, k.w}, {"x", "w", "b"},
                          {{"w", random_tensor({k.oc, k.c / k.group, k.kh, k.kw}, seed + 1)},
                           {"b", random_tensor({k.oc}, seed + 2)}},
                          a);
    g.nodes[0].outputs = {"t"};
    if (residual) {
        g.nodes.push_back({"add", rm::Op::Add, {"t", "x"}, {"s"}, {}});
        g.nodes.push_back({"relu", rm::Op::Relu, {"s"}, {"y"}, {}});
    } else {
        g.nodes.push_back({"relu", rm::Op::Relu, {"t"}, {"y"}, {}});
    }
    return g;
}

double conv_fp16_error(GpuEnv& env, const ConvCase& k, bool residual = false,
                       const std::optional<std::string>& method = std::nullopt) {
    rm::Tensor x = random_tensor({k.n, k.c, k.h, k.w}, static_cast<uint32_t>(k.oc + 3));
    return fp16_error(*env.context, conv_graph(k, residual), x, method);
}

// The GPU environment where its device has fp16 storage; null (fp16 checks skipped) otherwise.
std::unique_ptr<GpuEnv> make_fp16_env() {
    auto env = make_gpu_env();
    if (env && !env->context->impl().info.storage_buffer_16bit) {
        MESSAGE("device without storageBuffer16BitAccess: fp16 checks skipped");
        return nullptr;
    }
    return env;
}

}  // namespace

TEST_CASE("fp16 storage: both conv kernels, Winograd, split-K and slices match the fp32 twin") {
    auto env = make_fp16_env();
    if (!env) return;
    auto& impl = env->context->impl();
    double worst = 0;
    auto check = [&](double e) {
        worst = std::max(worst, e);
        CHECK(e <= kFp16Tolerance);
    };
    impl.winograd = 1;
    for (int variant : {1, 2}) {  // shared-memory tiles (GPUs), texel-buffer direct (CPUs)
        impl.conv_variant = variant;
        for (const auto& k : kConvCases) {
            CAPTURE(variant);
            CAPTURE(k.name);
            check(conv_fp16_error(*env, k));
        }
        check(conv_fp16_error(*env, {"residual", 2, 8, 9, 7, 8, 3, 3, 1, 1, 1, 1}, true));
    }
    // Winograd: its transformed input and products are fp16 tensors too, so fp16 storage plans
    // F(2,3) only (F(4,3) scales their rounding up about tenfold), even where F(4,3) is asked.
    impl.winograd = 2;
    for (int m : {0, 2, 4})
        for (int variant : {1, 2}) {
            impl.winograd_m = m;
            impl.conv_variant = variant;
            CAPTURE(m);
            CAPTURE(variant);
            const std::string method = m == 4 ? "" : "winograd F(2,3)";
            check(
                conv_fp16_error(*env, {"wino", 1, 8, 12, 10, 16, 3, 3, 1, 1, 1, 1}, false, method));
            check(conv_fp16_error(*env, {"wino residual", 2, 8, 9, 11, 8, 3, 3, 1, 1, 1, 1}, true,
                                  method));
        }
    impl.winograd = 1;
    impl.winograd_m = 0;
    // Split-K on the tiled kernel: fp32 partial sums, an fp16 output.
    impl.conv_variant = 1;
    impl.compute_units_override = 132;
    for (const auto& k : kConvCases) {
        CAPTURE(k.name);
        check(conv_fp16_error(*env, k));
    }
    check(conv_fp16_error(*env, {"split-K residual", 1, 16, 7, 7, 16, 3, 3, 1, 1, 1, 1}, true));
    // Slices under a small binding limit (element offsets and ranges in 2-byte elements).
    impl.max_binding_override = 4096;
    for (int variant : {1, 2}) {
        impl.conv_variant = variant;
        check(conv_fp16_error(*env, {"split batch", 3, 4, 10, 10, 6, 3, 3, 1, 1, 1, 1}));
        check(conv_fp16_error(*env, {"split oc", 1, 8, 9, 9, 40, 3, 3, 1, 1, 1, 1}));
        check(conv_fp16_error(*env, {"split groups", 1, 8, 8, 8, 16, 3, 3, 1, 1, 1, 4}));
    }
    impl.max_binding_override = 0;
    impl.compute_units_override = 0;
    impl.conv_variant = 0;
    MESSAGE("largest fp16 conv error: " << worst << " of max|ref|");
    // Really fp16: fp32 storage is ~1e-7 here, fp16 rounding shows at ~1e-4.
    CHECK(worst > 1e-5);
    check_validation_clean(*env);
}

TEST_CASE("fp16 storage: pools, element-wise ops, Gemm, MatMul and Softmax match the fp32 twin") {
    auto env = make_fp16_env();
    if (!env) return;
    Context& ctx = *env->context;
    const rm::Shape s{2, 5, 13, 11};
    rm::Tensor x = random_tensor(s, 7);
    rm::Attrs pool;
    pool.kernel = {3, 3};
    pool.strides = {2, 2};
    pool.pads = {1, 1, 1, 1};
    CHECK(fp16_error(ctx, single_node_graph(rm::Op::MaxPool, s, {"x"}, {}, pool), x) <=
          kFp16Tolerance);
    CHECK(fp16_error(ctx, single_node_graph(rm::Op::AveragePool, s, {"x"}, {}, pool), x) <=
          kFp16Tolerance);
    CHECK(fp16_error(ctx, single_node_graph(rm::Op::GlobalAveragePool, s, {"x"}, {}), x) <=
          kFp16Tolerance);
    CHECK(fp16_error(ctx, single_node_graph(rm::Op::Relu, s, {"x"}, {}), x) <= kFp16Tolerance);
    rm::Tensor per_channel = random_tensor({5, 1, 1}, 8);
    CHECK(fp16_error(ctx, single_node_graph(rm::Op::Add, s, {"x", "c"}, {{"c", per_channel}}), x) <=
          kFp16Tolerance);
    CHECK(fp16_error(ctx, single_node_graph(rm::Op::Mul, s, {"c", "x"}, {{"c", per_channel}}), x) <=
          kFp16Tolerance);
    rm::Attrs clip;
    clip.clip_min = -0.25f;
    clip.clip_max = 0.5f;
    CHECK(fp16_error(ctx, single_node_graph(rm::Op::Clip, s, {"x"}, {}, clip), x) <=
          kFp16Tolerance);
    // BatchNormalization on its own (not after a conv): the eltwise kernel's (x - mean) * scale.
    rm::Graph bn = single_node_graph(rm::Op::BatchNormalization, s, {"x", "g", "b", "m", "v"},
                                     {{"g", random_tensor({5}, 9)},
                                      {"b", random_tensor({5}, 10)},
                                      {"m", random_tensor({5}, 11)},
                                      {"v", random_tensor({5}, 12, 0.5f, 2.0f)}});
    CHECK(fp16_error(ctx, bn, x) <= kFp16Tolerance);
    // Gemm with a bias (batch 3, 37 -> 10) and MatMul.
    rm::Attrs gemm;
    gemm.trans_b = true;
    rm::Graph fc = single_node_graph(
        rm::Op::Gemm, {3, 37}, {"x", "w", "b"},
        {{"w", random_tensor({10, 37}, 13)}, {"b", random_tensor({10}, 14)}}, gemm);
    CHECK(fp16_error(ctx, fc, random_tensor({3, 37}, 15)) <= kFp16Tolerance);
    rm::Graph mm =
        single_node_graph(rm::Op::MatMul, {3, 37}, {"x", "w"}, {{"w", random_tensor({37, 9}, 16)}});
    CHECK(fp16_error(ctx, mm, random_tensor({3, 37}, 17)) <= kFp16Tolerance);
    rm::Attrs axis;
    axis.axis = 1;
    CHECK(fp16_error(ctx, single_node_graph(rm::Op::Softmax, {3, 37}, {"x"}, {}, axis),
                     random_tensor({3, 37}, 18, -3.0f, 3.0f)) <= kFp16Tolerance);
    check_validation_clean(*env);
}

TEST_CASE("fp16 storage: whole ResNets against the CPU and residual against plain") {
    auto env = make_fp16_env();
    if (!env) return;
    Context& ctx = *env->context;
    for (const char* arch : {"resnet18", "resnet50"}) {
        CAPTURE(arch);
        rm::Graph residual = small_resnet(arch);
        rm::Graph plain = rm::rm_transform(residual).plain;
        rm::Shape shape = residual.inputs.at(0).shape;
        shape[0] = 2;
        rm::Tensor x = random_tensor(shape, 41, 0.0f, 1.0f);
        std::map<std::string, rm::Tensor> in{{residual.inputs.at(0).name, x}};
        auto want = rm::run_cpu(residual, in).at(residual.outputs.at(0));
        GraphRunner r16(ctx, residual, 2, fp16_options());
        GraphRunner p16(ctx, plain, 2, fp16_options());
        rm::Tensor res = r16.run(in).outputs.at(residual.outputs.at(0));
        rm::Tensor pla = p16.run(in).outputs.at(plain.outputs.at(0));
        const double vs_cpu = max_relative_error(res, want);
        auto c = rm::compare_outputs(res, pla);
        c.relative_tolerance = rm::kFp16MatchTolerance;
        MESSAGE(std::string(arch) << " fp16: vs CPU " << vs_cpu << ", residual vs plain "
                                  << c.relative_error());
        CHECK(vs_cpu <= rm::kFp16MatchTolerance);
        CHECK(c.verdict() == rm::Verdict::match);
        CHECK(vs_cpu > 1e-5);  // fp16 really ran (fp32 is ~1e-6 here)
        // Half the weight memory of fp32.
        GraphRunner r32(ctx, residual, 2);
        CHECK(r16.memory().weight_bytes * 2 == r32.memory().weight_bytes);
    }
    check_validation_clean(*env);
}

TEST_CASE("fp16 storage on a device without storageBuffer16BitAccess is refused in one line") {
    auto env = make_gpu_env();
    if (!env) return;
    auto& impl = env->context->impl();
    const bool had = impl.info.storage_buffer_16bit;
    impl.info.storage_buffer_16bit = false;  // as a device without the feature describes itself
    rm::Graph g = single_node_graph(rm::Op::Relu, {1, 2, 3, 3}, {"x"}, {});
    std::string message;
    try {
        GraphRunner runner(*env->context, g, 1, fp16_options());
    } catch (const rm::Error& e) {
        message = e.what();
    }
    impl.info.storage_buffer_16bit = had;
    CHECK(message.find("storageBuffer16BitAccess") != std::string::npos);
    CHECK(message.find(impl.info.name) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
    // fp32 stays available.
    GraphRunner runner(*env->context, g, 1);
    CHECK(parse_precision("fp16") == Precision::Fp16);
    CHECK(std::string(precision_name(Precision::Fp32)) == "fp32");
    CHECK_THROWS_AS(parse_precision("bf16"), rm::Error);
    check_validation_clean(*env);
}
