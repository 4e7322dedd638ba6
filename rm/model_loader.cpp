#include "rm/model_loader.hpp"

#include <cstdlib>
#include <filesystem>

#include "rm/error.hpp"
#include "rm/onnx_io.hpp"
#include "rm/resnet_builder.hpp"

namespace rm {

std::string asset_dir() {
    if (const char* env = std::getenv("RMVK_ASSET_DIR"); env && *env) return env;
    return RMVK_ASSET_DIR;
}

std::string default_model_path() {
    return asset_dir() + "/fashion_resnet.onnx";
}

Graph load_model(const std::string& spec) {
    if (auto config = parse_builtin_spec(spec)) return build_resnet(*config);
    const std::string path = spec.empty() ? default_model_path() : spec;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        if (spec.empty())
            throw Error(
                path + ": no such file (the bundled default model is missing; set RMVK_ASSET_DIR)");
        throw Error(
            path + ": no such file (MODEL is a .onnx file or builtin:NAME, e.g. builtin:resnet18)");
    }
    return load_onnx(path);
}

}  // namespace rm
