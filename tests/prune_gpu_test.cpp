// Pruned models, plain and residual, on the Vulkan engine against the CPU executor: narrowed
// convs (structured again after pruning), a narrowed shortcut Mul and classifier.
#include <doctest/doctest.h>

#include "gpu_test_util.hpp"
#include "prune_test_graphs.hpp"
#include "rm/cpu_executor.hpp"
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
