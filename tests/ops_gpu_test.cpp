// Every non-conv kernel against its CPU twin in rm::cpu, on odd shapes, batch 2, and with a
// tiny binding limit so the sliced paths run too.
#include "app/engine/context_impl.hpp"
#include "gpu_test_util.hpp"
#include "rm/cpu_ops.hpp"
#include "rm/error.hpp"

using namespace rmvk;
using namespace rmvk::test;

namespace {

rm::Attrs pool_attrs(std::vector<int64_t> kernel, std::vector<int64_t> strides,
                     std::vector<int64_t> pads, bool ceil, bool include_pad = false) {
    rm::Attrs a;
    a.kernel = kernel;
    a.strides = strides;
    a.pads = pads;
    a.ceil_mode = ceil;
    a.count_include_pad = include_pad;
    return a;
}

void check_pools(GpuEnv& env) {
    rm::Tensor x = random_tensor({2, 5, 13, 11}, 7);
    struct Case {
        rm::Attrs a;
        bool average;
    } cases[] = {
        {pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}, false), false},
        {pool_attrs({3, 3}, {2, 2}, {0, 0, 0, 0}, true), false},
        {pool_attrs({2, 3}, {2, 1}, {1, 0, 0, 1}, false), false},
        {pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}, false, true), true},
        {pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}, true, false), true},
        {pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}, true, true), true},
        {pool_attrs({2, 2}, {2, 2}, {0, 0, 0, 0}, true, true), true},
    };
    for (const auto& c : cases) {
        rm::Op op = c.average ? rm::Op::AveragePool : rm::Op::MaxPool;
        rm::Graph g = single_node_graph(op, x.shape, {"x"}, {}, c.a);
        rm::Tensor want = c.average ? rm::cpu::average_pool(x, c.a) : rm::cpu::max_pool(x, c.a);
        CAPTURE(c.average);
        CAPTURE(c.a.ceil_mode);
        CAPTURE(c.a.count_include_pad);
        CHECK(max_relative_error(run_gpu(*env.context, g, {{"x", x}}, 2), want) <= kTolerance);
    }
    rm::Graph gap = single_node_graph(rm::Op::GlobalAveragePool, x.shape, {"x"}, {});
    CHECK(max_relative_error(run_gpu(*env.context, gap, {{"x", x}}, 2),
                             rm::cpu::global_average_pool(x)) <= kTolerance);
}

// Mul by a per-channel constant (either operand order), a scalar, a full tensor, and with a
// fused ReLU.
void check_mul(GpuEnv& env, const rm::Tensor& x, const rm::Tensor& b, const rm::Tensor& bc) {
    rm::Graph per_channel = single_node_graph(rm::Op::Mul, x.shape, {"x", "c"}, {{"c", bc}});
    CHECK(max_relative_error(run_gpu(*env.context, per_channel, {{"x", x}}, 2),
                             rm::cpu::mul(x, bc)) <= kTolerance);
    rm::Graph reversed = single_node_graph(rm::Op::Mul, x.shape, {"c", "x"}, {{"c", bc}});
    CHECK(max_relative_error(run_gpu(*env.context, reversed, {{"x", x}}, 2), rm::cpu::mul(bc, x)) <=
          kTolerance);
    rm::Tensor s({}, std::vector<float>{-1.25f});
    rm::Graph scalar = single_node_graph(rm::Op::Mul, x.shape, {"x", "s"}, {{"s", s}});
    CHECK(max_relative_error(run_gpu(*env.context, scalar, {{"x", x}}, 2), rm::cpu::mul(x, s)) <=
          kTolerance);
    rm::Graph full = single_node_graph(rm::Op::Mul, x.shape, {"x", "b"}, {}, {}, {{"b", b.shape}});
    CHECK(max_relative_error(run_gpu(*env.context, full, {{"x", x}, {"b", b}}, 2),
                             rm::cpu::mul(x, b)) <= kTolerance);
    rm::Graph mul_relu = per_channel;
    mul_relu.nodes[0].outputs = {"t"};
    mul_relu.nodes.push_back({"relu", rm::Op::Relu, {"t"}, {"y"}, {}});
    CHECK(max_relative_error(run_gpu(*env.context, mul_relu, {{"x", x}}, 2),
                             rm::cpu::mul(x, bc, true)) <= kTolerance);
}

