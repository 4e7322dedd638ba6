#pragma once
// The one answer to "do these two outputs agree": used by run, convert, eval and the GUI, so
// that every place says match, mismatch or not finite for the same reasons.
#include <cstdint>
#include <string>

#include "rm/tensor.hpp"

namespace rm {

// Outputs match when max|candidate - reference| <= kMatchTolerance * max|reference|: fp32
// through dozens of layers with another summation order (and, for a plain graph, Dirac-kernel
// copies) stays well inside this.
constexpr double kMatchTolerance = 1e-4;
// The same verdict when both outputs come from a device storing tensors in fp16 (fp32
// arithmetic; `--precision fp16`): every stored activation is rounded to 11 significant bits
// (relative error <= 2^-11 = 4.9e-4) once per layer, on a different set of tensors in each
// graph, so the two drift apart by far more than fp32 would (README, "fp16 storage").
constexpr double kFp16MatchTolerance = 1e-2;

// In order of severity: the verdict over several outputs is the worst one.
enum class Verdict { match, mismatch, not_finite };
const char* to_string(Verdict v);  // "match" / "mismatch" / "not finite"
inline Verdict worse(Verdict a, Verdict b) {
    return a < b ? b : a;
}

// NaN and ±Inf values of one output.
struct NonFinite {
    int64_t count = 0;
    int64_t first = -1;     // flat index of the first one; -1 when there is none
    float first_value = 0;  // NaN, +Inf or -Inf
};

struct OutputComparison {
    Shape reference_shape, candidate_shape;
    int64_t elements = 0;
    // Over the positions where both values are finite; a NaN must not vanish into a max (it
    // never compares greater), so non-finite values are counted apart and decide the verdict.
    double max_abs_diff = 0;
    double max_abs_ref = 0;
    double sum_sq_diff = 0, sum_sq_ref = 0;
    NonFinite reference_non_finite, candidate_non_finite;
    double relative_tolerance = kMatchTolerance;  // or kFp16MatchTolerance for fp16 storage

    bool shapes_differ() const { return reference_shape != candidate_shape; }
    bool finite() const {
        return reference_non_finite.count == 0 && candidate_non_finite.count == 0;
    }
    double nmse() const { return sum_sq_ref > 0 ? sum_sq_diff / sum_sq_ref : sum_sq_diff; }
    double tolerance() const { return relative_tolerance * max_abs_ref; }
    // not finite when either output holds a NaN or Inf anywhere; else mismatch when the shapes
    // differ or max|d| exceeds the tolerance; else match.
    Verdict verdict() const;
    bool match() const { return verdict() == Verdict::match; }
    // max|d| / max|ref| (max|d| when the reference is all zero), +Inf when not finite or the
    // shapes differ: for tests that hold an operator to its own tolerance.
    double relative_error() const;

    // Folds in the comparison of the next chunk of the same outputs (eval compares batch by
    // batch); its indices continue after this one's elements.
    void append(const OutputComparison& next);
};

NonFinite find_non_finite(const Tensor& t);

OutputComparison compare_outputs(const Tensor& reference, const Tensor& candidate);

// "3 NaN/Inf values, the first (NaN) at index 17" or "all finite".
std::string describe(const NonFinite& n);

// The two lines every command prints, with the graphs named in the user's terms:
//   residual vs plain: max|d| = 7.2e-07, NMSE = 1.1e-14, max|residual| = 11.3, tolerance ...
//   outputs match | MISMATCH: ... | OUTPUTS NOT FINITE: residual ..., plain ...
std::string comparison_summary(const OutputComparison& c, const std::string& reference_name,
                               const std::string& candidate_name);
std::string verdict_line(const OutputComparison& c, const std::string& reference_name,
                         const std::string& candidate_name);

}  // namespace rm
