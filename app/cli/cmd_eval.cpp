// rmvk eval: top-1 accuracy of a model on the Fashion-MNIST test set, for the residual graph,
// its plain (RM) twin, or both, with how far the two disagree.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <utility>

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/exit_codes.hpp"
#include "app/cli/progress.hpp"
#include "app/cli/warnings.hpp"
#include "app/engine/engine.hpp"
#include "rm/compare.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/error.hpp"
#include "rm/fashion_mnist.hpp"
#include "rm/image.hpp"
#include "rm/model_loader.hpp"
#include "rm/rm_transform.hpp"

namespace rmvk::cli {

namespace {

constexpr const char* kHelp =
    "usage: rmvk eval [MODEL] --dataset fashion-mnist [options]\n\n"
    "Classifies the Fashion-MNIST test set (10,000 images, from the Debian package\n"
    "dataset-fashion-mnist) with MODEL (a .onnx file, builtin:NAME, or the bundled\n"
    "Fashion-MNIST ResNet when omitted) and prints top-1 accuracy. Images are preprocessed\n"
    "as the model's metadata asks (the bundled model: x/255, then (x - 0.2860) / 0.3530).\n\n"
    "  --dataset NAME     fashion-mnist (the only one so far; the default)\n"
    "  --graph G          residual | plain | both (default residual). both also counts the\n"
    "                     images whose top-1 class differs and compares all logits as\n"
    "                     'rmvk run --graph both' does (the exit status says the verdict)\n"
    "  --plain-exec E     structured | dense (default structured): the plain graph's convs as\n"
    "                     their dense blocks plus copies and merges, or as the dense weights\n"
    "                     a generic runtime runs from the exported ONNX\n"
    "  --device D         cpu (reference executor; the default) | Vulkan device INDEX | NAME\n"
    "  --limit N          only the first N test images\n"
    "  --batch B          images per run (default 100)\n"
    "%s"
    "  --data-dir DIR     where the dataset's .gz files are (default "
    "/usr/share/datasets/fashion-mnist)\n";

// Runs one graph on one batch and returns its first output. The only place that knows about
// devices, so GPU eval means adding a branch here.
using BatchRunner = std::function<rm::Tensor(const rm::Graph&, const rm::Tensor&)>;

// Runs batches on a Vulkan device. A GraphRunner is built once per graph and batch size
// (weights uploaded once); the last, smaller batch gets its own.
class GpuBatchRunner {
  public:
    GpuBatchRunner(const std::string& device, bool structured, Precision precision)
        : context_(std::make_unique<Context>(ContextOptions{.device = device})) {
        options_.structured = structured;
        options_.precision = precision;
    }

    rm::Tensor operator()(const rm::Graph& graph, const rm::Tensor& x) {
        auto& runner = runners_[{&graph, x.shape.at(0)}];
        if (!runner)
            runner = std::make_unique<GraphRunner>(*context_, graph, x.shape.at(0), options_);
        auto outputs = runner->run({{graph.inputs.at(0).name, x}}).outputs;
        auto it = outputs.find(graph.outputs.at(0));
        if (it == outputs.end()) throw rm::Error("graph '" + graph.name + "' produced no output");
        return std::move(it->second);
    }
    const DeviceInfo& device() const { return context_->device(); }

