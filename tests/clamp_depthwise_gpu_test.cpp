// The per-channel clamp fused into conv epilogues (tiled, direct, Winograd and depthwise
// kernels), the depthwise kernel itself, and the standalone Clip / PRelu / Max / Min /
// ReduceMean kernels, each against the CPU reference on odd shapes, batch 2.
#include <cmath>
#include <cstdlib>
#include <limits>

#include "app/engine/context_impl.hpp"
#include "gpu_test_util.hpp"
#include "rm/channel_clamp.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/cpu_ops.hpp"

using namespace rmvk;
using namespace rmvk::test;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// x [2, c, h, w] -> Conv (k x k, stride s, pad k/2, group) -> the clamp nodes `act` appends.
rm::Graph conv_graph(int64_t c, int64_t h, int64_t w, int64_t oc, int64_t k, int64_t s,
                     int64_t group, const rm::ChannelClamp* act, uint32_t seed) {
    rm::Graph g;
    g.name = "conv_clamp";
    g.inputs = {{"x", {2, c, h, w}}};
    rm::Node conv;
    conv.name = "conv";
    conv.op = rm::Op::Conv;
    conv.inputs = {"x", "w", "b"};
    conv.outputs = {act ? "t" : "y"};
    conv.attrs.kernel = {k, k};
    conv.attrs.strides = {s, s};
    conv.attrs.pads = {k / 2, k / 2, k / 2, k / 2};
    conv.attrs.group = group;
    g.nodes.push_back(conv);
    // Weights large enough that pre-activations pass 6 (a ReLU6 that was a ReLU would show).
    g.initializers["w"] = random_tensor({oc, c / group, k, k}, seed, -2.0f, 2.0f);
    g.initializers["b"] = random_tensor({oc}, seed + 1, -3.0f, 3.0f);
    if (act) rm::append_clamp_nodes(g, "act", "t", "y", *act);
    g.outputs = {"y"};
    return g;
}

// A clamp of every kind per channel: ReLU6, identity, ReLU, a narrow band.
rm::ChannelClamp mixed_clamp(int64_t channels) {
    rm::ChannelClamp c = rm::ChannelClamp::uniform(channels, 0, 6);
    for (int64_t i = 0; i < channels; ++i) {
        if (i % 4 == 1) c.lo[i] = -kInf, c.hi[i] = kInf;
        if (i % 4 == 2) c.hi[i] = kInf;
        if (i % 4 == 3) c.lo[i] = -0.5f, c.hi[i] = 1.5f;
    }
    return c;
}

struct Checked {
    double error = 0;
    std::string method;  // the conv's kernel
    bool fused = true;   // every clamp node ran inside the conv
};

Checked check_graph(GpuEnv& env, const rm::Graph& g, const rm::Tensor& x) {
    const rm::Tensor want = rm::run_cpu(g, {{"x", x}}).at("y");
    GraphRunner runner(*env.context, g, 2);
    RunResult r = runner.run({{"x", x}});
    Checked out;
    out.error = max_relative_error(r.outputs.at("y"), want);
    for (const auto& t : r.timings) {
        if (t.node == "conv") out.method = t.method;
        if (t.node != "conv" && t.fused_into != "conv") out.fused = false;
    }
    return out;
}

}  // namespace

TEST_CASE("a per-channel clamp fused into each conv kernel matches the CPU") {
    auto env = make_gpu_env();
    if (!env) return;
    struct Case {
        int64_t c, h, w, oc, k, s, group;
    } cases[] = {
        {13, 9, 7, 11, 3, 2, 1},    // spatial kernel, stride 2
        {13, 9, 7, 11, 1, 1, 1},    // pointwise
        {12, 8, 10, 18, 3, 1, 3},   // grouped (general kernel)
        {13, 9, 7, 13, 3, 1, 13},   // depthwise
        {13, 11, 6, 13, 3, 2, 13},  // depthwise, stride 2
        {6, 10, 9, 6, 5, 1, 6},     // depthwise 5x5
    };
    for (const auto& k : cases) {
        CAPTURE(k.c);
        CAPTURE(k.k);
        CAPTURE(k.group);
        const rm::Tensor x = random_tensor({2, k.c, k.h, k.w}, 11, -2.0f, 2.0f);
        const rm::ChannelClamp clamps[] = {rm::ChannelClamp::uniform(k.oc, 0, 6), mixed_clamp(k.oc),
                                           rm::ChannelClamp::uniform(k.oc, 0, kInf)};
        for (const auto& act : clamps) {
            Checked r =
                check_graph(*env, conv_graph(k.c, k.h, k.w, k.oc, k.k, k.s, k.group, &act, 5), x);
            CHECK(r.error <= kTolerance);
            CHECK(r.fused);
            CHECK((r.method == "depthwise") == (k.group == k.c && k.c == k.oc));
        }
    }
    check_validation_clean(*env);
}

TEST_CASE("split-K: the reduce pass applies the per-channel clamp") {
    auto env = make_gpu_env();
    if (!env) return;
    // The GPU kernel on a 132-unit description: these small convs split K.
    env->context->impl().conv_variant = 1;
    env->context->impl().compute_units_override = 132;
    const rm::Tensor x = random_tensor({2, 72, 9, 7}, 17, -2.0f, 2.0f);
    for (int64_t k : {3, 1}) {
        CAPTURE(k);
        const rm::ChannelClamp act = mixed_clamp(20);
        Checked r = check_graph(*env, conv_graph(72, 9, 7, 20, k, 1, 1, &act, 5), x);
        CHECK(r.method.find("split-K") != std::string::npos);
        CHECK(r.error <= kTolerance);
        CHECK(r.fused);
    }
    env->context->impl().compute_units_override = 0;
    env->context->impl().conv_variant = 0;
    check_validation_clean(*env);
}

