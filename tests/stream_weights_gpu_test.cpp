// RunOptions::stream_weight_bytes (weights uploaded a segment at a time, as the app's
// feature-map runs do) against the runner that uploads them all while preparing, bit for bit
// on every tensor, and against the CPU executor; a run that throws part-way through a segment
// leaves the runner as it found it; then release_weights (which also frees the Relu outputs,
// read back as relu of their input, itself perhaps a freed Relu output) changes no tensor,
// holds fewer activation bytes, and run() refuses.
#include <cmath>
#include <map>
#include <set>
#include <string>

#include "gpu_test_util.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/error.hpp"
#include "rm/rm_transform.hpp"

using namespace rmvk;
using namespace rmvk::test;

namespace {

RunOptions streamed_options(uint64_t stream_weight_bytes) {
    RunOptions o = feature_map_run_options();
    o.stream_weight_bytes = stream_weight_bytes;
    return o;
}

// 1 byte: every step with weights is a segment of its own; 64 KiB: a few steps each.
constexpr uint64_t kSegmentBytes[] = {1, uint64_t{64} << 10};

// Equal values (a ReLU computed again on the host may write 0 where the device wrote -0).
bool same_values(const rm::Tensor& a, const rm::Tensor& b) {
    if (a.shape != b.shape) return false;
    for (int64_t i = 0; i < a.size(); ++i)
        if (!(a.data[i] == b.data[i] || (std::isnan(a.data[i]) && std::isnan(b.data[i]))))
            return false;
    return true;
}

std::map<std::string, rm::Tensor> random_inputs(const rm::Graph& g, int64_t batch, float lo) {
    rm::Shape shape = g.inputs.at(0).shape;
    shape[0] = batch;
    return {{g.inputs.at(0).name, random_tensor(shape, 17, lo, 1.0f)}};
}

// Every node output of `got` is the same bits as in `want`; returns how many were compared.
int check_same_bits(const rm::Graph& g, const GraphRunner& got, const GraphRunner& want) {
    int checked = 0;
    for (const auto& n : g.nodes)
        for (const auto& t : n.outputs) {
            CAPTURE(t);
            CHECK(same_bits(got.read_tensor(t), want.read_tensor(t)));
            ++checked;
        }
    return checked;
}

// release_weights: no tensor changes, the Relu outputs' bytes go (all of them when
// `every_relu_freed`, else some: a Relu whose input's reserved copies are not stored stays),
// and run() throws.
void check_released(const rm::Graph& g, GraphRunner& streamed, const GraphRunner& whole,
                    const std::map<std::string, rm::Tensor>& inputs, bool every_relu_freed) {
    const std::set<std::string> outputs(g.outputs.begin(), g.outputs.end());
    uint64_t relu_bytes = 0;
    for (const auto& n : g.nodes)
        if (n.op == rm::Op::Relu && !outputs.count(n.outputs.at(0)))
            relu_bytes += static_cast<uint64_t>(whole.read_tensor(n.outputs.at(0)).size()) * 4;
    REQUIRE(relu_bytes > 0);
    const uint64_t held = streamed.memory().activation_bytes;
    streamed.release_weights();
    REQUIRE(streamed.memory().activation_bytes <= held);
    const uint64_t freed = held - streamed.memory().activation_bytes;
    CHECK(freed > 0);
    CHECK(freed <= relu_bytes);
    if (every_relu_freed) CHECK(freed == relu_bytes);
    for (const auto& n : g.nodes)
        for (const auto& t : n.outputs) {
            CAPTURE(t);
            CHECK(same_values(streamed.read_tensor(t), whole.read_tensor(t)));
        }
    CHECK_THROWS_WITH_AS(streamed.run(inputs), doctest::Contains("weights were released"),
                         rm::Error);
}

void check_streamed(Context& ctx, const rm::Graph& g, int64_t batch, bool every_relu_freed) {
    const auto inputs = random_inputs(g, batch, 0.0f);
    rm::CpuRunOptions cpu;
    cpu.keep_intermediates = true;
    const auto want = rm::run_cpu(g, inputs, cpu);
    GraphRunner whole(ctx, g, batch, streamed_options(0));
    whole.run(inputs);
    for (uint64_t bytes : kSegmentBytes) {
        CAPTURE(bytes);
        GraphRunner streamed(ctx, g, batch, streamed_options(bytes));
        for (int run = 0; run < 2; ++run) {  // a second run uploads the weights again
            CAPTURE(run);
            streamed.run(inputs);
            CHECK(check_same_bits(g, streamed, whole) == static_cast<int>(g.nodes.size()));
            for (const auto& n : g.nodes)
                for (const auto& t : n.outputs) {
                    CAPTURE(t);
                    CHECK(max_relative_error(streamed.read_tensor(t), want.at(t)) <= kTolerance);
                }
        }
        // Never all the weights at once.
        CHECK(streamed.memory().weight_bytes < whole.memory().weight_bytes / 4);
        check_released(g, streamed, whole, inputs, every_relu_freed);
    }
}

void check_memory_equal(const MemoryReport& a, const MemoryReport& b) {
    CHECK(a.weight_bytes == b.weight_bytes);
    CHECK(a.peak_activation_bytes == b.peak_activation_bytes);
    CHECK(a.activation_bytes == b.activation_bytes);
}

// A run that throws in the middle of a segment, after earlier segments ran and earlier steps of
// its own were planned (a weight that a conv half-way through reads at run time is taken out of
// the graph for it), leaves the runner as before: the next run gives the same bits as the runner
// that holds every weight, and counts the same weight bytes as a runner that never failed.
void check_failed_run(Context& ctx, rm::Graph g, int64_t batch) {
    const auto inputs = random_inputs(g, batch, 0.0f);
    std::string taken;
    for (size_t i = g.nodes.size() / 2; i < g.nodes.size() && taken.empty(); ++i)
        if (g.nodes[i].op == rm::Op::Conv) taken = g.nodes[i].inputs.at(1);
    REQUIRE(g.is_initializer(taken));
    GraphRunner whole(ctx, g, batch, streamed_options(0));
    whole.run(inputs);
    for (uint64_t bytes : kSegmentBytes) {
        CAPTURE(bytes);
        GraphRunner never_failed(ctx, g, batch, streamed_options(bytes));
        never_failed.run(inputs);
        GraphRunner streamed(ctx, g, batch, streamed_options(bytes));
        streamed.run(inputs);
        const MemoryReport before = streamed.memory();
        auto dense = g.initializers.extract(taken);
        auto structured = g.structured_weights.extract(taken);
        REQUIRE_FALSE(g.is_initializer(taken));
        CHECK_THROWS(streamed.run(inputs));
        if (dense) g.initializers.insert(std::move(dense));
        if (structured) g.structured_weights.insert(std::move(structured));
        check_memory_equal(streamed.memory(), before);
        for (int run = 0; run < 2; ++run) {
            CAPTURE(run);
            streamed.run(inputs);
            CHECK(check_same_bits(g, streamed, whole) == static_cast<int>(g.nodes.size()));
            check_memory_equal(streamed.memory(), never_failed.memory());
        }
    }
}

// x -> Conv -> Relu -> Relu -> Conv -> y: release_weights frees both Relu outputs, the second
// read back as relu of the first, which is itself read back as relu of the conv's output.
rm::Graph relu_chain_graph() {
    rm::Graph g;
    g.name = "relu_chain";
    g.inputs.push_back({"x", {1, 3, 9, 7}});
    rm::Attrs a3;
    a3.kernel = {3, 3};
    a3.pads = {1, 1, 1, 1};
    rm::Attrs a1;
    a1.kernel = {1, 1};
    g.initializers["w1"] = random_tensor({5, 3, 3, 3}, 3);
    g.initializers["w2"] = random_tensor({4, 5, 1, 1}, 4);
    g.nodes.push_back({"conv1", rm::Op::Conv, {"x", "w1"}, {"c"}, a3});
    g.nodes.push_back({"relu1", rm::Op::Relu, {"c"}, {"r1"}, {}});
    g.nodes.push_back({"relu2", rm::Op::Relu, {"r1"}, {"r2"}, {}});
    g.nodes.push_back({"conv2", rm::Op::Conv, {"r2", "w2"}, {"y"}, a1});
    g.outputs = {"y"};
    return g;
}

}  // namespace

