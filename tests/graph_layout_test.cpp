// The graph panes' layout, without a window: layers top to bottom, a shortcut in a lane of its
// own beside a straight main chain, and a collapsed residual block drawn as one box.
#include "ui/graph_layout.hpp"

#include <doctest/doctest.h>

#include "pass_test_graphs.hpp"
#include "rm/shape_inference.hpp"

using namespace rmvk;
using ui::build_layout;
using ui::LayoutNode;

namespace {

// input -> c1 -> r1 -> c2 -> add(c2, input) -> out (a ReLU): one identity residual block.
rm::Graph residual_block() {
    passtest::GraphMaker m({1, 8, 6, 6});
    m.conv("c1", "input", 8, 8, 3);
    m.op("r1", rm::Op::Relu, {"c1"});
    m.conv("c2", "r1", 8, 8, 3);
    m.op("add", rm::Op::Add, {"c2", "input"});
    m.op("out", rm::Op::Relu, {"add"});
    m.output("out");
    return m.g;
}

const LayoutNode& box(const ui::GraphLayout& l, const std::string& node) {
    return l.nodes.at(size_t(l.box_of.at(node)));
}

}  // namespace

TEST_CASE("a residual block: one layer per node, the shortcut in its own lane") {
    rm::Graph g = residual_block();
    const rm::ShapeMap shapes = rm::infer_shapes(g);
    const ui::GraphLayout l = build_layout(g, shapes, {}, {}, nullptr);

    // input, 5 nodes, output, and one dummy per layer the shortcut skips (c1, r1, c2).
    CHECK(l.nodes.size() == 10);
    int dummies = 0;
    for (const auto& n : l.nodes) dummies += n.kind == LayoutNode::Kind::Dummy;
    CHECK(dummies == 3);
    CHECK(l.edges.size() == 7);

    // Layer k sits at k * (44 + 8 + 38) + 4 pixels; seven layers in all.
    const char* order[] = {"c1", "r1", "c2", "add", "out"};
    for (int k = 0; k < 5; ++k) {
        CAPTURE(order[k]);
        CHECK(box(l, order[k]).layer == k + 1);
        CHECK(box(l, order[k]).y == doctest::Approx(90.0 * (k + 1) + 4));
        CHECK(box(l, order[k]).w == doctest::Approx(190));
        CHECK(box(l, order[k]).h == doctest::Approx(44));
    }
    CHECK(l.height == doctest::Approx(630));
    CHECK(l.nodes.front().kind == LayoutNode::Kind::Input);
    CHECK(l.nodes.front().subtitle == "8x6x6");

    // The main chain is straight, and the shortcut's lane keeps clear of it.
    const float x = box(l, "c1").x;
    CHECK(box(l, "r1").x == doctest::Approx(x));
    CHECK(box(l, "c2").x == doctest::Approx(x));
    for (const auto& n : l.nodes)
        if (n.kind == LayoutNode::Kind::Dummy) CHECK(std::abs(n.x - x) >= 95 + 26);
    CHECK(l.max_x - l.min_x >= 190);

    // The shortcut edge runs from the input's bottom through its three lane points to add.
    const ui::LayoutEdge* shortcut = nullptr;
    for (const auto& e : l.edges)
        if (e.from == 0 && e.to == l.box_of.at("add")) shortcut = &e;
    REQUIRE(shortcut != nullptr);
    CHECK(shortcut->points.size() == 2 + 2 * 3);
    CHECK(shortcut->points.front().y == doctest::Approx(4 + 44));
    CHECK(shortcut->points.back().y == doctest::Approx(90 * 4 + 4));
    CHECK(shortcut->points.back().x == doctest::Approx(box(l, "add").x));
}

TEST_CASE("a collapsed block is one wider box holding all its nodes") {
    rm::Graph g = residual_block();
    const rm::ShapeMap shapes = rm::infer_shapes(g);
    ui::BlockMembership blocks;
    for (const char* n : {"c1", "r1", "c2", "add", "out"}) blocks[n] = "layer1.0";
    const ui::GraphLayout l = build_layout(g, shapes, blocks, {"layer1.0"}, nullptr);

    REQUIRE(l.nodes.size() == 3);  // input, the block, output
    const LayoutNode& b = box(l, "c2");
    CHECK(b.kind == LayoutNode::Kind::Block);
    CHECK(l.box_of.at("c1") == l.box_of.at("out"));
    CHECK(b.members.size() == 5);
    CHECK(b.subtitle == "5 nodes (collapsed)");
    CHECK(b.w == doctest::Approx(210));
    CHECK(b.h == doctest::Approx(52));
    CHECK(b.y == doctest::Approx(90));  // blocks sit at the top of their layer
    CHECK(l.height == doctest::Approx(270));
}

TEST_CASE("short names drop the ONNX exporter's scopes") {
    CHECK(ui::short_name("/layer1/layer1.0/conv1/Conv", rm::Op::Conv) == "layer1.0.conv1");
}