TEST_CASE("the clamp epilogue on the Winograd path, and NaN through a fused clamp") {
    auto env = make_gpu_env();
    if (!env) return;
    const rm::ChannelClamp act = mixed_clamp(16);
    const rm::Graph g = conv_graph(8, 12, 12, 16, 3, 1, 1, &act, 9);
    const rm::Tensor x = random_tensor({2, 8, 12, 12}, 3, -2.0f, 2.0f);
    setenv("RMVK_WINOGRAD", "1", 1);
    Checked r = check_graph(*env, g, x);
    unsetenv("RMVK_WINOGRAD");
    CHECK(r.method.find("winograd") != std::string::npos);
    CHECK(r.error <= kTolerance);
    CHECK(r.fused);

    // A NaN input pixel stays NaN through conv + clamp, as in PyTorch (not clamped to a bound).
    // Winograd spreads it over the whole output tile (its transforms multiply NaN by 0), so
    // there every NaN of the reference must be NaN, and the direct path must agree exactly.
    rm::Tensor nan_x = x;
    nan_x.data[5] = std::numeric_limits<float>::quiet_NaN();
    for (const char* winograd : {"0", "1"}) {
        setenv("RMVK_WINOGRAD", winograd, 1);
        GraphRunner runner(*env->context, g, 2);
        unsetenv("RMVK_WINOGRAD");
        const rm::Tensor got = runner.run({{"x", nan_x}}).outputs.at("y");
        const rm::Tensor want = rm::run_cpu(g, {{"x", nan_x}}).at("y");
        int64_t nans = 0, kept = 0, agree = 0;
        for (int64_t i = 0; i < want.size(); ++i) {
            nans += std::isnan(want.data[i]);
            kept += std::isnan(want.data[i]) && std::isnan(got.data[i]);
            agree += std::isnan(want.data[i]) == std::isnan(got.data[i]);
        }
        CAPTURE(std::string(winograd));
        CHECK(nans > 0);
        CHECK(kept == nans);
        if (std::string(winograd) == "0") CHECK(agree == want.size());
    }
    check_validation_clean(*env);
}

TEST_CASE("depthwise conv with a fused residual Add and clamp") {
    auto env = make_gpu_env();
    if (!env) return;
    // x -> depthwise 3x3 -> Add x -> Clip(0, 6): the Add and the Clip fold into the conv.
    rm::Graph g = conv_graph(7, 9, 5, 7, 3, 1, 7, nullptr, 2);
    g.nodes[0].outputs = {"t"};
    g.nodes.push_back({"add", rm::Op::Add, {"t", "x"}, {"u"}, {}});
    rm::Node clip{"clip", rm::Op::Clip, {"u"}, {"y"}, {}};
    clip.attrs.clip_min = 0;
    clip.attrs.clip_max = 6;
    g.nodes.push_back(clip);
    const rm::Tensor x = random_tensor({2, 7, 9, 5}, 4, -3.0f, 3.0f);
    Checked r = check_graph(*env, g, x);
    CHECK(r.method == "depthwise");
    CHECK(r.fused);
    CHECK(r.error <= kTolerance);
    check_validation_clean(*env);
}

TEST_CASE("standalone Clip, PRelu, Max, Min and ReduceMean match the CPU") {
    auto env = make_gpu_env();
    if (!env) return;
    const rm::Tensor x = random_tensor({2, 5, 7, 3}, 8, -8.0f, 8.0f);
    auto check = [&](const rm::Graph& g, const std::map<std::string, rm::Tensor>& in) {
        const rm::Tensor want = rm::run_cpu(g, in).at("y");
        CHECK(max_relative_error(run_gpu(*env->context, g, in, 2), want) <= kTolerance);
    };
    rm::Attrs clip;
    clip.clip_min = -1.5f;
    clip.clip_max = 6.0f;
    check(single_node_graph(rm::Op::Clip, x.shape, {"x"}, {}, clip), {{"x", x}});
    const rm::Tensor slope = random_tensor({5, 1, 1}, 9, -0.5f, 1.5f);  // real slopes
    check(single_node_graph(rm::Op::PRelu, x.shape, {"x", "s"}, {{"s", slope}}), {{"x", x}});
    const rm::Tensor bound = random_tensor({1, 5, 1, 1}, 10, -2.0f, 2.0f);
    check(single_node_graph(rm::Op::Max, x.shape, {"x", "c"}, {{"c", bound}}), {{"x", x}});
    check(single_node_graph(rm::Op::Min, x.shape, {"c", "x"}, {{"c", bound}}), {{"x", x}});
    const rm::Tensor other = random_tensor(x.shape, 12, -8.0f, 8.0f);
    check(single_node_graph(rm::Op::Max, x.shape, {"x", "o"}, {}, {}, {{"o", x.shape}}),
          {{"x", x}, {"o", other}});
    check(single_node_graph(rm::Op::Min, x.shape, {"x", "o"}, {}, {}, {{"o", x.shape}}),
          {{"x", x}, {"o", other}});
    for (bool keep : {true, false}) {
        rm::Attrs mean;
        mean.axes = {2, 3};
        mean.keepdims = keep;
        check(single_node_graph(rm::Op::ReduceMean, x.shape, {"x"}, {}, mean), {{"x", x}});
    }
    check_validation_clean(*env);
}
