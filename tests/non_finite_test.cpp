// Where NaN/Inf enter a model: the warnings that name an initializer or the input.
#include "rm/non_finite.hpp"

#include <doctest/doctest.h>

#include <limits>

#include "rm/resnet_builder.hpp"

TEST_CASE("initializers with NaN/Inf are named with their role and count, in graph order") {
    rm::ResNetConfig config;
    config.input_height = config.input_width = 32;
    config.num_classes = 10;
    config.base_width = 8;
    rm::Graph g = rm::build_resnet(config);
    CHECK(rm::non_finite_initializer_warnings(g).empty());
    const rm::Node* bn = nullptr;
    const rm::Node* fc = nullptr;
    for (const auto& n : g.nodes) {
        if (!bn && n.op == rm::Op::BatchNormalization) bn = &n;
        if (n.op == rm::Op::Gemm) fc = &n;
    }
    REQUIRE(bn != nullptr);
    REQUIRE(fc != nullptr);
    rm::Tensor& var = g.initializers.at(bn->inputs.at(4));
    var.data[1] = std::numeric_limits<float>::quiet_NaN();
    rm::Tensor& w = g.initializers.at(fc->inputs.at(1));
    w.data[w.size() - 1] = -std::numeric_limits<float>::infinity();
    w.data[w.size() - 2] = std::numeric_limits<float>::infinity();
    auto warnings = rm::non_finite_initializer_warnings(g);
    REQUIRE(warnings.size() == 2);
    CHECK(warnings[0] == "initializer '" + bn->inputs[4] + "' (variance of BatchNormalization '" +
                             bn->name + "') holds 1 NaN/Inf value of " +
                             std::to_string(var.size()) + ", the first (NaN) at index 1");
    CHECK(warnings[1] == "initializer '" + fc->inputs[1] + "' (weight of Gemm '" + fc->name +
                             "') holds 2 NaN/Inf values of " + std::to_string(w.size()) +
                             ", the first (+Inf) at index " + std::to_string(w.size() - 2));
}

TEST_CASE("the input warning counts every non-finite value, and is empty when there is none") {
    rm::Tensor x({1, 2, 2}, 0.5f);
    CHECK(rm::non_finite_input_warning(x, "x.npy").empty());
    x.data[3] = std::numeric_limits<float>::quiet_NaN();
    CHECK(rm::non_finite_input_warning(x, "x.npy") ==
          "input 'x.npy' holds 1 NaN/Inf value of 4, the first (NaN) at index 3");
}
