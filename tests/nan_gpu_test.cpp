// NaN and ±Inf through every GPU kernel against its CPU twin: a NaN stays NaN where the twin has
// one (ReLU, max-pool and softmax's max keep it, as in PyTorch and ONNX Runtime), ±Inf stays
// where the twin has it, and the finite values still agree within the tolerance.
#include <limits>

#include "app/engine/context_impl.hpp"
#include "gpu_test_util.hpp"
#include "rm/cpu_ops.hpp"

using namespace rmvk;
using namespace rmvk::test;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// NaN at the first, a middle and the last element, ±Inf (when asked) at two more places.
rm::Tensor with_non_finite(rm::Tensor t, bool infs = true) {
    const int64_t n = t.size();
    t.data[0] = kNaN;
    t.data[n / 2] = kNaN;
    t.data[n - 1] = kNaN;
    if (infs) {
        t.data[n / 3] = kInf;
        t.data[2 * n / 3 + 1] = -kInf;
    }
    return t;
}

struct Agreement {
    int64_t nan_expected = 0;
    int64_t nan_lost = 0;     // NaN in the twin, not NaN on the GPU
    int64_t inf_wrong = 0;    // ±Inf in the twin, something else on the GPU
    int64_t extra = 0;        // finite in the twin, not finite on the GPU
    double finite_error = 0;  // max relative error over the positions finite in both
};

Agreement agreement(const rm::Tensor& got, const rm::Tensor& want) {
    REQUIRE(got.shape == want.shape);
    Agreement a;
    double err = 0, scale = 0;
    for (int64_t i = 0; i < want.size(); ++i) {
        const float g = got.data[i], w = want.data[i];
        if (std::isnan(w)) {
            ++a.nan_expected;
            a.nan_lost += !std::isnan(g);
        } else if (std::isinf(w)) {
            a.inf_wrong += g != w;
        } else if (!std::isfinite(g)) {
            ++a.extra;
        } else {
            err = std::max(err, std::fabs(double(g) - w));
            scale = std::max(scale, std::fabs(double(w)));
        }
    }
    a.finite_error = scale > 0 ? err / scale : err;
    return a;
}

// The GPU output has exactly the twin's NaNs and Infs, and its finite values.
void check_agrees(const rm::Tensor& got, const rm::Tensor& want) {
    Agreement a = agreement(got, want);
    CHECK(a.nan_expected > 0);
    CHECK(a.nan_lost == 0);
    CHECK(a.inf_wrong == 0);
    CHECK(a.extra == 0);
    CHECK(a.finite_error <= kTolerance);
}

rm::Graph then_relu(rm::Graph g) {
    g.nodes[0].outputs = {"t"};
    g.nodes.push_back({"relu", rm::Op::Relu, {"t"}, {"y"}, {}});
    return g;
}

void check_elementwise(Context& ctx) {
    rm::Tensor x = with_non_finite(random_tensor({2, 7, 5, 3}, 41));
    rm::Tensor b = random_tensor({2, 7, 5, 3}, 42);
    {
        INFO("Relu");
        rm::Graph g = single_node_graph(rm::Op::Relu, x.shape, {"x"}, {});
        check_agrees(run_gpu(ctx, g, {{"x", x}}, 2), rm::cpu::relu(x));
    }
    rm::Graph add = single_node_graph(rm::Op::Add, x.shape, {"x", "b"}, {}, {}, {{"b", b.shape}});
    {
        INFO("Add");
        check_agrees(run_gpu(ctx, add, {{"x", x}, {"b", b}}, 2), rm::cpu::add(x, b));
    }
    {
        INFO("Add + Relu, fused");
        check_agrees(run_gpu(ctx, then_relu(add), {{"x", x}, {"b", b}}, 2),
                     rm::cpu::add(x, b, true));
    }
    {
        INFO("Mul by a per-channel constant + Relu, fused");
        rm::Tensor c = random_tensor({7, 1, 1}, 43);
        rm::Graph mul = single_node_graph(rm::Op::Mul, x.shape, {"x", "c"}, {{"c", c}});
        check_agrees(run_gpu(ctx, then_relu(mul), {{"x", x}}, 2), rm::cpu::mul(x, c, true));
    }
    {
        INFO("BatchNormalization + Relu");
        rm::Tensor s = random_tensor({7}, 44, 0.5f, 1.5f), sh = random_tensor({7}, 45);
        rm::Tensor m = random_tensor({7}, 46), v = random_tensor({7}, 47, 0.2f, 2.0f);
        rm::Attrs a;
        a.epsilon = 1e-3f;
        rm::Graph bn =
            single_node_graph(rm::Op::BatchNormalization, x.shape, {"x", "s", "sh", "m", "v"},
                              {{"s", s}, {"sh", sh}, {"m", m}, {"v", v}}, a);
        check_agrees(run_gpu(ctx, then_relu(bn), {{"x", x}}, 2),
                     rm::cpu::relu(rm::cpu::batchnorm(x, s, sh, m, v, 1e-3f)));
    }
}

void check_pools(Context& ctx) {
    rm::Tensor x = with_non_finite(random_tensor({2, 5, 13, 11}, 51));
    for (bool ceil : {false, true}) {
        CAPTURE(ceil);
        rm::Attrs a;
        a.kernel = {3, 3};
        a.strides = {2, 2};
        a.pads = {1, 1, 1, 1};
        a.ceil_mode = ceil;
        rm::Graph mp = single_node_graph(rm::Op::MaxPool, x.shape, {"x"}, {}, a);
        INFO("MaxPool");
        check_agrees(run_gpu(ctx, mp, {{"x", x}}, 2), rm::cpu::max_pool(x, a));
        rm::Graph ap = single_node_graph(rm::Op::AveragePool, x.shape, {"x"}, {}, a);
        INFO("AveragePool");
        check_agrees(run_gpu(ctx, ap, {{"x", x}}, 2), rm::cpu::average_pool(x, a));
    }
    rm::Graph gap = single_node_graph(rm::Op::GlobalAveragePool, x.shape, {"x"}, {});
    INFO("GlobalAveragePool");
    check_agrees(run_gpu(ctx, gap, {{"x", x}}, 2), rm::cpu::global_average_pool(x));
}

