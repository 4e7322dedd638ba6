// rmvk prune: remove the channels a sparsity-trained model no longer uses, from the plain (RM)
// graph (every channel, reserved copies included) or the residual one (block-internal only),
// and measure what that buys: size, MACs, accuracy, device time.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/table.hpp"
#include "app/cli/warnings.hpp"
#include "app/engine/prune_sweep.hpp"
#include "rm/compare.hpp"
#include "rm/cost.hpp"
#include "rm/cpu_executor.hpp"
#include "rm/error.hpp"
#include "rm/model_loader.hpp"
#include "rm/onnx_check.hpp"
#include "rm/onnx_io.hpp"
#include "rm/shape_inference.hpp"

namespace rmvk::cli {

namespace {

constexpr const char* kHelp =
    "usage: rmvk prune [MODEL] -o PRUNED.onnx [--threshold T | --max-drop PP] [--graph G]\n"
    "       rmvk prune [MODEL] --sweep [--json FILE] [--points N]\n\n"
    "Prunes the channels of MODEL (a sparsity-trained ResNet, e.g.\n"
    "assets/fashion_resnet_sparse.onnx) and writes an ordinary ONNX model. The plain graph\n"
    "(RM first) can lose every channel, the reserved copies of block inputs included; the\n"
    "residual graph only block-internal ones, since every residual Add ties its channels.\n"
    "A channel goes when nothing uses it: it is zero, no reader has a weight on it, or it is a\n"
    "constant (folded into the next layer's bias: exact without padding in between, otherwise\n"
    "listed as an approximation). A threshold first zeroes every conv row (and the sole\n"
    "reader's column) whose L2 norm is below it. Prints channels per layer, params, MACs, the\n"
    "largest output difference against MODEL on real images, validation and test accuracy\n"
    "(Fashion-MNIST, when dataset-fashion-mnist is installed) and device time at batch 100.\n\n"
    "  -o, --output FILE  where to write the pruned model (with --graph both: the plain one;\n"
    "                     the residual one goes to FILE's name with _residual)\n"
    "  --threshold T      norm threshold (default 0: only what carries nothing)\n"
    "  --max-drop PP      search the largest threshold whose model stays within PP accuracy\n"
    "                     points of MODEL on the validation split (the last 5,000 training\n"
    "                     images); the test set is never used to choose\n"
    "  --graph G          plain (default) | residual | both\n"
    "  --sweep            for a series of thresholds, plain and residual: channels, params,\n"
    "                     MACs, validation and test accuracy, device time at batch 1 and 100\n"
    "  --points N         thresholds per sweep curve (default 8)\n"
    "  --json FILE        write the sweep as JSON\n"
    "  --device D         Vulkan device INDEX | NAME for accuracy and device time, or cpu\n"
    "                     (accuracy on the CPU reference, no device time); default: the\n"
    "                     default Vulkan device\n"
    "  --runs N           timed runs per batch size (median; default 5)\n"
    "  --val-limit N      only the first N validation images\n"
    "  --test-limit N     only the first N test images (0: skip the test set)\n"
    "  --data-dir DIR     where the dataset's .gz files are (default "
    "/usr/share/datasets/fashion-mnist)\n";

std::string count_text(int64_t n) {
    if (n >= 10'000'000) return strf("%.1fM", static_cast<double>(n) / 1e6);
    if (n >= 10'000) return strf("%.1fk", static_cast<double>(n) / 1e3);
    return std::to_string(n);
}
std::string pct(double v) {
    return v < 0 ? "-" : strf("%.2f", v);
}
std::string ms(double v) {
    return v < 0 ? "-" : strf("%.3f", v);
}

// Where accuracy and device time are measured.
struct Devices {
    std::unique_ptr<Context> context;  // null: CPU only
    std::unique_ptr<BatchRunner> runner;
};

Devices open_devices(const std::string& choice) {
    Devices d;
    if (choice != "cpu" && !(choice.empty() && list_devices().empty()))
        d.context = std::make_unique<Context>(ContextOptions{.device = choice});
    d.runner = std::make_unique<BatchRunner>(d.context.get());
    return d;
}

// The data a run may use. The test split is read only when asked for: the threshold search
// never needs it, and a stub dataset checks that.
struct Data {
    std::string dir;
    int64_t val_limit = 0, test_limit = -1;
    std::optional<rm::LabelledImages> validation, test;

    const rm::LabelledImages* val() {
        if (!validation && rm::fashion_mnist_train_available(dir))
            validation = rm::read_fashion_mnist_validation(dir, val_limit);
        return validation ? &*validation : nullptr;
    }
    const rm::LabelledImages* tst() {
        if (test_limit == 0) return nullptr;
        if (!test && rm::fashion_mnist_available(dir))
            test = rm::read_fashion_mnist_test(dir, std::max<int64_t>(test_limit, 0));
        return test ? &*test : nullptr;
    }
};

// A batch of real images for max|d|: validation images, else the bundled samples.
rm::Tensor real_images(Data& data, const rm::Preprocessing& pre) {
    if (const rm::LabelledImages* v = data.val())
        return rm::image_batch(*v, 0, std::min<int64_t>(v->count, 100), pre);
    namespace fs = std::filesystem;
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(rm::asset_dir() + "/samples", ec))
        if (rm::is_image_path(e.path().string())) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw rm::Error("no images to compare on (no dataset, no assets/samples)");
    rm::Tensor x({static_cast<int64_t>(files.size()), pre.channels, pre.height, pre.width});
    const int64_t per = pre.channels * pre.height * pre.width;
    for (size_t i = 0; i < files.size(); ++i) {
        const rm::Tensor one = rm::preprocess(rm::read_image(files[i]), pre);
        std::copy(one.data.begin(), one.data.end(), x.data.begin() + static_cast<int64_t>(i) * per);
    }
    return x;
}

// The pruned model's first output against the unpruned one's (rm::compare_outputs: NaN-aware).
rm::OutputComparison compare(const rm::Graph& a, const rm::Graph& b, const rm::Tensor& x) {
    const rm::Tensor ya = rm::run_cpu(a, {{a.inputs.at(0).name, x}}).at(a.outputs.at(0));
    const rm::Tensor yb = rm::run_cpu(b, {{b.inputs.at(0).name, x}}).at(b.outputs.at(0));
    return rm::compare_outputs(ya, yb);
}

void print_layers(const rm::PruneResult& r) {
    Table t({"layer", "out channels", "in channels"});
    for (const auto& l : r.layers)
        t.add({l.node,
               strf("%lld -> %lld", static_cast<long long>(l.out_before),
                    static_cast<long long>(l.out_after)),
               strf("%lld -> %lld", static_cast<long long>(l.in_before),
                    static_cast<long long>(l.in_after))});
    std::printf("%s", t.str().c_str());
    if (r.constants_folded_exactly > 0)
        std::printf("constant channels folded exactly into the next bias: %lld\n",
                    static_cast<long long>(r.constants_folded_exactly));
    for (const auto& a : r.approximations)
        std::printf(
            "approximation: %lld constant channel(s) folded into '%s', which pads (exact "
            "away from the border)\n",
            static_cast<long long>(a.channels), a.node.c_str());
}

struct Pruned {
    rm::PruneMode mode;
    double threshold = 0;
    rm::PruneResult result;
    PrunePoint point;
};

int run_sweep(const rm::Graph& residual, Data& data, Devices& dev, const Args& args) {
    SweepOptions options;
    options.points = static_cast<int>(args.get_int("--points", 8));
    if (options.points < 1 || options.points > 50) throw UsageError("--points must be 1..50");
    options.timing_runs = static_cast<int>(args.get_int("--runs", 5));
    options.time = dev.context != nullptr;
    PruneData pd;
    pd.pre = rm::preprocessing_for(residual);
    pd.validation = data.val();
    pd.test = data.tst();
    std::fprintf(stderr, "sweep on %s\n", dev.runner->device_name().c_str());
    int last = -1;
    const PruneSweep sweep = run_prune_sweep(
        residual, pd, dev.context.get(), options, [&](double f, const std::string& what) {
            const int tenth = static_cast<int>(f * 20);
            if (tenth != last) {
                std::fprintf(stderr, "sweep: %3.0f%% (%s)\n", f * 100, what.c_str());
                last = tenth;
            }
            return true;
        });
    Table t({"graph", "threshold", "channels", "params", "MACs", "val %", "test %", "ms b=1",
             "ms b=100", "x residual b=100"},
            1);
    auto add = [&](const PrunePoint& p) {
        const double ratio = p.ms_batch100 > 0 && sweep.residual.ms_batch100 > 0
                                 ? p.ms_batch100 / sweep.residual.ms_batch100
                                 : -1;
        t.add({p.pruned ? p.graph + " pruned" : p.graph, p.pruned ? strf("%.4g", p.threshold) : "-",
               std::to_string(p.channels), count_text(p.params), count_text(p.macs),
               pct(p.val_accuracy), pct(p.test_accuracy), ms(p.ms_batch1), ms(p.ms_batch100),
               ratio < 0 ? "-" : strf("%.2fx", ratio)});
    };
    add(sweep.residual);
    add(sweep.plain);
    t.add_separator();
    for (const auto& p : sweep.plain_pruned) add(p);
    t.add_separator();
    for (const auto& p : sweep.residual_pruned) add(p);
    std::printf("device: %s\n%s", sweep.device.c_str(), t.str().c_str());
    if (args.has("--json")) {
        const std::string path = args.get("--json");
        std::ofstream f(path);
        f << prune_sweep_to_json(sweep);
        if (!f) throw rm::Error(path + ": cannot write");
        std::printf("wrote %s\n", path.c_str());
    }
    return 0;
}

std::string residual_path(const std::string& out) {
    std::filesystem::path p(out);
    return (p.parent_path() / (p.stem().string() + "_residual" + p.extension().string())).string();
}

}  // namespace

int cmd_prune(const std::vector<std::string>& argv) {
    Args args(argv,
              {"-o", "--output", "--threshold", "--max-drop", "--graph", "--points", "--json",
               "--device", "--runs", "--val-limit", "--test-limit", "--data-dir"},
              {"--sweep"});
    if (args.help()) {
        std::printf("%s", kHelp);
        return 0;
    }
    const std::string model = model_argument(args);
    const bool sweep = args.has("--sweep");
    const std::string out = args.get("-o", args.get("--output"));
    if (!sweep && out.empty()) throw UsageError("-o PRUNED.onnx is required (or --sweep)");
    if (sweep && (args.has("--threshold") || args.has("--max-drop") || !out.empty()))
        throw UsageError("--sweep chooses its own thresholds and writes no model");
    if (args.has("--json") && !sweep) throw UsageError("--json goes with --sweep");
    if (args.has("--threshold") && args.has("--max-drop"))
        throw UsageError("give --threshold or --max-drop, not both");
    const double threshold = args.get_double("--threshold", 0);
    if (!(threshold >= 0) || !std::isfinite(threshold))
        throw UsageError("--threshold must be a number >= 0");
    const double max_drop = args.get_double("--max-drop", 0);
    if (!(max_drop >= 0) || !(max_drop <= 100))
        throw UsageError("--max-drop must be 0..100 points");
    const std::string which = args.get("--graph", "plain");
    if (which != "plain" && which != "residual" && which != "both")
        throw UsageError("--graph must be plain, residual or both, not '" + which + "'");
    Data data;
    data.dir = args.get("--data-dir", rm::kFashionMnistDir);
    data.val_limit = args.get_int("--val-limit", 0);
    data.test_limit = args.get_int("--test-limit", -1);
    if (args.has("--val-limit") && data.val_limit < 1) throw UsageError("--val-limit must be >= 1");
    if (args.has("--test-limit") && data.test_limit < 0)
        throw UsageError("--test-limit must be >= 0");
    const int runs = static_cast<int>(args.get_int("--runs", 5));
    if (runs < 1 || runs > 1000) throw UsageError("--runs must be 1..1000");

    const rm::Graph residual = rm::load_model(model);
    warn_non_finite_weights("prune", residual);
    if (residual.inputs.size() != 1 || residual.outputs.empty())
        throw rm::Error("rmvk prune needs a model with one input and an output");
    Devices dev = open_devices(args.get("--device", ""));
    if (sweep) return run_sweep(residual, data, dev, args);

    const rm::Preprocessing pre = rm::preprocessing_for(residual);
    std::vector<rm::PruneMode> modes;
    if (which != "residual") modes.push_back(rm::PruneMode::Plain);
    if (which != "plain") modes.push_back(rm::PruneMode::Residual);

    // Reference accuracy on the validation split: the unpruned residual model.
    double reference_val = -1;
    if (args.has("--max-drop")) {
        const rm::LabelledImages* val = data.val();
        if (!val)
            throw rm::Error(
                "--max-drop needs the validation split (install dataset-fashion-mnist"
                " or pass --data-dir)");
        reference_val = top1_accuracy(*dev.runner, residual, *val, pre);
        std::printf("validation split: %lld images (last %lld training images), unpruned %.2f%%\n",
                    static_cast<long long>(val->count),
                    static_cast<long long>(rm::kFashionMnistValidation), reference_val);
    }
    std::vector<Pruned> pruned;
    for (rm::PruneMode mode : modes) {
        const rm::PruneBase base = rm::prepare_pruning(residual, mode);
        Pruned p{mode, threshold, {}, {}};
        if (args.has("--max-drop")) {
            const ThresholdSearch s =
                search_threshold(base, *data.val(), pre, reference_val, max_drop, *dev.runner);
            p.threshold = s.threshold;
            std::printf(
                "%s: threshold %.6g chosen on the validation split (%.2f%%, %zu models tried)\n",
                rm::prune_mode_name(mode), s.threshold, s.val_accuracy, s.tried.size());
        }
        p.result = rm::prune(base, p.threshold);
        pruned.push_back(std::move(p));
    }
    std::fflush(stdout);

    // Everything below only reports; the test split may be read from here on.
    const rm::Tensor x = real_images(data, pre);
    PruneData pd;
    pd.pre = pre;
    pd.validation = data.val();
    pd.test = data.tst();
    const PrunePoint ref = measure_point(residual, pd, dev.runner.get(), dev.context.get(), runs);
    for (auto& p : pruned) {
        std::printf("\n== %s pruning, threshold %.6g ==\n", rm::prune_mode_name(p.mode),
                    p.threshold);
        print_layers(p.result);
        p.point = measure_point(p.result.graph, pd, dev.runner.get(), dev.context.get(), runs);
        const rm::OutputComparison c = compare(residual, p.result.graph, x);
        const double d = c.finite() && !c.shapes_differ() ? c.max_abs_diff : INFINITY;
        const double m = c.max_abs_ref;
        std::printf(
            "conv channels %lld -> %lld, params %s -> %s (%.2fx), MACs per image %s -> %s "
            "(%.2fx)\n",
            static_cast<long long>(ref.channels), static_cast<long long>(p.point.channels),
            count_text(ref.params).c_str(), count_text(p.point.params).c_str(),
            static_cast<double>(p.point.params) / static_cast<double>(ref.params),
            count_text(ref.macs).c_str(), count_text(p.point.macs).c_str(),
            static_cast<double>(p.point.macs) / static_cast<double>(ref.macs));
        std::printf(
            "max|d| against the unpruned model on %lld real images: %.3g (max|logit| %.4g)\n",
            static_cast<long long>(x.shape[0]), d, m);
    }
    std::printf("\n");
    Table t({"model", "threshold", "val %", "test %", "ms b=1", "ms b=100", "x residual b=100"});
    auto row = [&](const std::string& name, const std::string& thr, const PrunePoint& p) {
        t.add({name, thr, pct(p.val_accuracy), pct(p.test_accuracy), ms(p.ms_batch1),
               ms(p.ms_batch100),
               p.ms_batch100 > 0 && ref.ms_batch100 > 0
                   ? strf("%.2fx", p.ms_batch100 / ref.ms_batch100)
                   : "-"});
    };
    row("residual (unpruned)", "-", ref);
    for (const auto& p : pruned)
        row(std::string(rm::prune_mode_name(p.mode)) + " pruned", strf("%.6g", p.threshold),
            p.point);
    std::printf("device: %s%s\n%s", dev.runner->device_name().c_str(),
                pd.validation ? "" : " (no Fashion-MNIST: no accuracy)", t.str().c_str());

    for (const auto& p : pruned) {
        const std::string path =
            pruned.size() > 1 && p.mode == rm::PruneMode::Residual ? residual_path(out) : out;
        rm::save_onnx(p.result.graph, path);
        const std::string check = rm::check_onnx_file(path);  // throws when it fails
        std::printf("wrote %s (%s pruning; %s)\n", path.c_str(), rm::prune_mode_name(p.mode),
                    check.c_str());
    }
    return 0;
}

}  // namespace rmvk::cli
