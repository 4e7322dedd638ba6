#pragma once
// NaN/Inf at their source, one stderr line each: a weight or BN statistic on load, the input
// before a run. They propagate to the outputs (as in PyTorch), and the verdict says so too.
#include <cstdio>
#include <string>

#include "rm/non_finite.hpp"

namespace rmvk::cli {

inline void warn_non_finite_weights(const char* command, const rm::Graph& graph) {
    for (const auto& w : rm::non_finite_initializer_warnings(graph))
        std::fprintf(stderr, "rmvk %s: warning: %s\n", command, w.c_str());
}

inline void warn_non_finite_input(const char* command, const rm::Tensor& x,
                                  const std::string& what) {
    const std::string w = rm::non_finite_input_warning(x, what);
    if (!w.empty()) std::fprintf(stderr, "rmvk %s: warning: %s\n", command, w.c_str());
}

}  // namespace rmvk::cli
