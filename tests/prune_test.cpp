// Channel pruning (rm/prune): what each zero of the sparse test model frees in the plain and the
// residual graph, that removing exact zeros changes no output, constants folded into biases,
// the threshold, and an ONNX round trip.
#include "rm/prune.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "prune_test_graphs.hpp"
#include "rm/onnx_io.hpp"
#include "rm/shape_inference.hpp"

namespace fs = std::filesystem;
using rm::PruneMode;

namespace {

const rm::PrunedLayer& layer(const rm::PruneResult& r, const std::string& node) {
    for (const auto& l : r.layers)
        if (l.node == node) return l;
    FAIL("no layer " << node);
    throw;
}

// out_before -> out_after, in_before -> in_after.
void check_layer(const rm::PruneResult& r, const std::string& node, int64_t out_before,
                 int64_t out_after, int64_t in_before, int64_t in_after) {
    CAPTURE(node);
    const auto& l = layer(r, node);
    CHECK(l.out_before == out_before);
    CHECK(l.out_after == out_after);
    CHECK(l.in_before == in_before);
    CHECK(l.in_after == in_after);
}

// The pruned graph's weights as shape inference sees them agree with the report.
void check_shapes(const rm::PruneResult& r) {
    rm::Graph g = r.graph;
    const rm::ShapeMap shapes = rm::infer_shapes(g, 2);
    for (const auto& l : r.layers) {
        const rm::Node* n = g.find_node(l.node);
        REQUIRE(n);
        const rm::Shape& out = shapes.at(n->outputs[0]);
        CHECK(out.at(1) == l.out_after);
    }
}

void check_same(const rm::Graph& ref, const rm::Graph& test, double rel = 1e-6) {
    const auto c = passtest::compare_outputs(ref, test, passtest::random_input({3, 3, 9, 9}));
    CAPTURE(c.max_abs_diff);
    CAPTURE(c.max_abs_ref);
    CHECK(c.max_abs_ref > 0.01);
    CHECK(c.max_abs_diff <= rel * c.max_abs_ref);
}

}  // namespace

TEST_CASE("plain pruning removes every zero channel, reserved copies included, exactly") {
    const rm::Graph residual = prunetest::sparse_resnet_with_zeros();
    const rm::PruneBase base = rm::prepare_pruning(residual, PruneMode::Plain);
    const rm::PruneResult r = rm::prune(base, 0.0);
    // stem channel 3 is zero: the stem loses it, so does its reserved copy in b1.conv1.
    check_layer(r, "stem", 6, 5, 3, 3);
    // b1.conv1: reserved 0..5 (3 copies zero, 2 and 5 unread by the merge), internal 1 and 4.
    check_layer(r, "b1.conv1.rm", 12, 7, 6, 5);
    check_layer(r, "b1.conv2.rm", 6, 5, 12, 7);  // block output 5: both paths zero
    // b2.conv1: the reserved copies of y1's 1 (the projection ignores it) and 5 (gone), internal 0.
    check_layer(r, "b2.conv1.rm", 14, 11, 6, 5);
    check_layer(r, "b2.conv2.rm", 8, 7, 14, 11);
    check_layer(r, "fc", 4, 4, 8, 7);
    CHECK(r.approximations.empty());
    CHECK(r.channels_before == 6 + 12 + 6 + 14 + 8);
    CHECK(r.channels_after == 5 + 7 + 5 + 11 + 7);
    check_shapes(r);
    check_same(residual, r.graph);
    check_same(base.graph, r.graph);
    // The reserved channels that survive in b1.conv1 are copies of stem 0, 1 and 4.
    const auto& kept = r.kept_channels.at("b1.conv1.rm");
    CHECK(kept == std::vector<int64_t>{0, 1, 4, 6, 8, 9, 11});
    CHECK(r.kept_channels.at("fc").empty() == false);
}

TEST_CASE("residual pruning removes only what no residual Add ties") {
    const rm::Graph residual = prunetest::sparse_resnet_with_zeros();
    const rm::PruneBase base = rm::prepare_pruning(residual, PruneMode::Residual);
    const rm::PruneResult r = rm::prune(base, 0.0);
    check_layer(r, "stem", 6, 6, 3, 3);  // tied to block 1's Add
    check_layer(r, "b1.conv1", 6, 4, 6, 6);
    check_layer(r, "b1.conv2", 6, 6, 6, 4);  // output 5 is zero, but stem's channel 5 is not
    check_layer(r, "b2.conv1", 8, 7, 6, 6);
    // Block 2's output 7 is zero on both paths and only the classifier reads it.
    check_layer(r, "b2.conv2", 8, 7, 8, 7);
    check_layer(r, "b2.down", 8, 7, 6, 6);
    check_layer(r, "fc", 4, 4, 8, 7);
    check_shapes(r);
    check_same(residual, r.graph);
    // The shortcut Mul narrows with its Add: still a ResNet, with two Adds.
    CHECK(passtest::count_op(r.graph, rm::Op::Add) == 2);
}

