// Devices whose memory the host cannot map (discrete GPUs), as lavapipe with mapping turned
// off: a run copies its inputs and outputs through persistent staging buffers inside its own
// command buffer, one submit per run, and still matches the CPU executor, also in fp16.
#include "app/engine/context_impl.hpp"
#include "gpu_test_util.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/resnet_builder.hpp"

using namespace rmvk;
using namespace rmvk::test;

TEST_CASE("unmapped device memory: one submit per run, outputs as on the CPU") {
    auto env = make_gpu_env();
    if (!env) return;
    Context::Impl& ctx = env->context->impl();
    ctx.map_device_local = false;
    rm::ResNetConfig c;
    c.arch = "resnet18";
    c.base_width = 8;
    c.input_height = 32;
    c.input_width = 28;
    c.num_classes = 10;
    c.seed = 3;
    const rm::Graph g = rm::build_resnet(c);
    std::vector<Precision> precisions{Precision::Fp32};
    if (ctx.info.storage_buffer_16bit) precisions.push_back(Precision::Fp16);
    for (Precision p : precisions) {
        CAPTURE(precision_name(p));
        RunOptions options;
        options.precision = p;
        GraphRunner runner(*env->context, g, 2, options);
        for (uint32_t seed : {1u, 2u}) {  // the second run reuses the staging buffers
            rm::Shape shape = g.inputs[0].shape;
            shape[0] = 2;
            rm::Tensor x = random_tensor(shape, seed, 0.0f, 1.0f);
            std::map<std::string, rm::Tensor> in{{g.inputs[0].name, x}};
            const uint64_t before = ctx.submits;
            RunResult r = runner.run(in);
            CHECK(ctx.submits - before == 1);
            const double err =
                max_relative_error(r.outputs.at(g.outputs[0]), rm::run_cpu(g, in).at(g.outputs[0]));
            CHECK(err <= (p == Precision::Fp32 ? kTolerance : rm::kFp16MatchTolerance));
            // The device copy agrees with what came back through staging.
            CHECK(max_relative_error(runner.read_tensor(g.outputs[0]),
                                     r.outputs.at(g.outputs[0])) == 0);
        }
    }
    ctx.map_device_local = true;
    check_validation_clean(*env);
}
