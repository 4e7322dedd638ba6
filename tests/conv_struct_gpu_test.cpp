// Structured convs on the GPU (dense blocks over channel windows plus the copy / merge / zero
// epilogue) against rm::cpu::conv2d_structured (through run_cpu) and against the dense run, on
// awkward shapes; the split itself (which rows the epilogue finishes); and whole plain ResNets
// structured vs dense vs residual.
#include "app/engine/context_impl.hpp"
#include "app/engine/conv_struct_plan.hpp"
#include "gpu_test_util.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/error.hpp"
#include "rm/resnet_builder.hpp"
#include "rm/rm_transform.hpp"

using namespace rmvk;
using namespace rmvk::test;

namespace {

struct StructCase {
    const char* name;
    int64_t n, c, h, w, k, stride, pad;
    bool bias, residual, relu;
};

// A dense weight with every kind of region: a random block over input channels [0, c - 2) for
// outputs [0, 5), an identity merge of input c - 1 into output 2, copies of every input channel
// into outputs [5, 5 + c), a 0.5-scaled copy, and an all-zero row last.
rm::Tensor structured_weight(const StructCase& k, int64_t& oc) {
    oc = 5 + k.c + 2;
    rm::Tensor w({oc, k.c, k.k, k.k});
    rm::Tensor r = random_tensor({5, k.c - 2, k.k, k.k}, 17);
    const int64_t taps = k.k * k.k, centre = (k.k / 2) * k.k + k.k / 2;
    for (int64_t o = 0; o < 5; ++o)
        for (int64_t i = 0; i < k.c - 2; ++i)
            for (int64_t t = 0; t < taps; ++t)
                w.data[(o * k.c + i) * taps + t] = r.data[(o * (k.c - 2) + i) * taps + t];
    w.data[(2 * k.c + k.c - 1) * taps + centre] = 1.0f;
    for (int64_t i = 0; i < k.c; ++i) w.data[((5 + i) * k.c + i) * taps + centre] = 1.0f;
    w.data[((5 + k.c) * k.c + 1) * taps + centre] = 0.5f;
    return w;
}

rm::Graph one_conv_graph(const StructCase& k) {
    int64_t oc = 0;
    rm::Tensor dense = structured_weight(k, oc);
    const int64_t oh = (k.h + 2 * k.pad - k.k) / k.stride + 1,
                  ow = (k.w + 2 * k.pad - k.k) / k.stride + 1;
    rm::Graph g;
    g.name = k.name;
    g.inputs.push_back({"x", {k.n, k.c, k.h, k.w}});
    rm::Node conv{"conv", rm::Op::Conv, {"x", "W"}, {"y"}, {}};
    conv.attrs.kernel = {k.k, k.k};
    conv.attrs.strides = {k.stride, k.stride};
    conv.attrs.pads = {k.pad, k.pad, k.pad, k.pad};
    if (k.bias) {
        rm::Tensor b = random_tensor({oc}, 23);
        for (int64_t o = 5; o < 5 + k.c + 1; ++o) b.data[o] = 0.0f;  // copies stay copies
        g.initializers["B"] = b;
        conv.inputs.push_back("B");
    }
    g.structured_weights["W"] = rm::describe_conv(dense, 1);
    g.nodes.push_back(conv);
    std::string last = "y";
    if (k.residual) {
        g.inputs.push_back({"r", {k.n, oc, oh, ow}});
        g.nodes.push_back({"add", rm::Op::Add, {last, "r"}, {"sum"}, {}});
        last = "sum";
    }
    if (k.relu) {
        g.nodes.push_back({"relu", rm::Op::Relu, {last}, {"out"}, {}});
        last = "out";
    }
    g.outputs = {last};
    return g;
}

std::map<std::string, rm::Tensor> random_inputs(const rm::Graph& g, uint32_t seed) {
    std::map<std::string, rm::Tensor> in;
    for (const auto& vi : g.inputs) in[vi.name] = random_tensor(vi.shape, seed++);
    return in;
}

}  // namespace

