// rmvk convert: rewrite a ResNet as a plain Conv-ReLU network (RM), save it, and check on the
// CPU reference that both give the same output.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/exit_codes.hpp"
#include "app/cli/warnings.hpp"
#include "rm/compare.hpp"
#include "rm/cost.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/error.hpp"
#include "rm/fuse_linear.hpp"
#include "rm/model_loader.hpp"
#include "rm/onnx_check.hpp"
#include "rm/onnx_io.hpp"
#include "rm/rm_transform.hpp"
#include "rm/shape_inference.hpp"

namespace rmvk::cli {

namespace {

constexpr const char* kUsage =
    "usage: rmvk convert [MODEL] -o PLAIN.onnx [--require-all]\n"
    "                    [--fuse-linear|--fuse-linear-all|--no-fuse-linear]\n"
    "                    [--verify-size HxW] [--no-verify]\n"
    "\n"
    "Folds BatchNormalization, replaces every convertible residual block by a plain\n"
    "Conv-ReLU chain (RM: reserve the block input in extra channels, merge it into the last\n"
    "conv), writes the result as ONNX at the input's opset (13 for builtin models; weights in\n"
    "PLAIN.onnx.data when large) and checks the file (ONNX's checker up to the opset it knows,\n"
    "rmvk's structural checks above), prints parameters and MACs before and after, and the\n"
    "largest difference between the residual and plain outputs on a fixed random input (CPU\n"
    "reference).\n"
    "\n"
    "  MODEL              a .onnx file (ONNX opsets 7-21) or builtin:NAME; omitted: the\n"
    "                     bundled default model\n"
    "  -o, --output FILE  where to write the plain model (required)\n"
    "  --require-all      fail if any residual block cannot be converted\n"
    "  --fuse-linear      after RM, compose consecutive linear 1x1 convs (no activation\n"
    "                     between) into one, exactly, where the composed conv does no more\n"
    "                     multiply-adds than the pair, and print the MACs before and after;\n"
    "                     on by default when an inverted residual (no activation after its\n"
    "                     Add) was converted\n"
    "  --fuse-linear-all  compose every such pair, also where that raises the MACs (fewest\n"
    "                     layers: MobileNetV2 becomes a MobileNetV1-like chain)\n"
    "  --no-fuse-linear   compose none\n"
    "  --verify-size HxW  input size for the check (default: the model's size, or a smaller\n"
    "                     one for big models when the network is convolutional up to its\n"
    "                     global pool)\n"
    "  --no-verify        skip the check\n";

// Plain-model MACs above which the check runs at a reduced input size, to keep it to seconds.
constexpr double kVerifyMacBudget = 2.5e9;
constexpr int64_t kExternalDataBytes = int64_t(256) << 20;

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string human_bytes(double b) {
    char buf[32];
    if (b >= 1e9)
        std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
    else
        std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
    return buf;
}

struct Size {
    int64_t h = 0, w = 0;
};

Size parse_size(const std::string& s) {
    size_t x = s.find_first_of("xX");
    try {
        size_t used = 0;
        Size out;
        out.h = std::stoll(s.substr(0, x), &used);
        if (used != x && x != std::string::npos) throw std::invalid_argument("");
        out.w = x == std::string::npos ? out.h : std::stoll(s.substr(x + 1), &used);
        if (out.h < 1 || out.w < 1 || out.h > 4096 || out.w > 4096) throw std::invalid_argument("");
        return out;
    } catch (const std::exception&) {
        throw UsageError("--verify-size expects HxW such as 64x64, got '" + s + "'");
    }
}

// Shapes for a batch-1 run at size h x w; throws rm::Error when the network cannot take it.
rm::ShapeMap shapes_at(rm::Graph& g, Size s) {
    rm::Shape& in = g.inputs.at(0).shape;
    if (in.size() != 4) throw rm::Error("input '" + g.inputs[0].name + "' is not NCHW");
    in[0] = 1;
    in[2] = s.h;
    in[3] = s.w;
    return rm::infer_shapes(g, 1);
}

// True when the model gives outputs of the same shape at size `s` (convolutional up to a
// global pool), so a check there says the same as one at full size.
bool accepts_size(rm::Graph& g, Size s, const rm::ShapeMap& full) {
    const rm::Shape saved = g.inputs.at(0).shape;
    bool ok = true;
    try {
        rm::ShapeMap shapes = shapes_at(g, s);
        for (const auto& o : g.outputs) {
            rm::Shape a = shapes.at(o), b = full.at(o);
            if (a.empty() || b.empty() || a.size() != b.size() ||
                !std::equal(a.begin() + 1, a.end(), b.begin() + 1))
                ok = false;
        }
    } catch (const rm::Error&) {
        ok = false;
    }
    g.inputs[0].shape = saved;
    rm::infer_shapes(g, 1);
    return ok;
}

rm::Tensor random_input(const rm::Shape& shape) {
    rm::Tensor t(shape);
    uint64_t state = 0x5DEECE66Dull;
    for (float& v : t.data) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        v = -1.7f + 3.4f * static_cast<float>(state >> 40) / 16777216.0f;
    }
    return t;
}

}  // namespace

