#pragma once
#include <string>

#include "rm/graph.hpp"

namespace rm {

// MODEL as users write it on the command line: a .onnx path or a "builtin:" name.
// An empty spec means the bundled default model (assets/). Throws rm::Error.
Graph load_model(const std::string& spec);

// Path of the bundled default model.
std::string default_model_path();

// The directory holding bundled assets (RMVK_ASSET_DIR env var, else the build-time path).
std::string asset_dir();

}  // namespace rm