void check_elementwise(GpuEnv& env) {
    rm::Tensor x = random_tensor({2, 7, 5, 3}, 11);
    rm::Tensor b = random_tensor({2, 7, 5, 3}, 12);
    rm::Graph relu = single_node_graph(rm::Op::Relu, x.shape, {"x"}, {});
    CHECK(max_relative_error(run_gpu(*env.context, relu, {{"x", x}}, 2), rm::cpu::relu(x)) <=
          kTolerance);

    rm::Graph add = single_node_graph(rm::Op::Add, x.shape, {"x", "b"}, {}, {}, {{"b", b.shape}});
    CHECK(max_relative_error(run_gpu(*env.context, add, {{"x", x}, {"b", b}}, 2),
                             rm::cpu::add(x, b)) <= kTolerance);
    // Add followed by Relu is fused into one dispatch.
    rm::Graph add_relu = add;
    add_relu.nodes[0].outputs = {"t"};
    add_relu.nodes.push_back({"relu", rm::Op::Relu, {"t"}, {"y"}, {}});
    CHECK(max_relative_error(run_gpu(*env.context, add_relu, {{"x", x}, {"b", b}}, 2),
                             rm::cpu::add(x, b, true)) <= kTolerance);
    // Broadcasting a per-channel constant.
    rm::Tensor bc = random_tensor({7, 1, 1}, 13);
    rm::Graph add_bc = single_node_graph(rm::Op::Add, x.shape, {"x", "c"}, {{"c", bc}});
    CHECK(max_relative_error(run_gpu(*env.context, add_bc, {{"x", x}}, 2), rm::cpu::add(x, bc)) <=
          kTolerance);
    check_mul(env, x, b, bc);

    rm::Tensor scale = random_tensor({7}, 14, 0.5f, 1.5f), shift = random_tensor({7}, 15);
    rm::Tensor mean = random_tensor({7}, 16), var = random_tensor({7}, 17, 0.2f, 2.0f);
    rm::Attrs bn_attrs;
    bn_attrs.epsilon = 1e-3f;
    rm::Graph bn =
        single_node_graph(rm::Op::BatchNormalization, x.shape, {"x", "s", "sh", "m", "v"},
                          {{"s", scale}, {"sh", shift}, {"m", mean}, {"v", var}}, bn_attrs);
    rm::Tensor want = rm::cpu::batchnorm(x, scale, shift, mean, var, 1e-3f);
    CHECK(max_relative_error(run_gpu(*env.context, bn, {{"x", x}}, 2), want) <= kTolerance);
}