int cmd_convert(const std::vector<std::string>& argv) {
    Args args(
        argv, {"-o", "--output", "--verify-size"},
        {"--require-all", "--no-verify", "--fuse-linear", "--fuse-linear-all", "--no-fuse-linear"});
    if (int(args.has("--fuse-linear")) + int(args.has("--fuse-linear-all")) +
            int(args.has("--no-fuse-linear")) >
        1)
        throw UsageError("give one of --fuse-linear, --fuse-linear-all and --no-fuse-linear");

    if (args.help()) {
        std::printf("%s\n%s", kUsage, kExitCodesHelp);
        return 0;
    }
    const std::string spec = model_argument(args);
    const std::string out_path = args.get("-o", args.get("--output"));
    if (out_path.empty()) throw UsageError("missing -o PLAIN.onnx");
    const auto start = Clock::now();

    auto t = Clock::now();
    rm::Graph residual = rm::load_model(spec);
    warn_non_finite_weights("convert", residual);
    if (residual.inputs.size() != 1) throw rm::Error("convert expects a model with one input");
    rm::ShapeMap res_shapes = rm::infer_shapes(residual, 1);
    rm::GraphCost before = rm::compute_cost(residual, res_shapes);
    std::printf("loaded %s: %.2fM params, %.3f GMACs at %s (%.2f s)\n",
                spec.empty() ? rm::default_model_path().c_str() : spec.c_str(),
                before.total_params / 1e6, before.total_macs / 1e9,
                rm::to_string(res_shapes.at(residual.inputs[0].name)).c_str(), seconds_since(t));

    t = Clock::now();
    rm::RmOptions options;
    options.require_all = args.has("--require-all");
    rm::RmResult result = rm::rm_transform(residual, options);
    std::printf("converted %d of %zu residual blocks (%.2f s)\n", result.converted,
                result.blocks.size(), seconds_since(t));
    for (const auto& b : result.blocks)
        if (!b.convertible)
            std::printf("  kept residual: %s: %s\n", b.name.c_str(), b.reason.c_str());

    rm::Graph& plain = result.plain;
    rm::ShapeMap plain_shapes = rm::infer_shapes(plain, 1);
    rm::GraphCost after = rm::compute_cost(plain, plain_shapes);
    std::printf("plain model: %.2fM params (x%.2f), %.3f GMACs (x%.2f)\n", after.total_params / 1e6,
                double(after.total_params) / std::max<int64_t>(before.total_params, 1),
                after.total_macs / 1e9,
                double(after.total_macs) / std::max<int64_t>(before.total_macs, 1));
    const bool inverted = std::any_of(
        result.blocks.begin(), result.blocks.end(),
        [](const auto& b) { return b.convertible && b.relu_node.empty() && !b.pre_activation; });
    if (args.has("--fuse-linear") || args.has("--fuse-linear-all") ||
        (inverted && !args.has("--no-fuse-linear"))) {
        const int64_t macs_rm = after.total_macs;
        const auto which =
            args.has("--fuse-linear-all") ? rm::FuseLinear::all : rm::FuseLinear::fewer_macs;
        const auto fused = rm::fuse_linear_1x1(plain, &result.mapping, which);
        plain_shapes = rm::infer_shapes(plain, 1);
        after = rm::compute_cost(plain, plain_shapes);
        std::printf(
            "linear 1x1 fusion: %d pairs composed, %.3f -> %.3f GMACs (x%.2f of the "
            "residual model), %.2fM params\n",
            fused.fused, macs_rm / 1e9, after.total_macs / 1e9,
            double(after.total_macs) / std::max<int64_t>(before.total_macs, 1),
            after.total_params / 1e6);
        if (fused.skipped)
            std::printf(
                "linear 1x1 fusion: %d pairs left apart (composed, each would cost more "
                "multiply-adds than the pair; --fuse-linear-all composes them)\n",
                fused.skipped);
    }

    t = Clock::now();
    rm::SaveOptions save;
    save.opset = residual.opset;  // 0 (a builtin model): the saver's default
    const int64_t weight_bytes = after.total_params * int64_t(sizeof(float));
    save.force_external_data = weight_bytes > kExternalDataBytes;
    rm::save_onnx(plain, out_path, save);
    std::error_code ec;
    double written = double(std::filesystem::file_size(out_path, ec));
    if (save.force_external_data)
        written += double(std::filesystem::file_size(out_path + ".data", ec));
    std::printf("wrote %s%s, %s (%.2f s)\n", out_path.c_str(),
                save.force_external_data ? (" + " + out_path + ".data").c_str() : "",
                human_bytes(written).c_str(), seconds_since(t));
    t = Clock::now();
    const std::string checked = rm::check_onnx_file(out_path);
    std::printf("check: %s (%.2f s)\n", checked.c_str(), seconds_since(t));

    rm::Verdict verdict = rm::Verdict::match;
    if (!args.has("--no-verify")) {
        t = Clock::now();
        const rm::Shape& full = residual.inputs[0].shape;
        if (full.size() != 4)
            throw rm::Error("input '" + residual.inputs[0].name + "' is not NCHW");
        Size size{full[2], full[3]};
        std::string why = "the model's size";
        if (args.has("--verify-size")) {
            size = parse_size(args.get("--verify-size"));
            why = "--verify-size";
        } else if (after.total_macs > kVerifyMacBudget) {
            // MACs scale with the pixel count; take the largest reduced size within budget.
            const double scale = std::sqrt(kVerifyMacBudget / double(after.total_macs));
            Size reduced{std::max<int64_t>(32, int64_t(full[2] * scale) / 16 * 16),
                         std::max<int64_t>(32, int64_t(full[3] * scale) / 16 * 16)};
            if (reduced.h < size.h && accepts_size(residual, reduced, res_shapes) &&
                accepts_size(plain, reduced, plain_shapes)) {
                size = reduced;
                why =
                    "reduced to keep the check fast; the network is convolutional up to its global "
                    "pool";
            } else {
                why = "the model's size (the network needs it)";
            }
        }
        shapes_at(residual, size);
        shapes_at(plain, size);
        rm::Tensor x = random_input({1, full[1], size.h, size.w});
        auto a = rm::run_cpu(residual, {{residual.inputs[0].name, x}});
        auto b = rm::run_cpu(plain, {{plain.inputs[0].name, x}});
        std::printf("verify at %lldx%lld (%s), CPU reference (%.2f s):\n",
                    static_cast<long long>(size.h), static_cast<long long>(size.w), why.c_str(),
                    seconds_since(t));
        for (const auto& name : residual.outputs) {
            const auto c = rm::compare_outputs(a.at(name), b.at(name));
            const std::string prefix = residual.outputs.size() > 1 ? "  " + name + ": " : "  ";
            std::printf("%s%s\n%s%s\n", prefix.c_str(),
                        rm::comparison_summary(c, "residual", "plain").c_str(), prefix.c_str(),
                        rm::verdict_line(c, "residual", "plain").c_str());
            verdict = worse(verdict, c.verdict());
        }
    }
    std::printf("total %.2f s\n", seconds_since(start));
    return exit_code_for(verdict);
}

}  // namespace rmvk::cli
