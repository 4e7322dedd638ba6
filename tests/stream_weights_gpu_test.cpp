// RunOptions::stream_weight_bytes (weights uploaded a segment at a time, as the app's
// feature-map runs do) against the runner that uploads them all while preparing, bit for bit
// on every tensor, and against the CPU executor; then release_weights (which also frees the
// Relu outputs, read back as relu of their input) changes no tensor.
#include <cmath>
#include <cstring>

#include "gpu_test_util.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/resnet_builder.hpp"
#include "rm/rm_transform.hpp"

using namespace rmvk;
using namespace rmvk::test;

namespace {

RunOptions feature_map_options(uint64_t stream_weight_bytes) {
    RunOptions o;
    o.keep_intermediates = true;
    o.fuse = false;
    o.timestamps = false;
    o.winograd = false;
    o.stream_weight_bytes = stream_weight_bytes;
    return o;
}

bool same_bits(const rm::Tensor& a, const rm::Tensor& b) {
    return a.shape == b.shape &&
           std::memcmp(a.ptr(), b.ptr(), static_cast<size_t>(a.size()) * sizeof(float)) == 0;
}

// Equal values (a ReLU computed again on the host may write 0 where the device wrote -0).
bool same_values(const rm::Tensor& a, const rm::Tensor& b) {
    if (a.shape != b.shape) return false;
    for (int64_t i = 0; i < a.size(); ++i)
        if (!(a.data[i] == b.data[i] || (std::isnan(a.data[i]) && std::isnan(b.data[i]))))
            return false;
    return true;
}

void check_streamed(Context& ctx, const rm::Graph& g, int64_t batch) {
    rm::Shape shape = g.inputs.at(0).shape;
    shape[0] = batch;
    const std::map<std::string, rm::Tensor> inputs{
        {g.inputs.at(0).name, random_tensor(shape, 17, 0.0f, 1.0f)}};
    rm::CpuRunOptions cpu;
    cpu.keep_intermediates = true;
    const auto want = rm::run_cpu(g, inputs, cpu);
    GraphRunner whole(ctx, g, batch, feature_map_options(0));
    whole.run(inputs);
    // 1 byte: every step with weights is a segment of its own; 64 KiB: a few steps each.
    for (uint64_t bytes : {uint64_t{1}, uint64_t{64} << 10}) {
        CAPTURE(bytes);
        GraphRunner streamed(ctx, g, batch, feature_map_options(bytes));
        for (int run = 0; run < 2; ++run) {  // a second run uploads the weights again
            CAPTURE(run);
            streamed.run(inputs);
            int checked = 0;
            for (const auto& n : g.nodes)
                for (const auto& t : n.outputs) {
                    CAPTURE(t);
                    CHECK(same_bits(streamed.read_tensor(t), whole.read_tensor(t)));
                    CHECK(max_relative_error(streamed.read_tensor(t), want.at(t)) <= kTolerance);
                    ++checked;
                }
            CHECK(checked == static_cast<int>(g.nodes.size()));
        }
        // Never all the weights at once.
        CHECK(streamed.memory().weight_bytes < whole.memory().weight_bytes / 4);
        // Released for viewing: the weights and the Relu outputs go, every tensor reads the same.
        streamed.release_weights();
        for (const auto& n : g.nodes)
            for (const auto& t : n.outputs) {
                CAPTURE(t);
                CHECK(same_values(streamed.read_tensor(t), whole.read_tensor(t)));
            }
    }
}

}  // namespace

TEST_CASE("weights streamed a segment at a time give the same tensors as uploaded at once") {
    auto env = make_gpu_env();
    if (!env) return;
    rm::ResNetConfig c;
    c.arch = "resnet50";
    c.base_width = 8;
    c.input_height = 32;
    c.input_width = 28;
    c.num_classes = 10;
    c.seed = 9;
    const rm::Graph residual = rm::build_resnet(c);
    SUBCASE("residual") {
        check_streamed(*env->context, residual, 2);
    }
    SUBCASE("plain (structured convs, reserved copies)") {
        check_streamed(*env->context, rm::rm_transform(residual).plain, 1);
    }
    check_validation_clean(*env);
}
