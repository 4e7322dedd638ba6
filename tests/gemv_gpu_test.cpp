// gemv.comp (Gemm / MatMul with at most kGemvMaxRows rows: a workgroup per output element)
// against the CPU twin, and that the planner picks it for batch-1 layers only.
#include "app/engine/kernel_plan.hpp"
#include "gpu_test_util.hpp"
#include "rm/cpu_executor.hpp"

using namespace rmvk;
using namespace rmvk::test;

namespace {

double gpu_vs_cpu(Context& ctx, const rm::Graph& g, const rm::Tensor& x) {
    std::map<std::string, rm::Tensor> in{{"x", x}};
    return max_relative_error(run_gpu(ctx, g, in, x.shape.at(0)), rm::run_cpu(g, in).at("y"));
}

rm::Graph fc(int64_t m, int64_t k, int64_t n, bool trans_a, bool trans_b, bool bias) {
    rm::Attrs a;
    a.trans_a = trans_a;
    a.trans_b = trans_b;
    a.alpha = 0.75f;
    a.beta = bias ? 1.5f : 1.0f;
    std::unordered_map<std::string, rm::Tensor> init{
        {"w", random_tensor(trans_b ? rm::Shape{n, k} : rm::Shape{k, n}, 3)}};
    std::vector<std::string> inputs{"x", "w"};
    if (bias) {
        init["b"] = random_tensor({n}, 4);
        inputs.push_back("b");
    }
    return single_node_graph(rm::Op::Gemm, trans_a ? rm::Shape{k, m} : rm::Shape{m, k}, inputs,
                             init, a);
}

}  // namespace

TEST_CASE("GEMV: batch-1 Gemm and MatMul match the CPU twin") {
    auto env = make_gpu_env();
    if (!env) return;
    Context& ctx = *env->context;
    // K a multiple of 4 with B transposed (the vec4 path), odd K (scalar), K below and above
    // the 64 invocations, A transposed, 1 to kGemvMaxRows rows, with and without a bias.
    for (int64_t k : {3, 37, 64, 300, 2048})
        for (int64_t m : {1, 2, 4})
            for (bool trans_b : {true, false}) {
                CAPTURE(k);
                CAPTURE(m);
                CAPTURE(trans_b);
                rm::Graph g = fc(m, k, 29, false, trans_b, m != 2);
                CHECK(gpu_vs_cpu(ctx, g, random_tensor({m, k}, 5)) <= kTolerance);
            }
    rm::Graph ta = fc(1, 45, 17, true, false, true);
    CHECK(gpu_vs_cpu(ctx, ta, random_tensor({45, 1}, 6)) <= kTolerance);
    // MatMul [1, k] x [k, n] and a batch of single rows [3, 1, k] x [k, n].
    rm::Graph mm =
        single_node_graph(rm::Op::MatMul, {1, 70}, {"x", "w"}, {{"w", random_tensor({70, 23}, 7)}});
    CHECK(gpu_vs_cpu(ctx, mm, random_tensor({1, 70}, 8)) <= kTolerance);
    rm::Graph bmm = single_node_graph(rm::Op::MatMul, {3, 1, 70}, {"x", "w"},
                                      {{"w", random_tensor({70, 23}, 9)}});
    CHECK(gpu_vs_cpu(ctx, bmm, random_tensor({3, 1, 70}, 10)) <= kTolerance);
    check_validation_clean(*env);
}

TEST_CASE("the Gemm planner uses GEMV up to kGemvMaxRows rows and 16x16 tiles beyond") {
    auto env = make_gpu_env();
    if (!env) return;
    Context::Impl& ctx = env->context->impl();
    KernelPlanner planner(ctx);
    Buffer buf(ctx, 1 << 20, MemoryKind::DeviceLocal);
    rm::Attrs attrs;
    attrs.trans_b = true;
    for (int64_t m : {1, 4, 5, 32}) {
        CAPTURE(m);
        TensorRef a{&buf, 0, {m, 64}}, b{&buf, 0, {100, 64}}, y{&buf, 0, {m, 100}};
        auto ds = plan_gemm(planner, a, b, nullptr, y, attrs);
        REQUIRE(ds.size() == 1);
        const bool gemv = m <= static_cast<int64_t>(kGemvMaxRows);
        const ComputePipeline& want = ctx.pipeline(gemv ? "gemv" : "gemm", 4, sizeof(GemmPush),
                                                   spec_words(GemmSpec{1}), 0b11u, 0b11u);
        CHECK(ds[0].pipeline == &want);
        CHECK(ds[0].groups[0] == (gemv ? 100u : 7u));
        CHECK(ds[0].groups[1] == (gemv ? static_cast<uint32_t>(m) : (m + 15) / 16));
    }
}
