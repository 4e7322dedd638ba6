#include "rm/cpu_ops.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "rm/compare.hpp"
#include "rm/error.hpp"

using namespace rm;

namespace {

Tensor random_tensor(Shape shape, uint64_t seed) {
    Tensor t(std::move(shape));
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (auto& v : t.data) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v = static_cast<float>((s >> 40) * (1.0 / 16777216.0) * 2.0 - 1.0);
    }
    return t;
}

// The definition of a 2-D convolution, accumulated in double.
Tensor naive_conv(const Tensor& x, const Tensor& w, const Tensor* b, const Attrs& a) {
    int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3];
    int64_t m = w.shape[0], cg = w.shape[1], kh = w.shape[2], kw = w.shape[3], mg = m / a.group;
    int64_t oh = (h + a.pads[0] + a.pads[2] - (kh - 1) * a.dilations[0] - 1) / a.strides[0] + 1;
    int64_t ow = (wd + a.pads[1] + a.pads[3] - (kw - 1) * a.dilations[1] - 1) / a.strides[1] + 1;
    Tensor y({n, m, oh, ow});
    for (int64_t i = 0; i < n; ++i)
        for (int64_t o = 0; o < m; ++o)
            for (int64_t oy = 0; oy < oh; ++oy)
                for (int64_t ox = 0; ox < ow; ++ox) {
                    double sum = b ? b->data[o] : 0.0;
                    int64_t g = o / mg;
                    for (int64_t ci = 0; ci < cg; ++ci)
                        for (int64_t ky = 0; ky < kh; ++ky)
                            for (int64_t kx = 0; kx < kw; ++kx) {
                                int64_t iy = oy * a.strides[0] - a.pads[0] + ky * a.dilations[0];
                                int64_t ix = ox * a.strides[1] - a.pads[1] + kx * a.dilations[1];
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                sum += static_cast<double>(
                                           x.data[((i * c + g * cg + ci) * h + iy) * wd + ix]) *
                                       w.data[((o * cg + ci) * kh + ky) * kw + kx];
                            }
                    y.data[((i * m + o) * oh + oy) * ow + ox] = static_cast<float>(sum);
                }
    return y;
}

// max |a - b| / max |b|: relative to the output's scale, so values near zero do not dominate.
double relative_error(const Tensor& got, const Tensor& want) {
    REQUIRE(got.shape == want.shape);
    return rm::compare_outputs(want, got).relative_error();
}

struct ConvCase {
    const char* what;
    Shape x, w;
    std::vector<int64_t> strides, pads, dilations;
    int64_t group;
    bool bias;
};

}  // namespace

