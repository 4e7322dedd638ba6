#include "rm/compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace rm {

namespace {

void append_non_finite(NonFinite& total, const NonFinite& next, int64_t offset) {
    if (next.count == 0) return;
    if (total.count == 0) {
        total.first = next.first + offset;
        total.first_value = next.first_value;
    }
    total.count += next.count;
}

std::string value_name(float v) {
    if (std::isnan(v)) return "NaN";
    return v > 0 ? "+Inf" : "-Inf";
}

std::string format(const char* fmt, double a) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, a);
    return buf;
}

}  // namespace

const char* to_string(Verdict v) {
    switch (v) {
        case Verdict::match:
            return "match";
        case Verdict::mismatch:
            return "mismatch";
        case Verdict::not_finite:
            return "not finite";
    }
    return "?";
}

Verdict OutputComparison::verdict() const {
    if (!finite()) return Verdict::not_finite;
    if (shapes_differ()) return Verdict::mismatch;
    return max_abs_diff <= tolerance() ? Verdict::match : Verdict::mismatch;
}

double OutputComparison::relative_error() const {
    if (!finite() || shapes_differ()) return std::numeric_limits<double>::infinity();
    return max_abs_ref > 0 ? max_abs_diff / max_abs_ref : max_abs_diff;
}

void OutputComparison::append(const OutputComparison& next) {
    if (elements == 0 && reference_shape.empty()) {
        reference_shape = next.reference_shape;
        candidate_shape = next.candidate_shape;
    } else if (next.shapes_differ()) {
        reference_shape = next.reference_shape;
        candidate_shape = next.candidate_shape;
    }
    append_non_finite(reference_non_finite, next.reference_non_finite, elements);
    append_non_finite(candidate_non_finite, next.candidate_non_finite, elements);
    max_abs_diff = std::max(max_abs_diff, next.max_abs_diff);
    max_abs_ref = std::max(max_abs_ref, next.max_abs_ref);
    sum_sq_diff += next.sum_sq_diff;
    sum_sq_ref += next.sum_sq_ref;
    elements += next.elements;
}

NonFinite find_non_finite(const Tensor& t) {
    NonFinite n;
    for (int64_t i = 0; i < t.size(); ++i)
        if (!std::isfinite(t.data[i]) && n.count++ == 0) {
            n.first = i;
            n.first_value = t.data[i];
        }
    return n;
}

OutputComparison compare_outputs(const Tensor& reference, const Tensor& candidate) {
    OutputComparison c;
    c.reference_shape = reference.shape;
    c.candidate_shape = candidate.shape;
    c.reference_non_finite = find_non_finite(reference);
    c.candidate_non_finite = find_non_finite(candidate);
    if (c.shapes_differ()) return c;
    c.elements = reference.size();
    for (int64_t i = 0; i < c.elements; ++i) {
        const double r = reference.data[i], d = double(candidate.data[i]) - r;
        if (!std::isfinite(d)) continue;  // counted above
        c.max_abs_diff = std::max(c.max_abs_diff, std::abs(d));
        c.max_abs_ref = std::max(c.max_abs_ref, std::abs(r));
        c.sum_sq_diff += d * d;
        c.sum_sq_ref += r * r;
    }
    return c;
}

std::string describe(const NonFinite& n) {
    if (n.count == 0) return "all finite";
    return std::to_string(n.count) + (n.count == 1 ? " NaN/Inf value" : " NaN/Inf values") +
           ", the first (" + value_name(n.first_value) + ") at index " + std::to_string(n.first);
}

std::string comparison_summary(const OutputComparison& c, const std::string& reference_name,
                               const std::string& candidate_name) {
    std::string s = reference_name + " vs " + candidate_name + ": ";
    if (c.shapes_differ())
        return s + "output shapes differ, " + to_string(c.reference_shape) + " vs " +
               to_string(c.candidate_shape);
    s += format("max|d| = %.3g", c.max_abs_diff) + format(", NMSE = %.3g", c.nmse()) + ", max|" +
         reference_name + format("| = %.4g", c.max_abs_ref) +
         format(", tolerance %.3g (", c.tolerance()) +
         (c.relative_tolerance == kMatchTolerance ? std::string("1e-4")
                                                  : format("%.3g", c.relative_tolerance)) +
         " * max|" + reference_name + "|)";
    if (!c.finite()) s += " over the finite values";
    return s;
}

std::string verdict_line(const OutputComparison& c, const std::string& reference_name,
                         const std::string& candidate_name) {
    switch (c.verdict()) {
        case Verdict::match:
            return "outputs match";
        case Verdict::mismatch:
            return "MISMATCH: the " + candidate_name + " graph does not reproduce the " +
                   reference_name + " one";
        case Verdict::not_finite:
            return "OUTPUTS NOT FINITE: " + reference_name + " output " +
                   describe(c.reference_non_finite) + "; " + candidate_name + " output " +
                   describe(c.candidate_non_finite);
    }
    return "";
}

}  // namespace rm