  private:
    std::unique_ptr<Context> context_;
    RunOptions options_;
    std::map<std::pair<const rm::Graph*, int64_t>, std::unique_ptr<GraphRunner>> runners_;
};

// The runner for --device, and the device's name for the report line.
std::pair<BatchRunner, std::string> runner_for(const std::string& device, bool structured,
                                               Precision precision) {
    if (device == "cpu" && precision != Precision::Fp32)
        throw UsageError("--precision fp16 needs a Vulkan device (the cpu executor runs fp32)");
    if (device == "cpu") {
        BatchRunner cpu = [structured](const rm::Graph& graph, const rm::Tensor& x) {
            rm::CpuRunOptions options;
            options.dense_structured = !structured;
            auto outputs = rm::run_cpu(graph, {{graph.inputs.at(0).name, x}}, options);
            auto it = outputs.find(graph.outputs.at(0));
            if (it == outputs.end())
                throw rm::Error("graph '" + graph.name + "' produced no output");
            return std::move(it->second);
        };
        return {cpu, "cpu (reference executor)"};
    }
    auto gpu = std::make_shared<GpuBatchRunner>(device, structured, precision);
    std::string name = gpu->device().name + " (Vulkan, " + precision_name(precision) + " storage)";
    return {[gpu](const rm::Graph& g, const rm::Tensor& x) { return (*gpu)(g, x); }, name};
}

struct GraphScore {
    GraphScore(std::string n, rm::Graph g) : name(std::move(n)), graph(std::move(g)) {}
    std::string name;
    rm::Graph graph;
    int64_t correct = 0;
    double seconds = 0;
    rm::Tensor logits;  // of the current batch
};

int64_t argmax(const float* row, int64_t n) {
    return std::max_element(row, row + n) - row;
}

// The model must take one image input and give 10 scores.
void check_model(const rm::Graph& graph) {
    if (graph.inputs.size() != 1 || graph.outputs.empty())
        throw rm::Error("rmvk eval needs a model with one input and an output");
}

}  // namespace

int cmd_eval(const std::vector<std::string>& argv) {
    Args args(argv,
              {"--dataset", "--graph", "--plain-exec", "--device", "--limit", "--batch",
               "--data-dir", "--precision"},
              {});
    if (args.help()) {
        std::printf(kHelp, kPrecisionHelp);
        std::printf("\n%s", kExitCodesHelp);
        return 0;
    }
    const std::string model = model_argument(args);
    const std::string dataset = args.get("--dataset", "fashion-mnist");
    if (dataset != "fashion-mnist")
        throw UsageError("--dataset must be fashion-mnist, not '" + dataset + "'");
    const std::string which = args.get("--graph", "residual");
    if (which != "residual" && which != "plain" && which != "both")
        throw UsageError("--graph must be residual, plain or both, not '" + which + "'");
    const int64_t limit = args.get_int("--limit", 0);
    if (args.has("--limit") && limit < 1) throw UsageError("--limit must be at least 1");
    const int64_t batch = args.get_int("--batch", 100);
    if (batch < 1 || batch > 4096) throw UsageError("--batch must be 1..4096");
    const Precision precision = precision_option(args);
    auto [run, device_name] =
        runner_for(args.get("--device", "cpu"), plain_exec_structured(args), precision);

    rm::Graph residual = rm::load_model(model);
    warn_non_finite_weights("eval", residual);
    check_model(residual);
    const rm::Preprocessing pre = rm::preprocessing_for(residual);
    const rm::LabelledImages set =
        rm::read_fashion_mnist_test(args.get("--data-dir", rm::kFashionMnistDir), limit);

    std::vector<GraphScore> scores;
    if (which != "plain") scores.emplace_back("residual", residual);
    if (which != "residual") {
        auto converted = rm::rm_transform(residual);
        std::printf("RM: %d of %zu residual blocks converted to plain Conv-ReLU\n",
                    converted.converted, converted.blocks.size());
        scores.emplace_back("plain", std::move(converted.plain));
    }
    std::printf(
        "model: %s, input %lldx%lldx%lld, %lld Fashion-MNIST test images, batch %lld, device %s\n",
        model.empty() ? "bundled default" : model.c_str(), static_cast<long long>(pre.channels),
        static_cast<long long>(pre.height), static_cast<long long>(pre.width),
        static_cast<long long>(set.count), static_cast<long long>(batch), device_name.c_str());
    std::fflush(stdout);

    int64_t top1_differs = 0;
    rm::OutputComparison logits;  // over every batch, with rmvk run's criterion
    if (precision == Precision::Fp16) logits.relative_tolerance = rm::kFp16MatchTolerance;
    Progress progress(set.count, "images", "eval");
    for (int64_t begin = 0; begin < set.count; begin += batch) {
        const int64_t end = std::min(set.count, begin + batch);
        const rm::Tensor x = rm::image_batch(set, begin, end, pre);
        for (auto& s : scores) {
            auto t0 = std::chrono::steady_clock::now();
            s.logits = run(s.graph, x);
            s.seconds +=
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const auto& y = s.logits;
            if (y.shape.size() != 2 || y.shape[0] != end - begin || y.shape[1] != 10)
                throw rm::Error("the " + s.name + " graph gives output " + rm::to_string(y.shape) +
                                "; Fashion-MNIST needs 10 class scores per image");
            for (int64_t i = 0; i < end - begin; ++i)
                if (argmax(y.ptr() + i * 10, 10) == set.labels[static_cast<size_t>(begin + i)])
                    ++s.correct;
        }
        if (scores.size() == 2) {
            const auto& a = scores[0].logits;
            const auto& b = scores[1].logits;
            for (int64_t i = 0; i < end - begin; ++i)
                if (argmax(a.ptr() + i * 10, 10) != argmax(b.ptr() + i * 10, 10)) ++top1_differs;
            logits.append(rm::compare_outputs(a, b));
        }
        progress.update(end);
    }

    for (const auto& s : scores)
        std::printf("%s: %lld/%lld correct, accuracy %.2f%% (%.1f s, %.0f images/s)\n",
                    s.name.c_str(), static_cast<long long>(s.correct),
                    static_cast<long long>(set.count), 100.0 * s.correct / set.count, s.seconds,
                    set.count / std::max(s.seconds, 1e-9));
    if (scores.size() == 2) {
        std::printf("residual vs plain: top-1 differs on %lld images\n%s\n%s\n",
                    static_cast<long long>(top1_differs),
                    rm::comparison_summary(logits, "residual", "plain").c_str(),
                    rm::verdict_line(logits, "residual", "plain").c_str());
        return exit_code_for(logits.verdict());
    }
    return 0;
}

}  // namespace rmvk::cli
