#include "rm/shape_inference.hpp"

#include <doctest/doctest.h>

#include "rm/error.hpp"

using namespace rm;

namespace {

// A graph with one runtime input and weights of the given shapes (values do not matter here).
Graph one_input(Shape input, std::vector<std::pair<std::string, Shape>> weights = {}) {
    Graph g;
    g.inputs.push_back({"x", std::move(input)});
    for (auto& [name, shape] : weights) g.initializers[name] = Tensor(shape);
    return g;
}

Node node(std::string name, Op op, std::vector<std::string> inputs, Attrs attrs = {}) {
    Node n{name, op, std::move(inputs), {name + "_out"}, std::move(attrs)};
    return n;
}

Attrs conv_attrs(std::vector<int64_t> strides, std::vector<int64_t> pads,
                 std::vector<int64_t> dilations = {1, 1}, int64_t group = 1) {
    Attrs a;
    a.strides = std::move(strides);
    a.pads = std::move(pads);
    a.dilations = std::move(dilations);
    a.group = group;
    return a;
}

Shape single(Graph& g, int64_t batch = 0) {
    ShapeMap s = infer_shapes(g, batch);
    return s.at(g.nodes.back().outputs[0]);
}

std::string error_of(Graph g) {
    try {
        infer_shapes(g);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("conv output size with stride, asymmetric pads and dilation; symbolic batch") {
    Graph g = one_input({-1, 3, 17, 19}, {{"w", {8, 3, 3, 3}}});
    g.nodes.push_back(node("c", Op::Conv, {"x", "w"}, conv_attrs({2, 2}, {1, 0, 2, 1})));
    // H: (17 + 1 + 2 - 3) / 2 + 1 = 9; W: (19 + 0 + 1 - 3) / 2 + 1 = 9
    CHECK(single(g, 4) == Shape{4, 8, 9, 9});
    CHECK(single(g, 0) == Shape{1, 8, 9, 9});
    CHECK(g.nodes[0].attrs.kernel == std::vector<int64_t>{3, 3});  // taken from the weight

    Graph d = one_input({2, 3, 10, 11}, {{"w", {4, 3, 3, 3}}});
    d.nodes.push_back(node("c", Op::Conv, {"x", "w"}, conv_attrs({1, 1}, {0, 0, 0, 0}, {2, 3})));
    // effective kernel 5 x 7: 10 - 5 + 1 = 6, 11 - 7 + 1 = 5
    CHECK(single(d) == Shape{2, 4, 6, 5});
}

TEST_CASE("auto_pad SAME_UPPER / SAME_LOWER / VALID become explicit pads") {
    for (auto [mode, pads] :
         {std::pair<std::string, std::vector<int64_t>>{"SAME_UPPER", {0, 0, 1, 1}},
          {"SAME_LOWER", {1, 1, 0, 0}},
          {"VALID", {0, 0, 0, 0}}}) {
        Graph g = one_input({1, 2, 8, 8}, {{"w", {3, 2, 3, 3}}});
        Attrs a = conv_attrs({2, 2}, {0, 0, 0, 0});
        a.auto_pad = mode;
        g.nodes.push_back(node("c", Op::Conv, {"x", "w"}, a));
        Shape out = single(g);
        // SAME: ceil(8 / 2) = 4, total pad (4-1)*2 + 3 - 8 = 1. VALID: (8 - 3) / 2 + 1 = 3.
        CHECK(out == Shape{1, 3, mode == "VALID" ? 3 : 4, mode == "VALID" ? 3 : 4});
        CHECK(g.nodes[0].attrs.pads == pads);
        CHECK(g.nodes[0].attrs.auto_pad == "NOTSET");
    }
    Graph g = one_input({1, 2, 7, 7}, {{"w", {3, 2, 3, 3}}});
    Attrs a = conv_attrs({2, 2}, {0, 0, 0, 0});
    a.auto_pad = "SAME_UPPER";
    g.nodes.push_back(node("c", Op::Conv, {"x", "w"}, a));
    CHECK(single(g) == Shape{1, 3, 4, 4});
    CHECK(g.nodes[0].attrs.pads == std::vector<int64_t>{1, 1, 1, 1});
}

TEST_CASE("grouped conv and its errors name the node and operator") {
    Graph g = one_input({1, 8, 5, 5}, {{"w", {12, 2, 3, 3}}, {"b", {12}}});
    g.nodes.push_back(
        node("grouped", Op::Conv, {"x", "w", "b"}, conv_attrs({1, 1}, {1, 1, 1, 1}, {1, 1}, 4)));
    CHECK(single(g) == Shape{1, 12, 5, 5});

    g.nodes[0].attrs.group = 3;
    CHECK(error_of(g) == "node 'grouped' (Conv): group=3 does not divide 8 input channels");

    Graph m = one_input({1, 3, 5, 5}, {{"w", {4, 5, 3, 3}}});
    m.nodes.push_back(node("Conv_7", Op::Conv, {"x", "w"}));
    CHECK(error_of(m).find("node 'Conv_7' (Conv): weight [4, 5, 3, 3] expects 5 input channels") ==
          0);

    Graph b = one_input({1, 3, 5, 5}, {{"w", {4, 3, 3, 3}}, {"b", {5}}});
    b.nodes.push_back(node("c", Op::Conv, {"x", "w", "b"}));
    CHECK(error_of(b).find("bias [5] does not match 4 output channels") != std::string::npos);

    Graph missing = one_input({1, 3, 5, 5});
    missing.nodes.push_back(node("c", Op::Conv, {"x", "nowhere"}));
    CHECK(error_of(missing).find("node 'c' (Conv): input W (weight) 'nowhere' is neither") == 0);

    Graph rank = one_input({3, 5, 5}, {{"w", {4, 3, 3, 3}}});
    rank.nodes.push_back(node("c", Op::Conv, {"x", "w"}));
    CHECK(error_of(rank) == "node 'c' (Conv): input X must have rank 4, got [3, 5, 5]");

    Graph big = one_input({1, 3, 2, 2}, {{"w", {4, 3, 3, 3}}});
    big.nodes.push_back(node("c", Op::Conv, {"x", "w"}));
    CHECK(error_of(big).find("kernel 3 is larger than the padded input 2") != std::string::npos);
}

TEST_CASE("absurd sizes are refused, not allocated") {
    Graph g = one_input({1, 1, 40000, 40000}, {{"w", {2, 1, 1, 1}}});
    g.nodes.push_back(node("wide", Op::Conv, {"x", "w"}));
    CHECK(error_of(g).find(
              "node 'wide' (Conv): output shape [1, 2, 40000, 40000] is absurdly large") == 0);

    Graph in = one_input({1, 1, 100000, 100000});
    in.nodes.push_back(node("r", Op::Relu, {"x"}));
    CHECK(error_of(in).find("graph input 'x' has an unusable shape") == 0);

    Graph zero = one_input({1, 0, 4, 4});
    zero.nodes.push_back(node("r", Op::Relu, {"x"}));
    CHECK_THROWS_AS(infer_shapes(zero), Error);
}

TEST_CASE("pools: floor and ceil mode (last window must start inside input + left pad)") {
    auto pool = [](Op op, int64_t size, int64_t k, int64_t s, int64_t p, bool ceil) {
        Graph g = one_input({1, 2, size, size});
        Attrs a;
        a.kernel = {k, k};
        a.strides = {s, s};
        a.pads = {p, p, p, p};
        a.ceil_mode = ceil;
        g.nodes.push_back(node("p", op, {"x"}, a));
        return single(g)[2];
    };
    CHECK(pool(Op::MaxPool, 112, 3, 2, 1, false) == 56);  // torchvision's stem
    CHECK(pool(Op::MaxPool, 112, 3, 2, 1, true) == 57);
    CHECK(pool(Op::MaxPool, 5, 2, 2, 1, false) == 3);
    CHECK(pool(Op::MaxPool, 5, 2, 2, 1, true) == 3);  // a 4th window would start in the right pad
    CHECK(pool(Op::AveragePool, 6, 3, 2, 0, true) == 3);
    CHECK(pool(Op::AveragePool, 6, 3, 2, 0, false) == 2);

    Graph gap = one_input({2, 7, 5, 3});
    gap.nodes.push_back(node("gap", Op::GlobalAveragePool, {"x"}));
    CHECK(single(gap) == Shape{2, 7, 1, 1});
}

TEST_CASE("batchnorm, relu, softmax keep shapes; batchnorm checks its vectors") {
    Graph g = one_input({2, 4, 3, 3}, {{"s", {4}}, {"b", {4}}, {"m", {4}}, {"v", {4}}});
    g.nodes.push_back(node("bn", Op::BatchNormalization, {"x", "s", "b", "m", "v"}));
    g.nodes.push_back(node("r", Op::Relu, {"bn_out"}));
    g.nodes.push_back(node("sm", Op::Softmax, {"r_out"}));
    CHECK(single(g) == Shape{2, 4, 3, 3});
    g.initializers["v"] = Tensor({3});
    CHECK(error_of(g) ==
          "node 'bn' (BatchNormalization): var [3] does not match 4 channels of [2, 4, 3, 3]");
}

TEST_CASE("Add broadcasting") {
    Graph g = one_input({2, 3, 4, 5}, {{"c", {3, 1, 1}}});
    g.nodes.push_back(node("a", Op::Add, {"x", "c"}));
    CHECK(single(g) == Shape{2, 3, 4, 5});
    Graph g2 = one_input({4, 1}, {{"c", {3}}});
    g2.nodes.push_back(node("a", Op::Add, {"x", "c"}));
    CHECK(single(g2) == Shape{4, 3});
    Graph bad = one_input({2, 3}, {{"c", {4}}});
    bad.nodes.push_back(node("a", Op::Add, {"x", "c"}));
    CHECK(error_of(bad) == "node 'a' (Add): shapes [2, 3] and [4] cannot be broadcast");
    Graph m = one_input({2, 3, 4, 5}, {{"s", {}}});
    m.nodes.push_back(node("m", Op::Mul, {"s", "x"}));
    CHECK(single(m) == Shape{2, 3, 4, 5});
    Graph bad_mul = one_input({2, 3, 4, 5}, {{"c", {2, 1, 1}}});
    bad_mul.nodes.push_back(node("m", Op::Mul, {"x", "c"}));
    CHECK(error_of(bad_mul) ==
          "node 'm' (Mul): shapes [2, 3, 4, 5] and [2, 1, 1] cannot be broadcast");
}

TEST_CASE("Flatten and Reshape") {
    Graph f = one_input({2, 3, 4, 5});
    Attrs a;
    a.axis = 2;
    f.nodes.push_back(node("f", Op::Flatten, {"x"}, a));
    CHECK(single(f) == Shape{6, 20});
    f.nodes[0].attrs.axis = 0;
    CHECK(single(f) == Shape{1, 120});
    f.nodes[0].attrs.axis = -1;
    CHECK(single(f) == Shape{24, 5});

    Graph r = one_input({2, 3, 4});
    Attrs ra;
    ra.shape = {0, -1};
    r.nodes.push_back(node("r", Op::Reshape, {"x"}, ra));
    CHECK(single(r) == Shape{2, 12});
    r.nodes[0].attrs.shape = {-1, 4, 1};
    CHECK(single(r) == Shape{6, 4, 1});
    r.nodes[0].attrs.shape = {-1, -1};
    CHECK(error_of(r) == "node 'r' (Reshape): target [-1,-1] has more than one -1");
    r.nodes[0].attrs.shape = {5, 5};
    CHECK(error_of(r) == "node 'r' (Reshape): cannot reshape [2, 3, 4] to [5,5]");

    // Target shape given as a constant input (opset >= 5) becomes the attribute.
    Graph c = one_input({2, 3, 4});
    c.initializers["shape"] = Tensor({2}, std::vector<float>{4, -1});
    c.nodes.push_back(node("r", Op::Reshape, {"x", "shape"}));
    CHECK(single(c) == Shape{4, 6});
}

TEST_CASE("Gemm with transposes and bias; MatMul 2-D, vector and batched") {
    Graph g = one_input({2, 5}, {{"w", {3, 5}}, {"b", {3}}});
    Attrs a;
    a.trans_b = true;
    g.nodes.push_back(node("fc", Op::Gemm, {"x", "w", "b"}, a));
    CHECK(single(g) == Shape{2, 3});
    g.nodes[0].attrs.trans_b = false;
    CHECK(error_of(g).find("node 'fc' (Gemm): inner dimensions differ") == 0);
    g.nodes[0].attrs.trans_a = true;  // A^T is [5, 2] and B [3, 5]: still wrong
    CHECK_THROWS_AS(infer_shapes(g), Error);

    Graph ta = one_input({5, 2}, {{"w", {5, 3}}, {"b", {2, 1}}});
    Attrs t;
    t.trans_a = true;
    ta.nodes.push_back(node("fc", Op::Gemm, {"x", "w", "b"}, t));
    CHECK(single(ta) == Shape{2, 3});

    auto mm = [](Shape a, Shape b) {
        Graph m = one_input(a, {{"w", b}});
        m.nodes.push_back(node("mm", Op::MatMul, {"x", "w"}));
        return single(m);
    };
    CHECK(mm({2, 3, 4}, {4, 5}) == Shape{2, 3, 5});
    CHECK(mm({4}, {4, 5}) == Shape{5});
    CHECK(mm({3, 4}, {4}) == Shape{3});
    CHECK(mm({2, 1, 3, 4}, {5, 4, 6}) == Shape{2, 5, 3, 6});
    CHECK_THROWS_AS(mm({3, 4}, {5, 6}), Error);
}

TEST_CASE("graph outputs must exist; shapes of all tensors are reported") {
    Graph g = one_input({1, 2, 3, 3});
    g.nodes.push_back(node("r", Op::Relu, {"x"}));
    g.outputs = {"r_out"};
    ShapeMap s = infer_shapes(g);
    CHECK(s.at("x") == Shape{1, 2, 3, 3});
    CHECK(s.at("r_out") == Shape{1, 2, 3, 3});
    g.outputs = {"nothing"};
    CHECK(error_of(g) == "graph output 'nothing' is not produced by any node");

    // infer_shapes_of leaves the const graph alone; infer_shapes_for_inputs takes given shapes.
    Graph c = one_input({-1, 2, -1, 4}, {{"w", {3, 2, 3, 3}}});
    Attrs a;
    a.auto_pad = "SAME_UPPER";
    c.nodes.push_back(node("c", Op::Conv, {"x", "w"}, a));
    CHECK(infer_shapes_of(c, 2).at("c_out") == Shape{2, 3, 2, 4});
    CHECK(c.nodes[0].attrs.auto_pad == "SAME_UPPER");
    std::vector<Node> resolved;
    CHECK(infer_shapes_for_inputs(c, {{"x", {3, 2, 9, 4}}}, &resolved).at("c_out") ==
          Shape{3, 3, 9, 4});
    CHECK(resolved[0].attrs.pads == std::vector<int64_t>{1, 1, 1, 1});
    CHECK_THROWS_AS(infer_shapes_for_inputs(c, {}), Error);
}
