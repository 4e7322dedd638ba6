#pragma once
// A small sparsity-trained-looking ResNet for the pruning tests: stem, an identity block and a
// projection block, each shortcut scaled by a per-channel Mul, BN kept, GAP + Gemm classifier.
#include "pass_test_graphs.hpp"

namespace prunetest {

// Sets channel c of a BN to gamma*xhat + beta = `beta` (gamma 0): a zero or constant channel.
inline void flatten_bn_channel(rm::Graph& g, const std::string& bn, int64_t c, float beta = 0) {
    g.initializers.at(bn + ".weight").data[c] = 0.0f;
    g.initializers.at(bn + ".bias").data[c] = beta;
}

// input [N,3,9,9] -> stem 3->6 -> block1 (identity, 6) -> block2 (projection 6->8, stride 2)
// -> GAP -> Flatten -> Gemm 8->4. Shortcut scales: "b1.scale" [6,1,1], "b2.scale" [6,1,1] on the
// projection's input.
inline rm::Graph sparse_resnet() {
    using rm::Op;
    passtest::GraphMaker m({-1, 3, 9, 9}, 11);
    auto& g = m.g;
    auto conv_bn_relu = [&](const std::string& name, const std::string& x, int64_t cin,
                            int64_t cout, int64_t stride) {
        m.conv(name, x, cin, cout, 3, stride);
        m.bn(name + ".bn", name, cout);
        return m.op(name + ".relu", Op::Relu, {name + ".bn"});
    };
    const std::string stem = conv_bn_relu("stem", "input", 3, 6, 1);

    const std::string h1 = conv_bn_relu("b1.conv1", stem, 6, 6, 1);
    m.conv("b1.conv2", h1, 6, 6, 3);
    m.bn("b1.conv2.bn", "b1.conv2", 6);
    g.initializers["b1.scale"] = m.random({6, 1, 1}, -1.2f, 1.2f);
    m.op("b1.shortcut", Op::Mul, {stem, "b1.scale"});
    m.op("b1.add", Op::Add, {"b1.conv2.bn", "b1.shortcut"});
    const std::string y1 = m.op("b1.relu", Op::Relu, {"b1.add"});

    g.initializers["b2.scale"] = m.random({6, 1, 1}, 0.5f, 1.5f);
    m.op("b2.shortcut", Op::Mul, {y1, "b2.scale"});
    m.conv("b2.down", "b2.shortcut", 6, 8, 1, 2, {0, 0, 0, 0});
    m.bn("b2.down.bn", "b2.down", 8);
    const std::string h2 = conv_bn_relu("b2.conv1", y1, 6, 8, 2);
    m.conv("b2.conv2", h2, 8, 8, 3);
    m.bn("b2.conv2.bn", "b2.conv2", 8);
    m.op("b2.add", Op::Add, {"b2.conv2.bn", "b2.down.bn"});
    const std::string y2 = m.op("b2.relu", Op::Relu, {"b2.add"});

    m.op("gap", Op::GlobalAveragePool, {y2});
    m.op("flat", Op::Flatten, {"gap"});
    g.initializers["fc.weight"] = m.random({4, 8}, -0.5f, 0.5f);
    g.initializers["fc.bias"] = m.random({4}, -0.1f, 0.1f);
    rm::Attrs fc;
    fc.trans_b = true;
    m.op("fc", Op::Gemm, {"flat", "fc.weight", "fc.bias"}, fc);
    m.output("fc");
    return g;
}

// The zeros a sparsity-trained model has: see prune_test.cpp for what each one frees.
inline rm::Graph sparse_resnet_with_zeros() {
    rm::Graph g = sparse_resnet();
    flatten_bn_channel(g, "stem.bn", 3);      // stem channel 3 (tied to block 1's Add)
    flatten_bn_channel(g, "b1.conv1.bn", 1);  // block-internal
    flatten_bn_channel(g, "b1.conv1.bn", 4);
    g.initializers.at("b1.scale").data[2] = 0.0f;  // reserved copy of channel 2 unused
    flatten_bn_channel(g, "b1.conv2.bn", 5);       // block 1 output 5: both paths zero
    g.initializers.at("b1.scale").data[5] = 0.0f;
    flatten_bn_channel(g, "b2.conv1.bn", 0);       // block-internal
    g.initializers.at("b2.scale").data[1] = 0.0f;  // projection reads nothing of channel 1
    flatten_bn_channel(g, "b2.conv2.bn", 7);       // block 2 output 7: both paths zero
    flatten_bn_channel(g, "b2.down.bn", 7);
    return g;
}

}  // namespace prunetest
