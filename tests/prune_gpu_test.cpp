// Pruned models, plain and residual, on the Vulkan engine against the CPU executor: narrowed
// convs (structured again after pruning), a narrowed shortcut Mul and classifier.
#include <doctest/doctest.h>

#include "app/engine/model_eval.hpp"
#include "gpu_test_util.hpp"
#include "prune_test_graphs.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/onnx_io.hpp"
#include "rm/prune.hpp"

using namespace rmvk;
using namespace rmvk::test;

TEST_CASE("pruned models give the CPU executor's output on the GPU") {
    auto env = make_gpu_env();
    if (!env) return;
    const rm::Graph residual = prunetest::sparse_resnet_with_zeros();
    for (rm::PruneMode mode : {rm::PruneMode::Plain, rm::PruneMode::Residual}) {
        const rm::PruneBase base = rm::prepare_pruning(residual, mode);
        const std::vector<double> scores = rm::prune_scores(base);
        for (double t : {0.0, scores.at(scores.size() / 3)}) {
            CAPTURE(rm::prune_mode_name(mode));
            CAPTURE(t);
            const rm::PruneResult r = rm::prune(base, t);
            CHECK(r.channels_after < r.channels_before);
            for (int64_t batch : {1, 3}) {
                const rm::Tensor x = random_tensor({batch, 3, 9, 9}, 17, -1.0f, 1.0f);
                std::map<std::string, rm::Tensor> in{{"input", x}};
                const rm::Tensor want = rm::run_cpu(r.graph, in).at("fc");
                const rm::Tensor got = run_gpu(*env->context, r.graph, in, batch);
                CHECK(max_relative_error(got, want) <= kTolerance);
            }
        }
    }
    check_validation_clean(*env);
}

TEST_CASE("top1_accuracy measures the graph it is given, also one at a reused address") {
    auto env = make_gpu_env();
    if (!env) return;
    // A 28x28 one-channel model with 10 classes: the sparse fixture's architecture in small.
    const rm::Graph residual = rm::load_onnx(std::string(RMVK_FIXTURE_DIR) + "/sparse_tiny.onnx");
    const rm::PruneBase base = rm::prepare_pruning(residual, rm::PruneMode::Plain);
    rm::LabelledImages set;
    set.count = 150;
    set.rows = set.cols = 28;
    set.pixels.resize(150 * 28 * 28);
    for (size_t i = 0; i < set.pixels.size(); ++i) set.pixels[i] = uint8_t((i * 2654435761u) >> 24);
    const rm::Preprocessing pre = rm::preprocessing_for(residual);
    BatchRunner runner(env->context.get());
    const std::vector<double> scores = rm::prune_scores(base);
    for (double t : {0.0, scores.at(scores.size() * 3 / 4)}) {
        CAPTURE(t);
        const rm::PruneResult r = rm::prune(base, t);  // same stack slot each time round
        // Labels: what this graph predicts on the CPU, so its accuracy is 100%.
        const rm::Tensor y = rm::run_cpu(r.graph, {{"input", rm::image_batch(set, 0, 150, pre)}})
                                 .at(r.graph.outputs.at(0));
        set.labels.resize(150);
        for (int64_t i = 0; i < 150; ++i)
            set.labels[size_t(i)] = uint8_t(
                std::max_element(y.ptr() + i * 10, y.ptr() + i * 10 + 10) - (y.ptr() + i * 10));
        CHECK(top1_accuracy(runner, r.graph, set, pre, 100) == doctest::Approx(100.0));
    }
}