void check_dense(Context& ctx) {
    {
        INFO("Gemm");
        rm::Tensor x = with_non_finite(random_tensor({3, 37}, 61), false);
        rm::Tensor w = random_tensor({10, 37}, 62), bias = random_tensor({10}, 63);
        rm::Attrs a;
        a.trans_b = true;
        rm::Graph fc =
            single_node_graph(rm::Op::Gemm, x.shape, {"x", "w", "b"}, {{"w", w}, {"b", bias}}, a);
        check_agrees(run_gpu(ctx, fc, {{"x", x}}, 3), rm::cpu::gemm(x, w, &bias, a));
    }
    {
        INFO("Softmax");
        rm::Tensor s = random_tensor({2, 5, 3}, 64, -4.0f, 4.0f);
        s.data[4] = kNaN;
        rm::Attrs a;
        a.axis = 1;
        rm::Graph sm = single_node_graph(rm::Op::Softmax, s.shape, {"x"}, {}, a);
        check_agrees(run_gpu(ctx, sm, {{"x", s}}, 2), rm::cpu::softmax(s, 1));
    }
}

// conv (+ bias) (+ residual) + Relu, fused into the conv's epilogue.
struct ConvNet {
    rm::Graph graph;
    rm::Tensor x, r, want;
};

ConvNet conv_net(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc, int64_t k, bool infs) {
    ConvNet net;
    rm::Attrs a;
    a.kernel = {k, k};
    a.pads = {k / 2, k / 2, k / 2, k / 2};
    net.x = with_non_finite(random_tensor({n, c, h, w}, 71), infs);
    rm::Tensor wt = random_tensor({oc, c, k, k}, 72), b = random_tensor({oc}, 73);
    net.r = random_tensor({n, oc, h, w}, 74);
    net.graph = single_node_graph(rm::Op::Conv, net.x.shape, {"x", "w", "b"}, {{"w", wt}, {"b", b}},
                                  a, {{"r", net.r.shape}});
    net.graph.nodes[0].outputs = {"conv"};
    net.graph.nodes.push_back({"add", rm::Op::Add, {"conv", "r"}, {"sum"}, {}});
    net.graph.nodes.push_back({"relu", rm::Op::Relu, {"sum"}, {"y"}, {}});
    net.want = rm::cpu::relu(rm::cpu::add(rm::cpu::conv2d(net.x, wt, &b, a), net.r));
    return net;
}

}  // namespace

TEST_CASE("element-wise ops, pools, Gemm and Softmax keep NaN and Inf as the CPU twin does") {
    auto env = make_gpu_env();
    if (!env) return;
    check_elementwise(*env->context);
    check_pools(*env->context);
    check_dense(*env->context);
    check_validation_clean(*env);
}

TEST_CASE(
    "conv + residual + ReLU keeps NaN and Inf on both direct kernels, scalar and vec4 "
    "stores") {
    auto env = make_gpu_env();
    if (!env) return;
    Context::Impl& ctx = env->context->impl();
    ctx.winograd = 1;  // never: the direct kernels' epilogues
    for (int variant : {1, 2}) {
        ctx.conv_variant = variant;
        // Width 16: the vec4 stores; width 11: the scalar ones. 1x1 and 3x3.
        for (auto [w, k] : {std::pair<int64_t, int64_t>{16, 3}, {11, 3}, {16, 1}, {11, 1}}) {
            CAPTURE(variant);
            CAPTURE(w);
            CAPTURE(k);
            ConvNet net = conv_net(2, 6, 8, w, 8, k, true);
            GraphRunner runner(*env->context, net.graph, 2);
            RunResult res = runner.run({{"x", net.x}, {"r", net.r}});
            // Add and Relu run in the conv's epilogue, the code under test.
            REQUIRE(res.timings.size() == 3);
            CHECK(res.timings[1].fused_into == "node");
            CHECK(res.timings[2].fused_into == "node");
            check_agrees(res.outputs.at("y"), net.want);
        }
    }
    check_validation_clean(*env);
}

TEST_CASE("Winograd conv + residual + ReLU keeps every NaN of the direct conv") {
    auto env = make_gpu_env();
    if (!env) return;
    Context::Impl& ctx = env->context->impl();
    ctx.winograd = 2;  // wherever it applies
    for (int variant : {1, 2})
        for (int m : {2, 4})
            for (int64_t w : {16, 11}) {
                ctx.conv_variant = variant;
                ctx.winograd_m = m;
                CAPTURE(variant);
                CAPTURE(m);
                CAPTURE(w);
                // NaN only: a Winograd transform spreads a value over its whole tile, so an Inf
                // meets -Inf there and turns NaN where the direct conv keeps Inf.
                ConvNet net = conv_net(1, 5, 9, w, 8, 3, false);
                GraphRunner runner(*env->context, net.graph, 1);
                RunResult res = runner.run({{"x", net.x}, {"r", net.r}});
                CHECK(res.timings.at(0).method == "winograd F(" + std::to_string(m) + ",3)");
                Agreement a = agreement(res.outputs.at("y"), net.want);
                CHECK(a.nan_expected > 0);
                CHECK(a.nan_lost == 0);
                // The tile spreads NaN further than the direct conv; the rest still agrees.
                CHECK(a.finite_error <= kTolerance);
            }
    check_validation_clean(*env);
}
