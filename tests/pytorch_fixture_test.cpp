// Every PyTorch-exported fixture, run by rmvk's CPU reference, matches PyTorch's own output:
// max|Δ| ≤ 1e-4 · max|ref|. Fixtures come from tests/fixtures/make_fixtures.py.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "rm/compare.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/npy.hpp"
#include "rm/onnx_io.hpp"

namespace fs = std::filesystem;

TEST_CASE("CPU reference matches PyTorch on every fixture") {
    std::vector<fs::path> models;
    for (const auto& entry : fs::directory_iterator(fs::path(RMVK_FIXTURE_DIR) / "pytorch"))
        if (entry.path().extension() == ".onnx") models.push_back(entry.path());
    std::sort(models.begin(), models.end());
    REQUIRE(models.size() >= 10);
    for (const auto& model : models) {
        const std::string stem = model.stem().string();
        SUBCASE(stem.c_str()) {
            const fs::path dir = model.parent_path();
            rm::Graph g = rm::load_onnx(model.string());
            rm::Tensor x = rm::read_npy((dir / (stem + ".input.npy")).string());
            rm::Tensor ref = rm::read_npy((dir / (stem + ".output.npy")).string());
            REQUIRE(g.inputs.size() == 1);
            REQUIRE(g.outputs.size() == 1);
            auto out = rm::run_cpu(g, {{g.inputs[0].name, x}});
            const rm::Tensor& y = out.at(g.outputs[0]);
            REQUIRE(y.shape == ref.shape);
            const auto c = rm::compare_outputs(ref, y);
            MESSAGE(stem << ": max|d| = " << c.max_abs_diff << ", max|ref| = " << c.max_abs_ref);
            CHECK(c.max_abs_ref > 0.01);
            CHECK(c.match());
        }
    }
}
