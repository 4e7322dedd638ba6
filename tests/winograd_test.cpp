// The Winograd reference (rm/winograd.hpp) against the direct reference conv: within the
// stated error bound on every output, on awkward shapes, and exact where it must be.
#include "rm/winograd.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "rm/cpu_ops.hpp"
#include "rm/error.hpp"

namespace {

rm::Tensor random_tensor(const rm::Shape& shape, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    rm::Tensor t(shape);
    for (auto& v : t.data) v = dist(rng);
    return t;
}

rm::Tensor abs_of(rm::Tensor t) {
    for (auto& v : t.data) v = std::fabs(v);
    return t;
}

rm::Attrs conv3x3(std::vector<int64_t> pads = {1, 1, 1, 1}) {
    rm::Attrs a;
    a.kernel = {3, 3};
    a.pads = std::move(pads);
    return a;
}

struct Shape {
    const char* name;
    int64_t n, c, h, w, oc;
    std::vector<int64_t> pads;
};

const Shape kShapes[] = {
    {"odd sizes", 1, 5, 9, 11, 7, {1, 1, 1, 1}},
    {"batch 2, channels not multiples of 4", 2, 6, 7, 13, 3, {1, 1, 1, 1}},
    {"unpadded", 1, 3, 10, 8, 5, {0, 0, 0, 0}},
    {"asymmetric padding", 2, 4, 6, 5, 6, {0, 2, 1, 0}},
    {"one tile", 1, 2, 3, 3, 2, {1, 1, 1, 1}},
    {"deep", 1, 300, 6, 6, 4, {1, 1, 1, 1}},
};

}  // namespace

TEST_CASE("Winograd F(2,3) and F(4,3) stay within their error bound of the direct conv") {
    for (int m : {2, 4}) {
        for (const auto& s : kShapes) {
            CAPTURE(m);
            const std::string name = s.name;
            CAPTURE(name);
            rm::Attrs a = conv3x3(s.pads);
            rm::Tensor x = random_tensor({s.n, s.c, s.h, s.w}, 1);
            rm::Tensor w = random_tensor({s.oc, s.c, 3, 3}, 2);
            rm::Tensor b = random_tensor({s.oc}, 3);
            rm::Tensor direct = rm::cpu::conv2d(x, w, &b, a);
            rm::Tensor wino = rm::cpu::winograd_conv2d(x, w, &b, a, m);
            REQUIRE(wino.shape == direct.shape);
            rm::Tensor bound = rm::cpu::winograd_error_bound(x, w, &b, nullptr, a, m);
            // The direct conv's own rounding: gamma_(9C+1) * sum |w||x| + |b|.
            const double u = std::ldexp(1.0, -24), k = 9.0 * s.c + 1;
            rm::Tensor magnitude = rm::cpu::conv2d(abs_of(x), abs_of(w), nullptr, a);
            double worst = 0, scale = 0, err = 0;
            const int64_t plane = direct.shape[2] * direct.shape[3];
            for (int64_t i = 0; i < direct.size(); ++i) {
                double e = std::fabs(wino.data[i] - direct.data[i]);
                const float bias = b.data[i / plane % s.oc];  // output i's channel
                double allowed =
                    bound.data[i] + k * u / (1 - k * u) * (magnitude.data[i] + std::fabs(bias));
                worst = std::max(worst, e / allowed);
                err = std::max(err, e);
                scale = std::max(scale, static_cast<double>(std::fabs(direct.data[i])));
            }
            MESSAGE("F(" << m << ",3) " << name << ": max |error| / max |y| = " << err / scale
                         << ", worst error / bound = " << worst);
            CHECK(worst <= 1.0);
            CHECK(err / scale <= 1e-5);  // the house tolerance is 1e-4
        }
    }
}

TEST_CASE("Winograd F(2,3) on small integers is exact") {
    // Every value of its transforms is a multiple of 1/4 below 2^24: no rounding at all.
    rm::Attrs a = conv3x3();
    rm::Tensor x({2, 3, 7, 6}), w({4, 3, 3, 3}), b({4});
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> dist(-3, 3);
    for (auto* t : {&x, &w, &b})
        for (auto& v : t->data) v = static_cast<float>(dist(rng));
    rm::Tensor direct = rm::cpu::conv2d(x, w, &b, a);
    rm::Tensor wino = rm::cpu::winograd_conv2d(x, w, &b, a, 2);
    CHECK(wino.data == std::vector<float>(direct.data.begin(), direct.data.end()));
}

TEST_CASE("Winograd applies only to 3x3, stride 1, undilated, ungrouped convs") {
    rm::Attrs a = conv3x3();
    CHECK(rm::winograd::applies(a, {8, 4, 3, 3}));
    rm::Attrs strided = a;
    strided.strides = {2, 2};
    CHECK_FALSE(rm::winograd::applies(strided, {8, 4, 3, 3}));
    rm::Attrs dilated = a;
    dilated.dilations = {2, 2};
    CHECK_FALSE(rm::winograd::applies(dilated, {8, 4, 3, 3}));
    rm::Attrs grouped = a;
    grouped.group = 2;
    CHECK_FALSE(rm::winograd::applies(grouped, {8, 2, 3, 3}));
    CHECK_FALSE(rm::winograd::applies(a, {8, 4, 1, 1}));
    CHECK_THROWS_AS(rm::cpu::winograd_conv2d(random_tensor({1, 4, 5, 5}, 1),
                                             random_tensor({8, 4, 1, 1}, 2), nullptr, a, 2),
                    rm::Error);
    CHECK_THROWS_AS(rm::winograd::transform(3), rm::Error);
}