TEST_CASE("weights streamed a segment at a time give the same tensors as uploaded at once") {
    auto env = make_gpu_env();
    if (!env) return;
    const rm::Graph residual = small_resnet("resnet50", 32, 28, 9);
    SUBCASE("residual") {
        check_streamed(*env->context, residual, 2, true);
    }
    SUBCASE("plain (structured convs, reserved copies)") {
        check_streamed(*env->context, rm::rm_transform(residual).plain, 1, false);
    }
    check_validation_clean(*env);
}

TEST_CASE("a streamed run that throws mid-segment leaves the runner ready for the next run") {
    auto env = make_gpu_env();
    if (!env) return;
    const rm::Graph residual = small_resnet("resnet18", 32, 28, 9);
    SUBCASE("residual") {
        check_failed_run(*env->context, residual, 2);
    }
    SUBCASE("plain (structured convs, reserved copies)") {
        check_failed_run(*env->context, rm::rm_transform(residual).plain, 1);
    }
    check_validation_clean(*env);
}

TEST_CASE("release_weights frees a Relu whose input is a freed Relu output, read back exactly") {
    auto env = make_gpu_env();
    if (!env) return;
    const rm::Graph g = relu_chain_graph();
    const auto inputs = random_inputs(g, 1, -1.0f);  // negative values for the Relus to clear
    GraphRunner whole(*env->context, g, 1, streamed_options(0));
    whole.run(inputs);
    const auto want = rm::run_cpu(g, inputs);
    for (uint64_t bytes : kSegmentBytes) {
        CAPTURE(bytes);
        GraphRunner streamed(*env->context, g, 1, streamed_options(bytes));
        streamed.run(inputs);
        CHECK(check_same_bits(g, streamed, whole) == 4);
        CHECK(max_relative_error(streamed.read_tensor("y"), want.at("y")) <= kTolerance);
        check_released(g, streamed, whole, inputs, true);
    }
    check_validation_clean(*env);
}