TEST_CASE("a constant channel is folded into the next bias: exact unpadded, else listed") {
    rm::Graph residual = prunetest::sparse_resnet();
    // Block 2's output 6 is the constant relu(0.4 + 0.3) everywhere: GAP and fc read it.
    prunetest::flatten_bn_channel(residual, "b2.conv2.bn", 6, 0.4f);
    prunetest::flatten_bn_channel(residual, "b2.down.bn", 6, 0.3f);
    for (PruneMode mode : {PruneMode::Plain, PruneMode::Residual}) {
        CAPTURE(rm::prune_mode_name(mode));
        const rm::PruneResult r = rm::prune(rm::prepare_pruning(residual, mode), 0.0);
        CHECK(layer(r, "fc").in_after == 7);
        CHECK(r.constants_folded_exactly == 1);
        CHECK(r.approximations.empty());
        check_same(residual, r.graph);
    }
    // Block-internal channel 2 of b1 is the constant 0.7: b1.conv2 pads, so folding it is
    // exact away from the border only.
    prunetest::flatten_bn_channel(residual, "b1.conv1.bn", 2, 0.7f);
    const rm::PruneResult r = rm::prune(rm::prepare_pruning(residual, PruneMode::Plain), 0.0);
    REQUIRE(r.approximations.size() == 1);
    CHECK(r.approximations[0].node == "b1.conv2.rm");
    CHECK(r.approximations[0].channels == 1);
    const auto c =
        passtest::compare_outputs(residual, r.graph, passtest::random_input({3, 3, 9, 9}));
    CHECK(c.max_abs_diff > 1e-6 * c.max_abs_ref);  // not exact, as reported
}

TEST_CASE("a threshold zeroes small rows and columns first; a larger one prunes more") {
    const rm::Graph residual = prunetest::sparse_resnet_with_zeros();
    for (PruneMode mode : {PruneMode::Plain, PruneMode::Residual}) {
        CAPTURE(rm::prune_mode_name(mode));
        const rm::PruneBase base = rm::prepare_pruning(residual, mode);
        const std::vector<double> scores = rm::prune_scores(base);
        REQUIRE(scores.size() > 10);
        CHECK(std::is_sorted(scores.begin(), scores.end()));
        int64_t last = rm::prune(base, 0.0).channels_after;
        for (double q : {0.2, 0.5, 0.8}) {
            const double t = scores[static_cast<size_t>(q * static_cast<double>(scores.size()))];
            const rm::PruneResult r = rm::prune(base, t);
            CHECK(r.rows_zeroed + r.columns_zeroed > 0);
            CHECK(r.channels_after <= last);
            last = r.channels_after;
            check_shapes(r);
            // Still runs and gives finite numbers.
            const auto c =
                passtest::compare_outputs(residual, r.graph, passtest::random_input({2, 3, 9, 9}));
            CHECK(std::isfinite(c.max_abs_diff));
        }
        // Above every score: one channel stays per feature map, the model still runs.
        const rm::PruneResult all = rm::prune(base, scores.back() * 2);
        for (const auto& l : all.layers) CHECK(l.out_after >= 1);
    }
    // In the residual graph the threshold touches only block-internal channels: the tied
    // convs (stem, b1.conv2) keep theirs while block 1 still reads them.
    const rm::PruneBase base = rm::prepare_pruning(residual, PruneMode::Residual);
    std::vector<double> scores = rm::prune_scores(base);
    scores.erase(std::remove(scores.begin(), scores.end(), 0.0), scores.end());
    const rm::PruneResult r = rm::prune(base, scores.at(2));
    CHECK(r.rows_zeroed + r.columns_zeroed == 2);
    check_layer(r, "stem", 6, 6, 3, 3);
    CHECK(layer(r, "b1.conv2").out_after == 6);
}

TEST_CASE("a pruned model round-trips through ONNX") {
    const rm::Graph residual = prunetest::sparse_resnet_with_zeros();
    for (PruneMode mode : {PruneMode::Plain, PruneMode::Residual}) {
        CAPTURE(rm::prune_mode_name(mode));
        const rm::PruneResult r = rm::prune(rm::prepare_pruning(residual, mode), 0.0);
        const fs::path path =
            fs::temp_directory_path() / (std::string("rmvk_prune_") + rm::prune_mode_name(mode) +
                                         std::to_string(::getpid()) + ".onnx");
        rm::save_onnx(r.graph, path.string());
        const rm::Graph back = rm::load_onnx(path.string());
        fs::remove(path);
        for (const auto& l : r.layers) {
            const rm::Node* n = back.find_node(l.node);
            REQUIRE(n);
            const rm::Shape* w = back.initializer_shape(n->inputs.at(1));
            REQUIRE(w);
            CHECK(w->at(0) == (l.op == rm::Op::Conv ? l.out_after : l.out_after));
        }
        const auto c =
            passtest::compare_outputs(r.graph, back, passtest::random_input({2, 3, 9, 9}));
        CHECK(c.max_abs_diff == 0.0);
    }
}