TEST_CASE("a structured conv splits into its dense block and one epilogue over the rest") {
    const StructCase k{"split", 1, 6, 5, 5, 3, 1, 1, true, false, true};
    rm::Graph g = one_conv_graph(k);
    const rm::ConvStructure& s = *g.structure("W");
    REQUIRE(s.blocks.size() == 1);
    rm::Attrs a = g.nodes[0].attrs;
    ConvProblem p;
    p.x = {1, 6, 5, 5};
    p.y = {1, s.out_channels(), 5, 5};
    p.bias = true;
    p.relu = true;
    p.attrs = &a;
    const rm::Tensor& bias = g.initializers.at("B");
    StructuredConv sc = split_structured_conv(p, s, &bias);
    REQUIRE(sc.blocks.size() == 1);
    const ConvProblem& bp = sc.blocks[0].problem;
    CHECK(bp.in_channels == 4);  // the block reads only its 4 input channels
    CHECK(bp.out_channels == 5);
    CHECK(bp.y_channel == 0);
    CHECK_FALSE(bp.relu);  // a merge adds to row 2: the epilogue applies ReLU to the block rows
    // Passes over the rest, by runs: block rows 0-1, the merge into row 2 (input 5), rows 3-4,
    // the copies 5-10 of inputs 0-5, the scaled copy, the zero row (its bias).
    using Start = EpiloguePass::Start;
    REQUIRE(sc.passes.size() == 6);
    auto pass = [&](size_t i, int64_t out, int64_t channels, bool input, int64_t in, Start start,
                    float scale) {
        CAPTURE(i);
        const EpiloguePass& e = sc.passes[i];
        CHECK(e.out_begin == out);
        CHECK(e.channels == channels);
        CHECK(e.has_input == input);
        if (input) CHECK(e.in_begin == in);
        CHECK(e.start == start);
        CHECK(e.scale == scale);
    };
    pass(0, 0, 2, false, 0, Start::Stored, 1.0f);
    pass(1, 2, 1, true, 5, Start::Stored, 1.0f);
    pass(2, 3, 2, false, 0, Start::Stored, 1.0f);
    pass(3, 5, 6, true, 0, Start::Bias, 1.0f);
    pass(4, 11, 1, true, 1, Start::Bias, 0.5f);
    pass(5, 12, 1, false, 0, Start::Bias, 1.0f);
    ConvPlan e = plan_conv_epilogue(p, sc, DeviceCaps{});
    REQUIRE(e.dispatches.size() == 6);
    CHECK(e.dispatches[0].after_previous);  // waits for the block
    CHECK_FALSE(e.dispatches[1].after_previous);
    const auto push = e.dispatches[3].push.as<ConvStructPush>();
    CHECK(push.top == 0);
    CHECK(push.out_begin == 5);
    CHECK(e.dispatches[3].groups[1] == 6);
    CHECK(e.kernels.at(0).spec.at(2) == 1);  // same grid: 3x3, pad 1, stride 1

    // Without the merge the block finishes its own rows (ReLU fused): passes only for the rest.
    rm::ConvStructure no_merge = s;
    no_merge.diracs.erase(std::remove_if(no_merge.diracs.begin(), no_merge.diracs.end(),
                                         [](const rm::DiracEntry& d) { return d.out < 5; }),
                          no_merge.diracs.end());
    StructuredConv sc2 = split_structured_conv(p, no_merge, &bias);
    CHECK(sc2.blocks[0].problem.relu);
    REQUIRE(sc2.passes.size() == 3);
    CHECK(sc2.passes[0].out_begin == 5);

    // Two Dirac entries in one row: not split (the runner falls back to the dense weight).
    rm::ConvStructure two = s;
    two.diracs.push_back({5, 3, 1.0f});
    CHECK_THROWS_AS(split_structured_conv(p, two, &bias), rm::Error);
}