TEST_CASE("conv2d equals the double-precision definition on awkward shapes") {
    const ConvCase cases[] = {
        {"3x3 odd sizes", {1, 3, 17, 19}, {7, 3, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true},
        {"stride 2 asymmetric pads batch 2",
         {2, 5, 15, 13},
         {9, 5, 3, 3},
         {2, 2},
         {0, 1, 2, 0},
         {1, 1},
         1,
         true},
        {"7x7 stride 2 stem",
         {1, 3, 37, 29},
         {16, 3, 7, 7},
         {2, 2},
         {3, 3, 3, 3},
         {1, 1},
         1,
         false},
        {"1x1 stride 1 (fast path)",
         {2, 67, 9, 11},
         {70, 67, 1, 1},
         {1, 1},
         {0, 0, 0, 0},
         {1, 1},
         1,
         true},
        {"1x1 stride 2 projection",
         {1, 33, 9, 10},
         {17, 33, 1, 1},
         {2, 2},
         {0, 0, 0, 0},
         {1, 1},
         1,
         false},
        {"dilation 2x3", {1, 4, 16, 17}, {5, 4, 3, 3}, {1, 2}, {2, 3, 1, 0}, {2, 3}, 1, true},
        {"groups 2", {2, 8, 12, 11}, {12, 4, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 2, true},
        {"depthwise", {1, 6, 11, 12}, {6, 1, 3, 3}, {2, 1}, {1, 1, 1, 1}, {1, 1}, 6, true},
        {"deep K crosses depth blocks",
         {1, 300, 6, 7},
         {13, 300, 3, 3},
         {1, 1},
         {1, 1, 1, 1},
         {1, 1},
         1,
         true},
        {"many output channels and pixels",
         {1, 16, 40, 41},
         {100, 16, 3, 3},
         {1, 1},
         {1, 0, 1, 0},
         {1, 1},
         1,
         true},
        {"kernel as large as the padded input",
         {1, 2, 3, 3},
         {3, 2, 5, 5},
         {1, 1},
         {1, 1, 1, 1},
         {1, 1},
         1,
         false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        Attrs a;
        a.strides = c.strides;
        a.pads = c.pads;
        a.dilations = c.dilations;
        a.group = c.group;
        Tensor x = random_tensor(c.x, 1), w = random_tensor(c.w, 2), b = random_tensor({c.w[0]}, 3);
        const Tensor* bias = c.bias ? &b : nullptr;
        Tensor want = naive_conv(x, w, bias, a);
        Tensor one = cpu::conv2d(x, w, bias, a, 1);
        Tensor two = cpu::conv2d(x, w, bias, a, 2);
        Tensor three = cpu::conv2d(x, w, bias, a, 3);
        CHECK(relative_error(one, want) <= 1e-5);
        // The summation order does not depend on the number of threads: results are identical.
        CHECK(two.data == one.data);
        CHECK(three.data == one.data);
    }
}

TEST_CASE("conv2d small case by hand") {
    // 1 channel 3x3 input, 2x2 kernel of ones, pad 0: each output sums a 2x2 window, plus bias.
    Tensor x({1, 1, 3, 3}, std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9});
    Tensor w({1, 1, 2, 2}, 1.0f), b({1}, std::vector<float>{0.5f});
    Attrs a;
    Tensor y = cpu::conv2d(x, w, &b, a);
    CHECK(y.shape == Shape{1, 1, 2, 2});
    CHECK(y.data == std::vector<float>{12.5f, 16.5f, 24.5f, 28.5f});
}

TEST_CASE("batchnorm, relu, add, mul") {
    Tensor x({1, 2, 1, 2}, std::vector<float>{1, 3, -2, 6});
    Tensor scale({2}, std::vector<float>{2, 0.5f}), bias({2}, std::vector<float>{1, -1});
    Tensor mean({2}, std::vector<float>{1, 2}), var({2}, std::vector<float>{4, 16});
    Tensor y = cpu::batchnorm(x, scale, bias, mean, var, 0.0f);
    // ch0: (x - 1) / 2 * 2 + 1; ch1: (x - 2) / 4 * 0.5 - 1
    CHECK(y.data == std::vector<float>{1, 3, -1.5f, -0.5f});

    CHECK(cpu::relu(y).data == std::vector<float>{1, 3, 0, 0});

    Tensor a({2, 3}, std::vector<float>{1, -2, 3, -4, 5, -6});
    Tensor row({3}, std::vector<float>{10, 20, 30});
    Tensor col({2, 1}, std::vector<float>{100, -100});
    CHECK(cpu::add(a, row).data == std::vector<float>{11, 18, 33, 6, 25, 24});
    CHECK(cpu::add(col, a).data == std::vector<float>{101, 98, 103, -104, -95, -106});
    CHECK(cpu::add(a, a, true).data == std::vector<float>{2, 0, 6, 0, 10, 0});
    Tensor c3({3, 1, 1}, std::vector<float>{1, 2, 3});
    Tensor d({1, 3, 2, 2}, 0.0f);
    CHECK(cpu::add(d, c3).data == std::vector<float>{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
    CHECK_THROWS_AS(cpu::add(a, Tensor({4})), Error);

    // Mul by a per-channel constant, a scalar, in either order, with a fused ReLU.
    Tensor e({1, 3, 1, 2}, std::vector<float>{1, -2, 3, -4, 5, -6});
    CHECK(cpu::mul(e, c3).data == std::vector<float>{1, -2, 6, -8, 15, -18});
    CHECK(cpu::mul(c3, e).data == std::vector<float>{1, -2, 6, -8, 15, -18});
    CHECK(cpu::mul(e, Tensor({}, std::vector<float>{-0.5f})).data ==
          std::vector<float>{-0.5f, 1, -1.5f, 2, -2.5f, 3});
    CHECK(cpu::mul(e, c3, true).data == std::vector<float>{1, 0, 6, 0, 15, 0});
    CHECK(cpu::mul(a, a).data == std::vector<float>{1, 4, 9, 16, 25, 36});
    CHECK_THROWS_AS(cpu::mul(e, Tensor({2, 1, 1})), Error);
}

TEST_CASE("max and average pooling by hand, with padding and ceil_mode") {
    Tensor x({1, 1, 4, 4},
             std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, -16});
    Attrs a;
    a.kernel = {2, 2};
    a.strides = {2, 2};
    CHECK(cpu::max_pool(x, a).data == std::vector<float>{6, 8, 14, 15});
    CHECK(cpu::average_pool(x, a).data == std::vector<float>{3.5f, 5.5f, 11.5f, 5.5f});

    // 3x3 stride 2 pad 1 (the ResNet stem): windows are clipped to the input.
    Attrs s;
    s.kernel = {3, 3};
    s.strides = {2, 2};
    s.pads = {1, 1, 1, 1};
    CHECK(cpu::max_pool(x, s).data == std::vector<float>{6, 8, 14, 15});
    // Window at (0,0) covers rows -1..1, cols -1..1: valid {1,2,5,6}.
    Tensor avg = cpu::average_pool(x, s);
    CHECK(avg.data[0] == doctest::Approx(3.5));
    s.count_include_pad = true;
    CHECK(cpu::average_pool(x, s).data[0] == doctest::Approx(14.0 / 9.0));

    // ceil_mode on 5 wide, kernel 2, stride 2: the third window holds only the last column.
    Tensor r({1, 1, 1, 5}, std::vector<float>{1, 2, 3, 4, 5});
    Attrs c;
    c.kernel = {1, 2};
    c.strides = {1, 2};
    c.ceil_mode = true;
    CHECK(cpu::max_pool(r, c).data == std::vector<float>{2, 4, 5});
    CHECK(cpu::average_pool(r, c).data == std::vector<float>{1.5f, 3.5f, 5});
    c.ceil_mode = false;
    CHECK(cpu::max_pool(r, c).data == std::vector<float>{2, 4});

    Tensor g({1, 2, 2, 2}, std::vector<float>{1, 2, 3, 4, -1, -2, -3, 10});
    Tensor gap = cpu::global_average_pool(g);
    CHECK(gap.shape == Shape{1, 2, 1, 1});
    CHECK(gap.data == std::vector<float>{2.5f, 1});
}

TEST_CASE("flatten, reshape") {
    Tensor x({2, 3, 2}, std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    Tensor f = cpu::flatten(x, 1);
    CHECK(f.shape == Shape{2, 6});
    CHECK(f.data == x.data);
    CHECK(cpu::reshape(x, {0, -1}).shape == Shape{2, 6});
    CHECK(cpu::reshape(x, {-1, 4}).shape == Shape{3, 4});
    CHECK_THROWS_AS(cpu::reshape(x, {5, 5}), Error);
}

TEST_CASE("gemm with transposes, alpha, beta and broadcast bias") {
    Tensor a({2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
    Tensor b({3, 2}, std::vector<float>{1, 0, 0, 1, 1, 1});
    Tensor c({2}, std::vector<float>{10, 20});
    Attrs attrs;
    CHECK(cpu::gemm(a, b, &c, attrs).data == std::vector<float>{14, 25, 20, 31});
    attrs.alpha = 2;
    attrs.beta = 0.5f;
    CHECK(cpu::gemm(a, b, &c, attrs).data == std::vector<float>{13, 20, 25, 32});

    // The same product through transposed storage.
    Tensor at({3, 2}, std::vector<float>{1, 4, 2, 5, 3, 6});
    Tensor bt({2, 3}, std::vector<float>{1, 0, 1, 0, 1, 1});
    Tensor col({2, 1}, std::vector<float>{1, -1});
    Attrs t;
    t.trans_a = true;
    t.trans_b = true;
    CHECK(cpu::gemm(at, bt, &col, t).data == std::vector<float>{5, 6, 9, 10});
    CHECK(cpu::gemm(at, bt, nullptr, t).data == std::vector<float>{4, 5, 10, 11});
}

TEST_CASE("matmul 2-D, vector and batched broadcast") {
    Tensor a({2, 2}, std::vector<float>{1, 2, 3, 4});
    Tensor b({2, 2}, std::vector<float>{5, 6, 7, 8});
    CHECK(cpu::matmul(a, b).data == std::vector<float>{19, 22, 43, 50});
    Tensor v({2}, std::vector<float>{1, 1});
    Tensor av = cpu::matmul(a, v);
    CHECK(av.shape == Shape{2});
    CHECK(av.data == std::vector<float>{3, 7});
    // [2, 1, 2, 2] x [3, 2, 2]: batch broadcast to [2, 3]; check one entry against the 2-D case.
    Tensor ba = random_tensor({2, 1, 2, 2}, 4), bb = random_tensor({3, 2, 2}, 5);
    Tensor y = cpu::matmul(ba, bb);
    CHECK(y.shape == Shape{2, 3, 2, 2});
    Tensor a1({2, 2}, std::vector<float>(ba.data.begin() + 4, ba.data.begin() + 8));
    Tensor b2({2, 2}, std::vector<float>(bb.data.begin() + 8, bb.data.begin() + 12));
    Tensor want = cpu::matmul(a1, b2);
    for (int i = 0; i < 4; ++i) CHECK(y.data[(1 * 3 + 2) * 4 + i] == want.data[i]);
}

TEST_CASE("softmax along an axis") {
    Tensor x({2, 3}, std::vector<float>{0, 0, 0, 1, 2, 3});
    Tensor y = cpu::softmax(x, 1);
    for (int i = 0; i < 3; ++i) CHECK(y.data[i] == doctest::Approx(1.0 / 3));
    double e = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
    CHECK(y.data[3] == doctest::Approx(std::exp(1.0) / e));
    CHECK(y.data[5] == doctest::Approx(std::exp(3.0) / e));
    Tensor z = cpu::softmax(x, 0);
    CHECK(z.data[0] == doctest::Approx(1 / (1 + std::exp(1.0))));
    CHECK(z.data[5] == doctest::Approx(std::exp(3.0) / (1 + std::exp(3.0))));
    // Large logits do not overflow.
    Tensor big({1, 2}, std::vector<float>{1000, 1000});
    CHECK(cpu::softmax(big, -1).data == std::vector<float>{0.5f, 0.5f});
}

TEST_CASE("ReLU, a fused ReLU, max-pool and softmax keep NaN, as PyTorch does") {
    const float nan = std::numeric_limits<float>::quiet_NaN(),
                inf = std::numeric_limits<float>::infinity();
    // torch.relu(torch.tensor([nan, -1, 2, inf, -inf])) == [nan, 0, 2, inf, 0]
    Tensor x({1, 5}, std::vector<float>{nan, -1.0f, 2.0f, inf, -inf});
    Tensor r = cpu::relu(x);
    CHECK(std::isnan(r.data[0]));
    CHECK(r.data[1] == 0.0f);
    CHECK(r.data[2] == 2.0f);
    CHECK(r.data[3] == inf);
    CHECK(r.data[4] == 0.0f);
    // Add with a fused ReLU: NaN + 1 stays NaN; -inf + 1 becomes 0.
    Tensor one({1, 5}, 1.0f);
    Tensor s = cpu::add(x, one, true);
    CHECK(std::isnan(s.data[0]));
    CHECK(s.data[1] == 0.0f);
    CHECK(s.data[4] == 0.0f);
    CHECK(std::isnan(cpu::mul(x, one, true).data[0]));

    // max_pool2d over [[nan, 5], [1, 2]] (wherever the NaN sits in the window) is nan; a window
    // of -inf is -inf.
    Attrs a;
    a.kernel = {2, 2};
    a.strides = {2, 2};
    for (int at = 0; at < 4; ++at) {
        CAPTURE(at);
        Tensor p({1, 1, 2, 4}, std::vector<float>{1, 5, -inf, -inf, 1, 2, -inf, -inf});
        p.data[at < 2 ? at : at + 2] = nan;
        Tensor y = cpu::max_pool(p, a);
        CHECK(std::isnan(y.data[0]));
        CHECK(y.data[1] == -inf);
    }
    // Softmax of a row with a NaN is NaN throughout (torch.softmax gives the same).
    Tensor sm = cpu::softmax(Tensor({1, 3}, std::vector<float>{1.0f, nan, 2.0f}), 1);
    for (float v : sm.data) CHECK(std::isnan(v));
}
