// Every PyTorch-exported fixture (opsets 7 to 21), residual and plain, run by rmvk's Vulkan
// kernels, matches PyTorch's own output: max|d| <= 1e-4 * max|ref|.
#include <algorithm>
#include <filesystem>

#include "gpu_test_util.hpp"
#include "rm/npy.hpp"
#include "rm/onnx_io.hpp"
#include "rm/rm_transform.hpp"

namespace fs = std::filesystem;
using namespace rmvk;
using namespace rmvk::test;

TEST_CASE("Vulkan kernels match PyTorch on every fixture, residual and plain") {
    auto env = make_gpu_env();
    if (!env) return;
    std::vector<fs::path> models;
    for (const auto& entry : fs::directory_iterator(fs::path(RMVK_FIXTURE_DIR) / "pytorch"))
        if (entry.path().extension() == ".onnx") models.push_back(entry.path());
    std::sort(models.begin(), models.end());
    REQUIRE(models.size() >= 16);
    for (const auto& model : models) {
        const std::string stem = model.stem().string();
        CAPTURE(stem);
        const fs::path dir = model.parent_path();
        const rm::Graph residual = rm::load_onnx(model.string());
        const rm::Graph plain = rm::rm_transform(residual).plain;
        const rm::Tensor x = rm::read_npy((dir / (stem + ".input.npy")).string());
        const rm::Tensor ref = rm::read_npy((dir / (stem + ".output.npy")).string());
        for (const rm::Graph* g : {&residual, &plain}) {
            const rm::Tensor y =
                run_gpu(*env->context, *g, {{g->inputs.at(0).name, x}}, x.shape[0]);
            const double err = max_relative_error(y, ref);
            MESSAGE(stem << (g == &residual ? " residual" : " plain")
                         << ": max|d|/max|ref| = " << err);
            CHECK(err <= kTolerance);
        }
    }
    check_validation_clean(*env);
}
