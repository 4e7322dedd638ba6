#include "rm/fold_batchnorm.hpp"

#include <doctest/doctest.h>

#include <cmath>

#include "pass_test_graphs.hpp"
#include "rm/batchnorm.hpp"
#include "rm/error.hpp"

using passtest::GraphMaker;

TEST_CASE("fold_batchnorm folds Conv+BN exactly in double and keeps the mapping") {
    GraphMaker m({1, 3, 9, 7});
    std::string x = m.conv("conv", "input", 3, 5, 3, 2, {}, 1, 1, /*bias=*/true);
    x = m.bn("bn", x, 5);
    x = m.op("relu", rm::Op::Relu, {x});
    m.output(x);

    rm::FoldResult f = rm::fold_batchnorm(m.g);
    CHECK(f.folded == 1);
    CHECK(passtest::count_op(f.graph, rm::Op::BatchNormalization) == 0);
    REQUIRE(f.graph.nodes.size() == 2);
    const rm::Node& conv = f.graph.nodes[0];
    CHECK(conv.name == "conv");
    CHECK(conv.outputs[0] == "bn");  // the folded conv writes the BN's tensor
    CHECK(f.mapping.at("conv").residual_nodes == std::vector<std::string>{"conv", "bn"});
    CHECK(f.mapping.at("relu").residual_nodes == std::vector<std::string>{"relu"});

    // Every folded value equals the double-precision formula rounded once.
    const auto& w = m.g.initializers.at("conv.weight");
    const auto& b = m.g.initializers.at("conv.bias");
    const auto& gamma = m.g.initializers.at("bn.weight");
    const auto& beta = m.g.initializers.at("bn.bias");
    const auto& mean = m.g.initializers.at("bn.running_mean");
    const auto& var = m.g.initializers.at("bn.running_var");
    const auto& wf = f.graph.initializers.at(conv.inputs[1]);
    const auto& bf = f.graph.initializers.at(conv.inputs[2]);
    const int64_t per = 3 * 3 * 3;
    for (int64_t c = 0; c < 5; ++c) {
        double s = double(gamma.data[c]) / std::sqrt(double(var.data[c]) + double(1e-5f));
        for (int64_t k = 0; k < per; ++k)
            CHECK(wf.data[c * per + k] == static_cast<float>(double(w.data[c * per + k]) * s));
        CHECK(bf.data[c] ==
              static_cast<float>(double(beta.data[c]) + (double(b.data[c]) - mean.data[c]) * s));
    }
    // BN parameters are gone from the folded model.
    CHECK(f.graph.initializers.count("bn.running_var") == 0);

    auto cmp = passtest::compare_outputs(m.g, f.graph, passtest::random_input({1, 3, 9, 7}));
    CHECK(cmp.max_abs_ref > 0.1);
    CHECK(cmp.max_abs_diff <= 1e-5 * cmp.max_abs_ref);
}

TEST_CASE("fold_batchnorm adds a bias to a bias-free conv and leaves shared outputs alone") {
    GraphMaker m({2, 4, 6, 6});
    std::string c1 = m.conv("c1", "input", 4, 4, 3);
    std::string b1 = m.bn("b1", c1, 4);
    // c2's output is read by the BN and by the Add: folding would change the Add's input.
    std::string c2 = m.conv("c2", b1, 4, 4, 1);
    std::string b2 = m.bn("b2", c2, 4);
    std::string sum = m.op("sum", rm::Op::Add, {b2, c2});
    m.output(sum);

    rm::FoldResult f = rm::fold_batchnorm(m.g);
    CHECK(f.folded == 1);
    CHECK(passtest::count_op(f.graph, rm::Op::BatchNormalization) == 1);
    CHECK(f.graph.find_node("b2") != nullptr);
    CHECK(f.graph.find_node("c1")->inputs.size() == 3);
    auto cmp = passtest::compare_outputs(m.g, f.graph, passtest::random_input({2, 4, 6, 6}));
    CHECK(cmp.max_abs_ref > 0.1);
    CHECK(cmp.max_abs_diff <= 1e-5 * cmp.max_abs_ref);
    // The engine fuses exactly the BNs the pass folds.
    CHECK(rm::foldable_batchnorms(m.g) == std::unordered_set<std::string>{"b1"});
}

TEST_CASE("fold_batchnorm bypasses Identity nodes and records them") {
    GraphMaker m({1, 2, 5, 5});
    std::string c = m.conv("c", "input", 2, 3, 3);
    std::string id = m.op("id", rm::Op::Identity, {c});
    std::string r = m.op("r", rm::Op::Relu, {id});
    std::string out = m.op("out_id", rm::Op::Identity, {r});  // a graph output: kept
    m.output(out);

    rm::FoldResult f = rm::fold_batchnorm(m.g);
    CHECK(f.identities_removed == 1);
    CHECK(f.graph.find_node("id") == nullptr);
    CHECK(f.graph.find_node("out_id") != nullptr);
    CHECK(f.graph.find_node("r")->inputs[0] == "c");
    CHECK(f.mapping.at("c").residual_nodes == std::vector<std::string>{"c", "id"});
    auto cmp = passtest::compare_outputs(m.g, f.graph, passtest::random_input({1, 2, 5, 5}));
    CHECK(cmp.max_abs_ref > 0.01);
    CHECK(cmp.max_abs_diff == 0.0);
}

TEST_CASE("fold_batchnorm leaves a BN-fused model unchanged") {
    GraphMaker m({1, 3, 8, 8});
    std::string x = m.conv("c", "input", 3, 4, 3, 1, {}, 1, 1, true);
    x = m.op("r", rm::Op::Relu, {x});
    m.output(x);
    rm::FoldResult f = rm::fold_batchnorm(m.g);
    CHECK(f.folded == 0);
    CHECK(f.graph.nodes.size() == 2);
    CHECK(f.graph.initializers.at("c.weight").data == m.g.initializers.at("c.weight").data);
}

TEST_CASE("fold_batchnorm reports malformed BN parameters") {
    GraphMaker m({1, 3, 8, 8});
    std::string x = m.conv("c", "input", 3, 4, 3);
    x = m.bn("bn", x, 4);
    m.output(x);
    m.g.initializers["bn.running_var"] = rm::Tensor(rm::Shape{3}, 1.0f);
    CHECK_THROWS_WITH_AS(rm::fold_batchnorm(m.g), doctest::Contains("'bn'"), rm::Error);
}
