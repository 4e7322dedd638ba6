// Reserved copies left unstored (app/engine/copy_elision.hpp): which rows the planner elides in
// a Bottleneck-like chain of widened convs and what the readers then read, and on the GPU the
// chain's outputs and its elided intermediate tensors (materialised on read) against the CPU
// twin (rm::cpu::conv2d_structured through run_cpu) on odd sizes, stride 2, batch 2 and channel
// counts that are not multiples of 4.
#include "app/engine/copy_elision.hpp"
#include "gpu_test_util.hpp"
#include "rm/cpu_executor.hpp"

using namespace rmvk;
using namespace rmvk::test;

namespace {

// x (cin channels) -> c1: [copies of x | block over x] -> c2: [copies of c1's copies | block
// over c1's block] -> c3: block over c2's block + identity merge of c2's copies. As RM widens
// a Bottleneck (RM.md), reserved channels first.
struct Chain {
    int64_t cin = 6, mid = 3;
    int64_t k2 = 3, stride2 = 1;  // the middle conv's kernel and stride
    rm::ConvStructure s1, s2, s3;
    rm::Attrs a1, a2, a3;
};

std::shared_ptr<const rm::Tensor> random_weight(const rm::Shape& shape, uint32_t seed) {
    return std::make_shared<rm::Tensor>(random_tensor(shape, seed, -0.5f, 0.5f));
}

rm::Attrs conv_attrs(int64_t k, int64_t stride) {
    rm::Attrs a;
    a.kernel = {k, k};
    a.strides = {stride, stride};
    a.pads = {k / 2, k / 2, k / 2, k / 2};
    a.dilations = {1, 1};
    return a;
}

Chain make_chain(int64_t cin, int64_t mid, int64_t stride2) {
    Chain c;
    c.cin = cin;
    c.mid = mid;
    c.stride2 = stride2;
    c.s1.shape = {cin + mid, cin, 1, 1};
    c.s1.blocks.push_back({cin, cin + mid, 0, cin, 1, false, random_weight({mid, cin, 1, 1}, 1)});
    c.s2.shape = {cin + mid, cin + mid, 3, 3};
    c.s2.blocks.push_back(
        {cin, cin + mid, cin, cin + mid, 1, false, random_weight({mid, mid, 3, 3}, 2)});
    for (int64_t r = 0; r < cin; ++r) {
        c.s1.diracs.push_back({r, r, 1.0f});
        c.s2.diracs.push_back({r, r, 1.0f});
    }
    c.s3.shape = {cin, cin + mid, 1, 1};
    c.s3.blocks.push_back({0, cin, cin, cin + mid, 1, false, random_weight({cin, mid, 1, 1}, 3)});
    for (int64_t o = 0; o < cin; ++o) c.s3.diracs.push_back({o, o, 1.0f});
    c.a1 = conv_attrs(1, 1);
    c.a2 = conv_attrs(3, stride2);
    c.a3 = conv_attrs(1, 1);
    return c;
}

// The chain as ElisionConvs over x [n, cin, h, w] (ReLU after every conv, no bias).
std::vector<ElisionConv> elision_convs(const Chain& c, int64_t n, int64_t h, int64_t w) {
    const int64_t oh = (h - 1) / c.stride2 + 1, ow = (w - 1) / c.stride2 + 1;
    auto conv = [](std::string x, std::string y, rm::Shape xs, rm::Shape ys, const rm::Attrs& a,
                   const rm::ConvStructure& s) {
        ElisionConv e;
        e.x = std::move(x);
        e.y = std::move(y);
        e.problem.x = std::move(xs);
        e.problem.y = std::move(ys);
        e.problem.relu = true;
        e.problem.attrs = &a;
        e.structure = &s;
        return e;
    };
    const int64_t wide = c.cin + c.mid;
    return {conv("x", "y1", {n, c.cin, h, w}, {n, wide, h, w}, c.a1, c.s1),
            conv("y1", "y2", {n, wide, h, w}, {n, wide, oh, ow}, c.a2, c.s2),
            conv("y2", "y3", {n, wide, oh, ow}, {n, c.cin, oh, ow}, c.a3, c.s3)};
}

TensorLookup lookup(const std::vector<ElisionConv>& convs, bool x_nonnegative) {
    std::map<std::string, rm::Shape> shapes;
    for (const auto& e : convs) {
        shapes[e.x] = e.problem.x;
        shapes[e.y] = e.problem.y;
    }
    return [shapes, x_nonnegative](const std::string& t) {
        return TensorFacts{shapes.at(t), 0, t != "x" || x_nonnegative};
    };
}

int64_t count(const std::vector<bool>& mask) {
    return std::count(mask.begin(), mask.end(), true);
}

}  // namespace