void check_dense(GpuEnv& env) {
    rm::Tensor x = random_tensor({3, 37}, 21);
    rm::Tensor w = random_tensor({10, 37}, 22), bias = random_tensor({10}, 23);
    rm::Attrs a;
    a.trans_b = true;
    a.alpha = 0.5f;
    a.beta = 2.0f;
    rm::Graph fc =
        single_node_graph(rm::Op::Gemm, x.shape, {"x", "w", "b"}, {{"w", w}, {"b", bias}}, a);
    CHECK(max_relative_error(run_gpu(*env.context, fc, {{"x", x}}, 3),
                             rm::cpu::gemm(x, w, &bias, a)) <= kTolerance);
    // K a multiple of 4: rows are read as RGBA texels.
    rm::Tensor x4 = random_tensor({3, 36}, 31), w4 = random_tensor({10, 36}, 32);
    rm::Graph fc4 =
        single_node_graph(rm::Op::Gemm, x4.shape, {"x", "w", "b"}, {{"w", w4}, {"b", bias}}, a);
    CHECK(max_relative_error(run_gpu(*env.context, fc4, {{"x", x4}}, 3),
                             rm::cpu::gemm(x4, w4, &bias, a)) <= kTolerance);

    rm::Tensor xt = random_tensor({37, 3}, 24), w2 = random_tensor({37, 10}, 25),
               c2 = random_tensor({3, 10}, 26);
    rm::Attrs at;
    at.trans_a = true;
    rm::Graph g2 =
        single_node_graph(rm::Op::Gemm, xt.shape, {"x", "w", "c"}, {{"w", w2}, {"c", c2}}, at);
    CHECK(max_relative_error(run_gpu(*env.context, g2, {{"x", xt}}, 37),
                             rm::cpu::gemm(xt, w2, &c2, at)) <= kTolerance);

    rm::Tensor ma = random_tensor({2, 4, 9}, 27), mb = random_tensor({9, 6}, 28);
    rm::Graph mm = single_node_graph(rm::Op::MatMul, ma.shape, {"x", "m"}, {{"m", mb}});
    CHECK(max_relative_error(run_gpu(*env.context, mm, {{"x", ma}}, 2), rm::cpu::matmul(ma, mb)) <=
          kTolerance);

    rm::Tensor s = random_tensor({2, 5, 3}, 29, -4.0f, 4.0f);
    for (int64_t axis : {1, -1}) {
        rm::Attrs sa;
        sa.axis = axis;
        rm::Graph sm = single_node_graph(rm::Op::Softmax, s.shape, {"x"}, {}, sa);
        CAPTURE(axis);
        CHECK(max_relative_error(run_gpu(*env.context, sm, {{"x", s}}, 2),
                                 rm::cpu::softmax(s, axis)) <= kTolerance);
    }
}

}  // namespace

TEST_CASE("pools, element-wise ops, dense ops and softmax match the CPU reference") {
    auto env = make_gpu_env();
    if (!env) return;
    check_pools(*env);
    check_elementwise(*env);
    check_dense(*env);
    check_validation_clean(*env);
}

TEST_CASE("pools and element-wise ops split over several dispatches under a tiny binding limit") {
    auto env = make_gpu_env();
    if (!env) return;
    env->context->impl().max_binding_override = 1024;  // 256 floats per binding
    check_pools(*env);
    // 630 floats: more than one binding (a 2x7x5x3 tensor, 210 floats, was not).
    rm::Tensor x = random_tensor({2, 7, 9, 5}, 11), b = random_tensor({2, 7, 9, 5}, 12);
    rm::Graph add = single_node_graph(rm::Op::Add, x.shape, {"x", "b"}, {}, {}, {{"b", b.shape}});
    CHECK(max_relative_error(run_gpu(*env->context, add, {{"x", x}, {"b", b}}, 2),
                             rm::cpu::add(x, b)) <= kTolerance);
    // A per-channel Mul: the full operand and the output are sliced, the constant bound whole.
    check_mul(*env, x, b, random_tensor({7, 1, 1}, 13));
    // And the slicing really happened: each of these planned more than one dispatch.
    rm::Tensor big = random_tensor({2, 5, 13, 11}, 7);
    rm::Attrs pa = pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}, false);
    for (rm::Op op : {rm::Op::MaxPool, rm::Op::AveragePool, rm::Op::GlobalAveragePool}) {
        CAPTURE(rm::op_name(op));
        rm::Graph g = single_node_graph(op, big.shape, {"x"}, {}, pa);
        CHECK(run_gpu_result(*env->context, g, {{"x", big}}, 2).timings.at(0).dispatches > 1);
    }
    CHECK(run_gpu_result(*env->context, add, {{"x", x}, {"b", b}}, 2).timings.at(0).dispatches > 1);
    rm::Graph relu = single_node_graph(rm::Op::Relu, x.shape, {"x"}, {});
    CHECK(run_gpu_result(*env->context, relu, {{"x", x}}, 2).timings.at(0).dispatches > 1);
    check_validation_clean(*env);
}