TEST_CASE("structured convs on the GPU match the CPU twin and the dense run") {
    auto env = make_gpu_env();
    if (!env) return;
    const StructCase cases[] = {
        {"3x3 stride 1, batch 2, odd size", 2, 7, 13, 11, 3, 1, 1, true, true, true},
        {"3x3 stride 2, odd size", 1, 6, 15, 9, 3, 2, 1, true, false, true},
        {"3x3 stride 2, batch 2, residual, no bias", 2, 5, 9, 10, 3, 2, 1, false, true, false},
        {"1x1 stride 2", 2, 9, 7, 7, 1, 2, 0, true, true, true},
        {"5x5 pad 2, no ReLU", 1, 3, 8, 6, 5, 1, 2, true, false, false},
    };
    // The blocks on both conv kernels: shared-memory tiles (GPUs, forced here), direct (CPUs).
    for (int variant : {1, 2})
        for (const auto& k : cases) {
            CAPTURE(variant);
            CAPTURE(k.name);
            env->context->impl().conv_variant = variant;
            rm::Graph g = one_conv_graph(k);
            auto inputs = random_inputs(g, 31);
            const std::string& out = g.outputs.at(0);
            const rm::Tensor want = rm::run_cpu(g, inputs).at(out);
            GraphRunner structured(*env->context, g, k.n);
            auto got = structured.run(inputs);
            CHECK(max_relative_error(got.outputs.at(out), want) <= kTolerance);
            CHECK(got.timings.at(0).method.rfind("structured: ", 0) == 0);
            CHECK(got.timings.at(0).method.find("copy") != std::string::npos);
            RunOptions dense_options;
            dense_options.structured = false;
            GraphRunner dense(*env->context, g, k.n, dense_options);
            auto got_dense = dense.run(inputs);
            CHECK(max_relative_error(got_dense.outputs.at(out), want) <= kTolerance);
            CHECK(got_dense.timings.at(0).method.find("structured") == std::string::npos);
        }
    env->context->impl().conv_variant = 0;
    check_validation_clean(*env);
}

TEST_CASE("plain ResNet-18 and ResNet-50 run structured as they run dense and as the residual") {
    auto env = make_gpu_env();
    if (!env) return;
    for (const char* arch : {"resnet18", "resnet50"}) {
        CAPTURE(arch);
        rm::ResNetConfig c;
        c.arch = arch;
        c.base_width = 8;
        c.input_height = 33;
        c.input_width = 29;
        c.num_classes = 10;
        c.seed = 9;
        const rm::Graph residual = rm::build_resnet(c);
        const rm::Graph plain = rm::rm_transform(residual).plain;
        REQUIRE(!plain.structured_weights.empty());
        const int64_t batch = 2;
        rm::Shape shape = residual.inputs.at(0).shape;
        shape[0] = batch;
        std::map<std::string, rm::Tensor> inputs{
            {residual.inputs.at(0).name, random_tensor(shape, 7, 0.0f, 1.0f)}};
        const std::string& out = residual.outputs.at(0);
        GraphRunner ref_runner(*env->context, residual, batch);
        const rm::Tensor ref = ref_runner.run(inputs).outputs.at(out);
        GraphRunner s_runner(*env->context, plain, batch);
        auto s = s_runner.run(inputs);
        RunOptions dense_options;
        dense_options.structured = false;
        GraphRunner d_runner(*env->context, plain, batch, dense_options);
        const rm::Tensor d = d_runner.run(inputs).outputs.at(plain.outputs.at(0));
        const rm::Tensor& st = s.outputs.at(plain.outputs.at(0));
        // max|delta| <= 1e-4 * max|ref|, pairwise.
        double scale = 0;
        for (float v : ref.data) scale = std::max(scale, std::fabs(double(v)));
        auto max_abs = [](const rm::Tensor& a, const rm::Tensor& b) {
            double m = 0;
            for (size_t i = 0; i < a.data.size(); ++i)
                m = std::max(m, std::fabs(double(a.data[i]) - double(b.data[i])));
            return m;
        };
        REQUIRE(st.data.size() == ref.data.size());
        CHECK(max_abs(st, ref) <= 1e-4 * scale);
        CHECK(max_abs(st, d) <= 1e-4 * scale);
        CHECK(max_abs(d, ref) <= 1e-4 * scale);
        int structured = 0;
        for (const auto& t : s.timings) structured += t.method.rfind("structured: ", 0) == 0;
        CHECK(structured > 0);
    }
    check_validation_clean(*env);
}