TEST_CASE("a Bottleneck's copies are not stored; its last conv adds the block input") {
    const Chain c = make_chain(6, 3, 1);
    const auto convs = elision_convs(c, 1, 5, 7);
    const TensorLookup facts = lookup(convs, true);
    ElisionPlan plan = plan_copy_elision(convs, {"y3"}, facts);
    CHECK(plan.structured == std::vector<bool>{true, true, true});
    CHECK(count(plan.may_elide[0]) == 6);
    CHECK(count(plan.may_elide[1]) == 6);  // a copy of a copy: the same source
    CHECK(plan.may_elide[2].empty());      // a graph output
    REQUIRE(plan.elided.count("y1"));
    REQUIRE(plan.elided.count("y2"));
    for (int64_t k = 0; k < 9; ++k) {
        CAPTURE(k);
        const ChannelHome want = k < 6 ? ChannelHome{"x", k} : ChannelHome{"", k};
        CHECK(plan.elided["y1"][k] == want);
        CHECK(plan.elided["y2"][k] == want);
    }

    // The middle conv: its block only, no pass (the copy rows are elided).
    std::vector<std::string> names;
    const ConvInputs in2 = conv_inputs("y1", plan.elided, facts, &names);
    CHECK(names == std::vector<std::string>{"y1", "x"});
    StructuredConv sc2 =
        split_structured_conv(convs[1].problem, c.s2, nullptr, in2, &plan.may_elide[1]);
    CHECK(sc2.passes.empty());
    REQUIRE(sc2.elided.size() == 1);
    CHECK(sc2.elided[0].out_begin == 0);
    CHECK(sc2.elided[0].channels == 6);
    CHECK(sc2.elided[0].from == ChannelRef{1, 0});
    REQUIRE(sc2.blocks.size() == 1);
    CHECK(sc2.blocks[0].problem.relu);

    // The last conv: the identity merge of the elided copies is its block's residual, x.
    const ConvInputs in3 = conv_inputs("y2", plan.elided, facts, &names);
    StructuredConv sc3 = split_structured_conv(convs[2].problem, c.s3, nullptr, in3);
    CHECK(sc3.passes.empty());
    REQUIRE(sc3.blocks.size() == 1);
    const StructuredConvBlock& b = sc3.blocks[0];
    CHECK(b.residual_source == 1);
    CHECK(b.problem.residual == rm::Shape{1, 6, 5, 7});
    CHECK(b.problem.residual_channel == 0);
    CHECK(b.problem.relu);
    CHECK(b.x_source == 0);
    CHECK(b.problem.x_channel == 6);
}

TEST_CASE("copies stay stored where a reader needs them or their value is not the copy") {
    const Chain c = make_chain(5, 3, 1);
    const auto convs = elision_convs(c, 2, 5, 5);
    SUBCASE("a ReLU over a source that may be negative") {
        ElisionPlan plan = plan_copy_elision(convs, {"y3"}, lookup(convs, false));
        CHECK(plan.may_elide[0].empty());
        CHECK(count(plan.may_elide[1]) == 5);  // copies of y1's stored (ReLU-ed) copies
        CHECK(plan.elided.at("y2")[0] == ChannelHome{"y1", 0});
    }
    SUBCASE("another reader") {
        ElisionPlan plan = plan_copy_elision(convs, {"y1", "y3"}, lookup(convs, true));
        CHECK(plan.may_elide[0].empty());
        CHECK(count(plan.may_elide[1]) == 5);  // y2's copies are still copies of y1's x copies
        CHECK(plan.elided.at("y2")[0] == ChannelHome{"y1", 0});
    }
    SUBCASE("a dense reader") {
        auto dense = convs;
        dense[1].structure = nullptr;
        ElisionPlan plan = plan_copy_elision(dense, {"y3"}, lookup(dense, true));
        CHECK(plan.may_elide[0].empty());
        CHECK_FALSE(plan.structured[1]);
    }
    SUBCASE("a reader's block over part of the copies keeps that part") {
        Chain p = c;
        p.s2.blocks[0].in_begin = 3;  // reads copies 3, 4 and c1's block
        p.s2.blocks[0].weight = random_weight({3, 5, 3, 3}, 5);
        const auto pc = elision_convs(p, 2, 5, 5);
        ElisionPlan plan = plan_copy_elision(pc, {"y3"}, lookup(pc, true));
        REQUIRE(plan.may_elide[0].size() == 8);
        CHECK(count(plan.may_elide[0]) == 3);
        CHECK_FALSE(plan.may_elide[0][3]);
        CHECK_FALSE(plan.may_elide[0][4]);
    }
    SUBCASE("a stride-2 copy is stored (read from the first source)") {
        const Chain s = make_chain(5, 3, 2);
        const auto sc = elision_convs(s, 2, 9, 7);
        const TensorLookup facts = lookup(sc, true);
        ElisionPlan plan = plan_copy_elision(sc, {"y3"}, facts);
        CHECK(count(plan.may_elide[0]) == 5);
        CHECK(plan.may_elide[1].empty());
        StructuredConv split = split_structured_conv(sc[1].problem, s.s2, nullptr,
                                                     conv_inputs("y1", plan.elided, facts));
        REQUIRE(split.passes.size() == 1);
        CHECK(split.passes[0].source == 1);  // reads x itself
        CHECK(split.passes[0].in_begin == 0);
        CHECK(split.passes[0].channels == 5);
    }
}