TEST_CASE("views, intermediates, timings and memory of a small graph") {
    auto env = make_gpu_env();
    if (!env) return;
    // x -> Conv -> Relu -> Flatten -> Gemm: Relu fused, Flatten a view.
    rm::Tensor x = random_tensor({2, 3, 5, 5}, 31);
    rm::Tensor w = random_tensor({4, 3, 3, 3}, 32), fw = random_tensor({6, 100}, 33);
    rm::Graph g;
    g.name = "small";
    g.inputs = {{"x", {-1, 3, 5, 5}}};
    rm::Attrs conv;
    conv.kernel = {3, 3};
    conv.pads = {1, 1, 1, 1};
    rm::Attrs flat;
    flat.axis = 1;
    rm::Attrs gemm;
    gemm.trans_b = true;
    g.nodes = {{"conv", rm::Op::Conv, {"x", "w"}, {"c"}, conv},
               {"relu", rm::Op::Relu, {"c"}, {"r"}, {}},
               {"flatten", rm::Op::Flatten, {"r"}, {"f"}, flat},
               {"fc", rm::Op::Gemm, {"f", "fw"}, {"y"}, gemm}};
    g.outputs = {"y"};
    g.initializers = {{"w", w}, {"fw", fw}};
    rm::Tensor r = rm::cpu::relu(rm::cpu::conv2d(x, w, nullptr, conv));
    rm::Tensor want = rm::cpu::gemm(rm::cpu::flatten(r, 1), fw, nullptr, gemm);

    RunOptions keep;
    keep.keep_intermediates = true;
    GraphRunner runner(*env->context, g, 2, keep);
    RunResult res = runner.run({{"x", x}});
    CHECK(max_relative_error(res.outputs.at("y"), want) <= kTolerance);
    CHECK(max_relative_error(runner.read_tensor("r"), r) <= kTolerance);
    CHECK(runner.read_tensor("f").shape == rm::Shape{2, 100});
    CHECK_THROWS_AS(runner.read_tensor("c"), rm::Error);  // fused into conv, never stored
    CHECK_THROWS_AS(runner.read_tensor("nope"), rm::Error);
    REQUIRE(res.timings.size() == 4);
    CHECK(res.timings[1].fused_into == "conv");
    CHECK(res.timings[0].macs == 2 * 4 * 25 * 27);
    if (env->context->device().timestamp_valid_bits > 0) CHECK(res.timings[0].device_ms > 0);
    CHECK(runner.memory().weight_bytes >= (w.size() + fw.size()) * 4);

    // Weights released (a feature-map viewer): the run's tensors stay readable, runs refuse.
    runner.release_weights();
    CHECK(max_relative_error(runner.read_tensor("r"), r) <= kTolerance);
    CHECK(max_relative_error(runner.read_tensor("y"), want) <= kTolerance);
    CHECK(max_relative_error(runner.read_tensor("x"), x) == 0);
    CHECK_THROWS_AS(runner.run({{"x", x}}), rm::Error);

    RunOptions unfused;
    unfused.fuse = false;
    GraphRunner plain(*env->context, g, 2, unfused);
    CHECK(max_relative_error(plain.run({{"x", x}}).outputs.at("y"), want) <= kTolerance);
    CHECK_THROWS_AS(plain.run({{"x", random_tensor({1, 3, 5, 5}, 1)}}), rm::Error);  // wrong batch
    check_validation_clean(*env);
}

TEST_CASE("the peak probe measures positive throughput without validation messages") {
    auto env = make_gpu_env();
    if (!env) return;
    PeakResult peak = measure_peak(*env->context);
    CHECK(peak.fma_gflops > 0.1);
    CHECK(peak.bandwidth_gbs > 0.01);
    // A device whose largest binding is 1 MiB: the probe binds less, and still measures.
    env->context->impl().max_binding_override = 1 << 20;
    peak = measure_peak(*env->context);
    CHECK(peak.fma_gflops > 0.1);
    CHECK(peak.bandwidth_gbs > 0.01);
    check_validation_clean(*env);
}
