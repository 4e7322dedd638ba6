// The Winograd conv path (winograd_input, the batched GEMM on either conv kernel,
// winograd_output with bias, residual and ReLU fused) against its CPU twin and the direct
// reference conv, on awkward shapes.
#include "app/engine/context_impl.hpp"
#include "gpu_test_util.hpp"
#include "rm/cpu_ops.hpp"
#include "rm/winograd.hpp"

using namespace rmvk;
using namespace rmvk::test;

namespace {

struct Case {
    const char* name;
    int64_t n, c, h, w, oc;
    std::vector<int64_t> pads;
    bool bias, residual, relu;
};

const Case kCases[] = {
    {"odd sizes", 1, 5, 9, 11, 7, {1, 1, 1, 1}, true, false, false},
    {"batch 2, residual + ReLU", 2, 6, 7, 13, 3, {1, 1, 1, 1}, true, true, true},
    {"rows of 4k (vec4 stores), residual", 2, 9, 8, 12, 10, {1, 1, 1, 1}, true, true, false},
    {"rows of 4k, ReLU, no bias", 1, 4, 16, 16, 6, {1, 1, 1, 1}, false, false, true},
    {"unpadded, batch 2", 2, 3, 10, 9, 5, {0, 0, 0, 0}, true, false, true},
    {"asymmetric padding", 2, 4, 6, 5, 6, {0, 2, 1, 0}, true, true, true},
    {"one tile", 1, 2, 3, 3, 2, {1, 1, 1, 1}, true, false, false},
    {"deep and wide", 1, 70, 6, 7, 130, {1, 1, 1, 1}, true, true, true},
    {"channels of 4k, batch 2, residual", 2, 7, 9, 8, 12, {1, 1, 1, 1}, true, true, true},
    {"channels of 4k, odd sizes", 1, 20, 11, 5, 36, {1, 1, 1, 1}, false, false, false},
    {"many tiles, channels of 4k", 1, 5, 30, 21, 8, {1, 1, 1, 1}, true, true, true},
};

struct Result {
    std::string method;
    double vs_twin = 0, vs_direct = 0;
};

Result run_case(GpuEnv& env, const Case& k, int m) {
    rm::Attrs a;
    a.kernel = {3, 3};
    a.pads = k.pads;
    const int64_t oh = k.h + k.pads[0] + k.pads[2] - 2, ow = k.w + k.pads[1] + k.pads[3] - 2;
    const rm::Shape r_shape{k.n, k.oc, oh, ow};
    std::vector<rm::ValueInfo> extra;
    if (k.residual) extra.push_back({"r", r_shape});
    auto [x, w, b, g, seed] = random_conv({k.n, k.c, k.h, k.w}, k.oc, a, k.bias, extra);
    rm::Tensor r = random_tensor(r_shape, seed + 3);
    // conv -> (+ r) -> (relu) -> y, fused by the runner into the conv's last stage.
    std::string t = "y";
    if (k.residual || k.relu) g.nodes[0].outputs = {t = "conv"};
    if (k.residual) {
        std::string out = k.relu ? "sum" : "y";
        g.nodes.push_back({"add", rm::Op::Add, {t, "r"}, {out}, {}});
        t = out;
    }
    if (k.relu) g.nodes.push_back({"relu", rm::Op::Relu, {t}, {"y"}, {}});

    rm::Tensor twin = rm::cpu::winograd_conv2d(x, w, k.bias ? &b : nullptr, a, m);
    rm::Tensor direct = rm::cpu::conv2d(x, w, k.bias ? &b : nullptr, a);
    if (k.residual) twin = rm::cpu::add(twin, r), direct = rm::cpu::add(direct, r);
    if (k.relu) twin = rm::cpu::relu(twin), direct = rm::cpu::relu(direct);

    std::map<std::string, rm::Tensor> feed{{"x", x}};
    if (k.residual) feed["r"] = r;
    GraphRunner runner(*env.context, g, k.n);
    RunResult res = runner.run(feed);
    const rm::Tensor& got = res.outputs.at("y");
    return {res.timings.at(0).method, max_relative_error(got, twin),
            max_relative_error(got, direct)};
}

}  // namespace

TEST_CASE("Winograd F(2,3) and F(4,3) match the CPU twin and the direct conv on both kernels") {
    auto env = make_gpu_env();
    if (!env) return;
    Context::Impl& ctx = env->context->impl();
    ctx.winograd = 2;  // wherever it applies
    // The GEMM on the shared-memory tiles (tiles across lanes), or on the CPU-device kernel with
    // tiles or (where oc % 4 == 0) output channels across lanes.
    for (auto [variant, orientation] : {std::pair{1, 1}, {2, 1}, {2, 2}}) {
        ctx.conv_variant = variant;
        ctx.winograd_orientation = orientation;
        for (int m : {2, 4}) {
            ctx.winograd_m = m;
            for (const auto& k : kCases) {
                if (orientation == 2 && k.oc % 4 != 0) continue;
                const std::string name = k.name;
                CAPTURE(variant);
                CAPTURE(orientation);
                CAPTURE(m);
                CAPTURE(name);
                Result r = run_case(*env, k, m);
                CHECK(r.method == "winograd F(" + std::to_string(m) + ",3)");
                CHECK(r.vs_twin <= kTolerance);
                CHECK(r.vs_direct <= kTolerance);
            }
        }
    }
    check_validation_clean(*env);
}

TEST_CASE("Winograd is not used where it does not apply or its tensors exceed a binding") {
    auto env = make_gpu_env();
    if (!env) return;
    Context::Impl& ctx = env->context->impl();
    ctx.winograd = 2;
    ctx.conv_variant = 2;
    // 8 KiB bindings (2044 floats): the transformed input of this conv (F(4,3): 36 x 8 x 12,
    // F(2,3): 16 x 8 x 28) does not fit; the direct kernel's bindings do.
    ctx.max_binding_override = 8192;
    Result r = run_case(*env, {"too big", 1, 8, 10, 10, 6, {1, 1, 1, 1}, true, true, true}, 4);
    CHECK(r.method == "direct rows");
    CHECK(r.vs_direct <= kTolerance);
    check_validation_clean(*env);
}
