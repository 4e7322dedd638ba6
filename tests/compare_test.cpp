// rm::compare_outputs: the one match / mismatch / not-finite verdict.
#include "rm/compare.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

namespace {

rm::Tensor ramp(int64_t n, float scale = 1.0f) {
    rm::Tensor t({1, n});
    for (int64_t i = 0; i < n; ++i) t.data[i] = scale * float(i - n / 2);
    return t;
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

}  // namespace

TEST_CASE("identical outputs match, with the numbers the commands print") {
    rm::Tensor a = ramp(11);
    auto c = rm::compare_outputs(a, a);
    CHECK(c.verdict() == rm::Verdict::match);
    CHECK(c.max_abs_diff == 0);
    CHECK(c.max_abs_ref == 5);
    CHECK(c.nmse() == 0);
    CHECK(c.tolerance() == doctest::Approx(5e-4));
    CHECK(c.reference_non_finite.count == 0);
    CHECK(c.reference_non_finite.first == -1);
    CHECK(c.elements == 11);
    CHECK(rm::verdict_line(c, "residual", "plain") == "outputs match");
}

TEST_CASE("the tolerance is 1e-4 of the largest |reference|, inclusive") {
    rm::Tensor a = ramp(11);  // max|a| = 5: tolerance 5e-4
    rm::Tensor b = a;
    b.data[3] += 4.9e-4f;
    CHECK(rm::compare_outputs(a, b).match());
    b.data[3] = a.data[3] + 5.2e-4f;
    auto c = rm::compare_outputs(a, b);
    CHECK(c.verdict() == rm::Verdict::mismatch);
    CHECK(c.max_abs_diff == doctest::Approx(5.2e-4).epsilon(1e-3));
    CHECK(c.nmse() == doctest::Approx(c.sum_sq_diff / c.sum_sq_ref));
    CHECK(c.sum_sq_ref == doctest::Approx(110.0));  // 2 * (1 + 4 + 9 + 16 + 25)
    CHECK(rm::verdict_line(c, "residual", "plain") ==
          "MISMATCH: the plain graph does not reproduce the residual one");
}

TEST_CASE("all-zero outputs match each other, and nothing else does") {
    rm::Tensor z({2, 3}, 0.0f);
    CHECK(rm::compare_outputs(z, z).match());
    rm::Tensor b = z;
    b.data[4] = 1e-30f;
    CHECK(rm::compare_outputs(z, b).verdict() == rm::Verdict::mismatch);
}

TEST_CASE(
    "NaN or Inf at the first, a middle or the last element, in either output, is never "
    "a match") {
    const int64_t n = 9;
    for (float bad : {kNaN, kInf, -kInf}) {
        for (int64_t at : {int64_t(0), n / 2, n - 1}) {
            for (bool in_reference : {true, false}) {
                CAPTURE(bad);
                CAPTURE(at);
                CAPTURE(in_reference);
                rm::Tensor a = ramp(n), b = ramp(n);
                (in_reference ? a : b).data[at] = bad;
                auto c = rm::compare_outputs(a, b);
                CHECK(c.verdict() == rm::Verdict::not_finite);
                CHECK_FALSE(c.match());
                CHECK_FALSE(c.finite());
                const rm::NonFinite& hit =
                    in_reference ? c.reference_non_finite : c.candidate_non_finite;
                const rm::NonFinite& clean =
                    in_reference ? c.candidate_non_finite : c.reference_non_finite;
                CHECK(hit.count == 1);
                CHECK(hit.first == at);
                CHECK((std::isnan(bad) ? std::isnan(hit.first_value) : hit.first_value == bad));
                CHECK(clean.count == 0);
                CHECK(clean.first == -1);
                // The other values still agree exactly, and the numbers say so.
                CHECK(c.max_abs_diff == 0);
            }
        }
    }
}

TEST_CASE("the same NaN in both outputs is still not a match") {
    rm::Tensor a = ramp(5);
    a.data[2] = kNaN;
    auto c = rm::compare_outputs(a, a);
    CHECK(c.verdict() == rm::Verdict::not_finite);
    CHECK(c.reference_non_finite.count == 1);
    CHECK(c.candidate_non_finite.count == 1);
    // Inf - Inf is NaN, +Inf == +Inf: neither may match.
    a.data[2] = kInf;
    CHECK(rm::compare_outputs(a, a).verdict() == rm::Verdict::not_finite);
}

TEST_CASE("all-NaN outputs: every value counted, the first at index 0") {
    rm::Tensor a({2, 5}, kNaN), b = ramp(10);
    b.shape = {2, 5};
    auto c = rm::compare_outputs(b, a);
    CHECK(c.verdict() == rm::Verdict::not_finite);
    CHECK(c.candidate_non_finite.count == 10);
    CHECK(c.candidate_non_finite.first == 0);
    CHECK(c.reference_non_finite.count == 0);
    CHECK(rm::verdict_line(c, "residual", "plain") ==
          "OUTPUTS NOT FINITE: residual output all finite; plain output 10 NaN/Inf values, the "
          "first (NaN) at index 0");
}

TEST_CASE("different shapes are a mismatch that names both shapes") {
    rm::Tensor a = ramp(10), b = ramp(10);
    b.shape = {2, 5};
    auto c = rm::compare_outputs(a, b);
    CHECK(c.verdict() == rm::Verdict::mismatch);
    CHECK(c.shapes_differ());
    CHECK(rm::comparison_summary(c, "residual", "plain") ==
          "residual vs plain: output shapes differ, [1, 10] vs [2, 5]");
    // A NaN still decides: it is not finite, whatever the shapes.
    b.data[9] = kNaN;
    CHECK(rm::compare_outputs(a, b).verdict() == rm::Verdict::not_finite);
}

TEST_CASE("append folds chunks: the maxima, the sums and the first non-finite index") {
    rm::Tensor a = ramp(4), b = ramp(4);
    rm::OutputComparison total;
    total.append(rm::compare_outputs(a, b));
    CHECK(total.match());
    b.data[1] += 1.0f;
    b.data[3] = -kInf;
    rm::Tensor a2 = ramp(4, 10.0f);
    total.append(rm::compare_outputs(a2, a2));
    CHECK(total.max_abs_ref == 20);
    total.append(rm::compare_outputs(a, b));
    CHECK(total.elements == 12);
    CHECK(total.verdict() == rm::Verdict::not_finite);
    CHECK(total.candidate_non_finite.count == 1);
    CHECK(total.candidate_non_finite.first == 11);
    CHECK(total.candidate_non_finite.first_value == -kInf);
    CHECK(total.max_abs_diff == doctest::Approx(1.0));
    CHECK(total.sum_sq_diff == doctest::Approx(1.0));
}

TEST_CASE("the summary line carries the numbers and says when non-finite values were left out") {
    rm::Tensor a = ramp(5), b = ramp(5);
    b.data[0] += 0.25f;
    CHECK(rm::comparison_summary(rm::compare_outputs(a, b), "residual", "plain") ==
          "residual vs plain: max|d| = 0.25, NMSE = 0.00625, max|residual| = 2, tolerance 0.0002 "
          "(1e-4 * max|residual|)");
    b.data[4] = kNaN;
    CHECK(rm::comparison_summary(rm::compare_outputs(a, b), "residual", "plain") ==
          "residual vs plain: max|d| = 0.25, NMSE = 0.0104, max|residual| = 2, tolerance 0.0002 "
          "(1e-4 * max|residual|) over the finite values");
}
