#pragma once
// What rmvk's exit status means, so that scripts can tell "not equivalent" from "broken input".
#include "rm/compare.hpp"

namespace rmvk::cli {

constexpr int kExitOk = 0;

inline int exit_code_for(rm::Verdict v) {
    return v == rm::Verdict::match ? kExitOk : 1;
}

}  // namespace rmvk::cli
