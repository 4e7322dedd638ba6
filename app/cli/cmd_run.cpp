// rmvk run: one input through the residual graph, its plain (RM) twin, or both, on the CPU
// reference executor or a Vulkan device; prints the top-5 classes and, for both, how closely
// the two outputs agree.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/exit_codes.hpp"
#include "app/cli/table.hpp"
#include "app/cli/warnings.hpp"
#include "app/engine/engine.hpp"
#include "rm/compare.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/error.hpp"
#include "rm/image.hpp"
#include "rm/model_loader.hpp"
#include "rm/npy.hpp"
#include "rm/rm_transform.hpp"

namespace rmvk::cli {

namespace {

constexpr const char* kHelp =
    "usage: rmvk run [MODEL] --input X.npy|IMAGE [options]\n\n"
    "Runs MODEL (a .onnx file, builtin:NAME, or the bundled Fashion-MNIST ResNet when omitted)\n"
    "on one input and prints the top-5 classes. An image is preprocessed the way the model asks\n"
    "(its metadata, else ImageNet) and gives batch 1; a .npy holds an NCHW float32 tensor.\n\n"
    "  --input FILE       .npy tensor or image (PNG/JPEG/BMP)\n"
    "  --output Y.npy     write the output (the residual graph's when --graph both)\n"
    "  --graph G          residual | plain | both (default residual). plain is the RM-converted\n"
    "                     network without shortcuts; both runs the two and compares them:\n"
    "                     they match when max|d| <= 1e-4 * max|residual output| (1e-2 with\n"
    "                     --precision fp16) and neither holds a NaN or Inf (the exit status\n"
    "                     says which)\n"
    "  --plain-exec E     structured | dense (default structured): the plain graph's convs as\n"
    "                     their dense blocks plus copies and merges, or as the dense weights\n"
    "                     a generic runtime runs from the exported ONNX\n"
    "  --device D         cpu (reference executor) | Vulkan device INDEX | NAME substring;\n"
    "                     default: the default Vulkan device, or cpu when there is none\n"
    "  --batch B          repeat a batch-1 input B times\n"
    "%s";

struct GraphRun {
    std::string graph;  // "residual" / "plain"
    rm::Tensor output;
    double ms = 0;
};

rm::Tensor load_input(const std::string& path, const rm::Graph& graph) {
    if (rm::is_image_path(path))
        return rm::preprocess(rm::read_image(path), rm::preprocessing_for(graph));
    return rm::read_npy(path);
}

// The input must fit the model's declared shape (any batch); say so in the user's terms.
void check_input_shape(const rm::Tensor& x, const rm::ValueInfo& in, const std::string& path) {
    bool ok = x.shape.size() == in.shape.size();
    for (size_t i = 1; ok && i < x.shape.size(); ++i)
        ok = in.shape[i] < 0 || in.shape[i] == x.shape[i];
    if (!ok || x.shape.empty() || x.shape[0] < 1 ||
        (in.shape[0] > 0 && in.shape[0] != x.shape[0] && in.shape[0] != 1))
        throw rm::Error(path + ": input has shape " + rm::to_string(x.shape) +
                        ", but the model's input '" + in.name + "' is " + rm::to_string(in.shape));
}

rm::Tensor repeat_batch(const rm::Tensor& x, int64_t batch) {
    if (batch == x.shape[0]) return x;
    if (x.shape[0] != 1)
        throw UsageError("--batch " + std::to_string(batch) +
                         " needs a batch-1 input, the input has batch " +
                         std::to_string(x.shape[0]));
    rm::Shape s = x.shape;
    s[0] = batch;
    rm::Tensor out(s);
    for (int64_t b = 0; b < batch; ++b)
        std::copy(x.data.begin(), x.data.end(), out.data.begin() + b * x.size());
    return out;
}

void print_top5(const GraphRun& run, const std::vector<std::string>& labels) {
    const auto& y = run.output;
    std::printf("%s graph: output %s in %.1f ms\n", run.graph.c_str(),
                rm::to_string(y.shape).c_str(), run.ms);
    if (y.shape.size() != 2 || y.shape[1] < 1) return;
    int64_t classes = y.shape[1];
    for (int64_t b = 0; b < std::min<int64_t>(y.shape[0], 4); ++b) {
        const float* row = y.ptr() + b * classes;
        // Softmax for display, unless the model already ends in probabilities.
        double sum = 0;
        bool probs = true;
        for (int64_t k = 0; k < classes; ++k) {
            sum += row[k];
            probs = probs && row[k] >= 0;
        }
        probs = probs && std::abs(sum - 1) < 1e-3;
        float top = *std::max_element(row, row + classes);
        double z = 0;
        for (int64_t k = 0; k < classes; ++k) z += std::exp(double(row[k]) - top);
        std::vector<int64_t> order(static_cast<size_t>(classes));
        std::iota(order.begin(), order.end(), 0);
        size_t n = std::min<size_t>(5, order.size());
        std::partial_sort(order.begin(), order.begin() + n, order.end(),
                          [&](int64_t a, int64_t c) { return row[a] > row[c]; });
        if (y.shape[0] > 1) std::printf("  item %lld:\n", static_cast<long long>(b));
        for (size_t i = 0; i < n; ++i) {
            int64_t k = order[i];
            double p = probs ? row[k] : std::exp(double(row[k]) - top) / z;
            std::string name =
                k < static_cast<int64_t>(labels.size()) ? labels[k] : "class " + std::to_string(k);
            std::printf("  %zu. %-24s %6.2f%%  (%s %.4g)\n", i + 1, name.c_str(), 100 * p,
                        probs ? "p" : "logit", double(row[k]));
        }
    }
}

}  // namespace

int cmd_run(const std::vector<std::string>& argv) {
    Args args(
        argv,
        {"--input", "--output", "--graph", "--plain-exec", "--device", "--batch", "--precision"},
        {});
    if (args.help()) {
        std::printf(kHelp, kPrecisionHelp);
        std::printf("\n%s", kExitCodesHelp);
        return 0;
    }
    const std::string model = model_argument(args);
    const std::string input_path = args.get("--input");
    if (input_path.empty()) throw UsageError("--input X.npy|IMAGE is required");
    const std::string which = args.get("--graph", "residual");
    if (which != "residual" && which != "plain" && which != "both")
        throw UsageError("--graph must be residual, plain or both, not '" + which + "'");
    const bool structured = plain_exec_structured(args);
    const Precision precision = precision_option(args);
    int64_t batch = args.get_int("--batch", 0);
    if (args.has("--batch") && (batch < 1 || batch > 4096))
        throw UsageError("--batch must be 1..4096");

    rm::Graph residual = rm::load_model(model);
    warn_non_finite_weights("run", residual);
    if (residual.inputs.size() != 1) throw rm::Error("rmvk run supports models with one input");
    rm::Tensor x = load_input(input_path, residual);
    check_input_shape(x, residual.inputs[0], input_path);
    warn_non_finite_input("run", x, input_path);
    if (batch > 0) x = repeat_batch(x, batch);
    batch = x.shape[0];

    // Device: explicit, or the default Vulkan device, or the CPU when there is none.
    std::string device = args.get("--device");
    std::string device_note;
    if (!args.has("--device")) {
        if (list_devices().empty()) {
            device = "cpu";
            device_note = " (no Vulkan device found)";
        } else {
            device_note = " (default; choose with --device)";
        }
    }
    std::unique_ptr<Context> context;
    if (device == "cpu" && precision != Precision::Fp32)
        throw UsageError("--precision fp16 needs a Vulkan device (the cpu executor runs fp32)");
    if (device == "cpu") {
        std::printf("device: cpu, rmvk's reference executor%s\n", device_note.c_str());
    } else {
        ContextOptions options;
        options.device = device;
        context = std::make_unique<Context>(options);
        const auto& d = context->device();
        std::printf("device: [%d] %s, %s, Vulkan%s, %s storage\n", d.index, d.name.c_str(),
                    d.driver.c_str(), device_note.c_str(), precision_name(precision));
    }
    std::printf("model: %s, input %s from %s\n", model.empty() ? "bundled default" : model.c_str(),
                rm::to_string(x.shape).c_str(), input_path.c_str());

    std::vector<std::pair<std::string, rm::Graph>> graphs;
    if (which != "plain") graphs.emplace_back("residual", residual);
    if (which != "residual") {
        auto rm_result = rm::rm_transform(residual);
        std::printf("RM: %d of %zu residual blocks converted to plain Conv-ReLU\n",
                    rm_result.converted, rm_result.blocks.size());
        graphs.emplace_back("plain", std::move(rm_result.plain));
    }

    std::vector<GraphRun> runs;
    for (auto& [name, graph] : graphs) {
        std::map<std::string, rm::Tensor> inputs{{graph.inputs.at(0).name, x}};
        GraphRun run{name, {}, 0};
        auto t0 = std::chrono::steady_clock::now();
        std::map<std::string, rm::Tensor> outputs;
        if (context) {
            RunOptions options;
            options.structured = structured;
            options.precision = precision;
            GraphRunner runner(*context, graph, batch, options);
            t0 = std::chrono::steady_clock::now();  // time the run, not weight upload and pipeline
                                                    // creation
            outputs = runner.run(inputs).outputs;
        } else {
            rm::CpuRunOptions options;
            options.dense_structured = !structured;
            outputs = rm::run_cpu(graph, inputs, options);
        }
        run.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                     .count();
        if (graph.outputs.empty() || !outputs.count(graph.outputs[0]))
            throw rm::Error("the " + name + " graph produced no output");
        run.output = std::move(outputs.at(graph.outputs[0]));
        runs.push_back(std::move(run));
    }

    const auto& first = runs[0].output;
    auto labels = rm::class_labels(residual, first.shape.size() == 2 ? first.shape[1] : 0);
    for (const auto& r : runs) print_top5(r, labels);

    if (args.has("--output")) {
        rm::write_npy(args.get("--output"), runs[0].output);
        std::printf("wrote the %s output to %s\n", runs[0].graph.c_str(),
                    args.get("--output").c_str());
    }

    if (runs.size() == 2) {
        auto c = rm::compare_outputs(runs[0].output, runs[1].output);
        if (precision == Precision::Fp16) c.relative_tolerance = rm::kFp16MatchTolerance;
        std::printf("%s\n%s\n", rm::comparison_summary(c, "residual", "plain").c_str(),
                    rm::verdict_line(c, "residual", "plain").c_str());
        return exit_code_for(c.verdict());
    }
    return 0;
}

}  // namespace rmvk::cli
