#pragma once
// What rmvk's exit status means, so that scripts and CI can tell "the graphs are not
// equivalent" from "the input is broken" and from "the command line is wrong".
#include "rm/compare.hpp"

namespace rmvk::cli {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;      // a file rmvk cannot read, a model or device it cannot run
constexpr int kExitUsage = 2;      // a bad command line
constexpr int kExitMismatch = 3;   // the residual and plain outputs differ beyond the tolerance
constexpr int kExitNotFinite = 4;  // an output holds NaN or Inf

// For the --help of every command that compares the residual and plain graphs.
constexpr const char* kExitCodesHelp =
    "exit status:\n"
    "  0  done; where residual and plain are compared, their outputs match\n"
    "  1  error: a file that cannot be read, a model or device that cannot run\n"
    "  2  usage error\n"
    "  3  the residual and plain outputs do not match (max|d| > 1e-4 * max|residual|)\n"
    "  4  an output holds NaN or Inf (never a match)\n";

inline int exit_code_for(rm::Verdict v) {
    switch (v) {
        case rm::Verdict::match:
            return kExitOk;
        case rm::Verdict::mismatch:
            return kExitMismatch;
        case rm::Verdict::not_finite:
            return kExitNotFinite;
    }
    return kExitError;
}

}  // namespace rmvk::cli