namespace {

// The chain as a graph: a ReLU first (so that x is known non-negative), a ReLU after each conv.
rm::Graph chain_graph(const Chain& c, int64_t n, int64_t h, int64_t w) {
    rm::Graph g;
    g.name = "chain";
    g.inputs.push_back({"in", {n, c.cin, h, w}});
    g.nodes.push_back({"relu0", rm::Op::Relu, {"in"}, {"x"}, {}});
    const rm::ConvStructure* s[] = {&c.s1, &c.s2, &c.s3};
    const rm::Attrs* a[] = {&c.a1, &c.a2, &c.a3};
    std::string last = "x";
    for (int i = 0; i < 3; ++i) {
        const std::string k = std::to_string(i + 1);
        g.structured_weights["W" + k] = *s[i];
        rm::Node conv{"conv" + k, rm::Op::Conv, {last, "W" + k}, {"c" + k}, *a[i]};
        g.nodes.push_back(conv);
        g.nodes.push_back({"relu" + k, rm::Op::Relu, {"c" + k}, {"y" + k}, {}});
        last = "y" + k;
    }
    g.outputs = {last};
    return g;
}

}  // namespace

TEST_CASE("chains with elided copies match the CPU twin, elided tensors read back whole") {
    auto env = make_gpu_env();
    if (!env) return;
    struct Case {
        const char* name;
        int64_t n, cin, mid, h, w, stride;
    };
    const Case cases[] = {{"batch 2, odd size, 7 channels", 2, 7, 3, 9, 11, 1},
                          {"stride 2, 5 channels", 1, 5, 6, 13, 7, 2},
                          {"batch 2, stride 2, 9 channels", 2, 9, 5, 6, 9, 2}};
    for (const auto& k : cases) {
        CAPTURE(k.name);
        const Chain c = make_chain(k.cin, k.mid, k.stride);
        const rm::Graph g = chain_graph(c, k.n, k.h, k.w);
        std::map<std::string, rm::Tensor> inputs{{"in", random_tensor({k.n, k.cin, k.h, k.w}, 11)}};
        rm::CpuRunOptions cpu;
        cpu.keep_intermediates = true;
        const auto want = rm::run_cpu(g, inputs, cpu);
        for (bool keep : {false, true}) {
            CAPTURE(keep);
            RunOptions options;
            options.keep_intermediates = keep;
            GraphRunner runner(*env->context, g, k.n, options);
            auto got = runner.run(inputs);
            CHECK(max_relative_error(got.outputs.at("y3"), want.at("y3")) <= kTolerance);
            int64_t not_stored = 0;
            for (const auto& t : got.timings)
                not_stored += t.method.find("copies not stored") != std::string::npos;
            CHECK(not_stored == (k.stride == 1 ? 2 : 1));
            if (!keep) continue;
            for (const char* t : {"y1", "y2"}) {
                CAPTURE(t);
                CHECK(max_relative_error(runner.read_tensor(t), want.at(t)) <= kTolerance);
            }
        }
    }
    check_validation_clean(*env);
}
