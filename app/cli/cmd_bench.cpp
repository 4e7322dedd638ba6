// rmvk bench: per-layer device time of the residual and plain graphs on a Vulkan device, with
// totals, wall latency, throughput, memory and the share of the device's measured peak.
#include <cstdio>
#include <fstream>

#include "app/cli/args.hpp"
#include "app/cli/bench_run.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/progress.hpp"
#include "app/cli/table.hpp"
#include "app/cli/warnings.hpp"
#include "app/report/bench_report.hpp"
#include "rm/error.hpp"
#include "rm/model_loader.hpp"
#include "rm/resnet_builder.hpp"
#include "rm/rm_transform.hpp"
#include "rm/shape_inference.hpp"

namespace rmvk::cli {

namespace {

constexpr const char* kHelp =
    "usage: rmvk bench [MODEL] [options]\n"
    "       rmvk bench --peak [--device D]\n\n"
    "Times MODEL (a .onnx file, builtin:NAME, or the bundled model when omitted) on a Vulkan\n"
    "device: per-layer device time (median over --iters, from GPU timestamps), total device\n"
    "time, wall latency median and p95 (upload + run + download), throughput, MACs, GFLOP/s and\n"
    "%% of the device's measured FMA peak, weight and peak activation memory. With both graphs,\n"
    "a residual-vs-plain comparison with each plain layer next to the residual nodes it came "
    "from.\n\n"
    "  --graph G          residual | plain | both (default both)\n"
    "  --plain-exec E     structured | dense | both (default both): the plain graph's convs as\n"
    "                     their dense blocks plus copies and merges ('plain'), or as the dense\n"
    "                     weights a generic runtime runs from the exported ONNX ('plain dense')\n"
    "  --device D         Vulkan device INDEX or NAME substring (see 'rmvk devices')\n"
    "  --batch B          batch size (default 1)\n"
    "%s"
    "  --input-size HxW   rebuild a builtin model at this size, or override an ONNX model's\n"
    "                     input height/width when the graph allows it\n"
    "  --warmup N         untimed runs first (default 2)\n"
    "  --iters N          timed runs (default 10)\n"
    "  --json FILE        write the full report as JSON (read by 'rmvk report' and the app)\n"
    "  --csv FILE         write the per-layer rows as CSV\n"
    "  --no-peak          skip measuring the device peak (no %% of peak)\n"
    "  --peak             only measure and print the device peak (FMA GFLOP/s, copy GB/s)\n";

std::pair<int64_t, int64_t> parse_size(const std::string& text) {
    auto x = text.find('x');
    try {
        if (x == std::string::npos) throw std::invalid_argument("");
        size_t used_h = 0, used_w = 0;
        int64_t h = std::stoll(text.substr(0, x), &used_h);
        int64_t w = std::stoll(text.substr(x + 1), &used_w);
        if (used_h != x || used_w != text.size() - x - 1 || h < 1 || w < 1 || h > 8192 || w > 8192)
            throw std::invalid_argument("");
        return {h, w};
    } catch (const std::exception&) {
        throw UsageError("--input-size expects HxW, e.g. 224x224 (1..8192), got '" + text + "'");
    }
}

// The model at the requested input size: builtin models are rebuilt, ONNX inputs overridden.
rm::Graph load_sized(const std::string& spec, int64_t h, int64_t w) {
    if (h == 0) return rm::load_model(spec);
    if (auto config = rm::parse_builtin_spec(spec)) {
        config->input_height = h;
        config->input_width = w;
        return rm::build_resnet(*config);
    }
    rm::Graph g = rm::load_model(spec);
    if (g.inputs.size() != 1 || g.inputs[0].shape.size() != 4)
        throw rm::Error("--input-size needs a model with one NCHW input");
    g.inputs[0].shape[2] = h;
    g.inputs[0].shape[3] = w;
    try {
        rm::infer_shapes_of(g, 1);
    } catch (const std::exception& e) {
        throw rm::Error("--input-size " + std::to_string(h) + "x" + std::to_string(w) +
                        " does not fit this model: " + e.what());
    }
    return g;
}

std::string join(const std::vector<std::string>& v, const std::string& sep, size_t max_chars = 48) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
    return s.size() > max_chars ? s.substr(0, max_chars - 3) + "..." : s;
}

std::string fmt_pct(double p) {
    return p <= 0 ? "-" : p < 1 ? strf("%.2f%%", p) : strf("%.1f%%", p);
}

void print_peak(const PeakResult& p) {
    std::printf(
        "peak: %.1f GFLOP/s (vec4 FMA, 2 flops per FMA), %.2f GB/s (streaming copy, read + "
        "write)\n",
        p.fma_gflops, p.bandwidth_gbs);
}

// Per-layer rows; for the plain graph each row also shows the residual nodes it came from and
// their time, so the cost of merging a shortcut into a conv is visible layer by layer.
void print_layers(const GraphBench& g, const GraphBench* residual) {
    std::map<std::string, const LayerRow*> residual_rows;
    if (residual)
        for (const auto& r : residual->layers) residual_rows[r.node] = &r;
    std::vector<std::string> header{"node", "op", "kernel", "ms", "MACs", "GFLOP/s", "peak"};
    if (residual) {
        header.push_back("from residual");
        header.push_back("residual ms");
        header.push_back("plain/res");
    }
    Table t(header, 3);
    for (const auto& r : g.layers) {
        if (!r.fused_into.empty()) continue;
        std::vector<std::string> row{r.node,
                                     r.op,
                                     r.kernel,
                                     fmt_ms(r.device_ms),
                                     r.macs ? fmt_count(r.macs) : "-",
                                     fmt_rate(r.gflops),
                                     fmt_pct(r.peak_percent)};
        if (residual) {
            double ms = 0;
            for (const auto& n : r.residual_nodes)
                if (auto it = residual_rows.find(n); it != residual_rows.end())
                    ms += it->second->device_ms;
            row.push_back(join(r.residual_nodes, "+"));
            row.push_back(fmt_ms(ms));
            row.push_back(ms > 0 ? fmt_ratio(r.device_ms / ms) : "-");
        }
        t.add(std::move(row));
    }
    std::printf(
        "\n%s graph, per layer (median of timed runs; fused nodes folded into the row above "
        "them):\n%s",
        g.graph.c_str(), t.str().c_str());
}

void print_summary(const BenchReport& report) {
    const GraphBench* res = report.find_graph("residual");
    const GraphBench* plain = report.find_graph("plain");
    const GraphBench* dense = report.find_graph("plain dense");
    std::vector<std::string> header{""};
    for (const auto& g : report.graphs) header.push_back(g.graph);
    if (res && plain) header.push_back("plain/residual");
    if (res && dense) header.push_back("plain dense/residual");
    Table t(header);
    auto row = [&](const std::string& name, auto value, auto text) {
        std::vector<std::string> r{name};
        for (const auto& g : report.graphs) r.push_back(text(value(g)));
        for (const GraphBench* p : {plain, dense}) {
            if (!res || !p) continue;
            double a = value(*res), b = value(*p);
            r.push_back(a > 0 && b > 0 ? fmt_ratio(double(b) / double(a)) : "-");
        }
        t.add(std::move(r));
    };
    auto num = [](const char* f) {
        return [f](double v) { return v > 0 ? strf(f, v) : std::string("-"); };
    };
    row(
        "device total ms", [](const GraphBench& g) { return g.device_total_ms; }, num("%.2f"));
    row(
        "wall median ms", [](const GraphBench& g) { return g.wall_median_ms; }, num("%.2f"));
    row(
        "wall p95 ms", [](const GraphBench& g) { return g.wall_p95_ms; }, num("%.2f"));
    row(
        "throughput img/s", [](const GraphBench& g) { return g.throughput_ips; }, num("%.2f"));
    row(
        "MACs", [](const GraphBench& g) { return double(g.total_macs); },
        [](double v) { return fmt_count(int64_t(v)); });
    row(
        "params", [](const GraphBench& g) { return double(g.params); },
        [](double v) { return fmt_count(int64_t(v)); });
    row(
        "GFLOP/s", [](const GraphBench& g) { return g.gflops; }, fmt_rate);
    row(
        "% of peak", [](const GraphBench& g) { return g.peak_percent; }, fmt_pct);
    row(
        "weights", [](const GraphBench& g) { return double(g.weight_bytes); },
        [](double v) { return fmt_bytes(uint64_t(v)); });
    row(
        "peak activations", [](const GraphBench& g) { return double(g.peak_activation_bytes); },
        [](double v) { return fmt_bytes(uint64_t(v)); });
    std::printf("\nsummary (batch %lld, %lldx%lld, %d timed runs after %d warm-up):\n%s",
                static_cast<long long>(report.batch), static_cast<long long>(report.input_height),
                static_cast<long long>(report.input_width), report.iters, report.warmup,
                t.str().c_str());
}

void write_csv(const std::string& path, const BenchReport& report) {
    std::ofstream f(path);
    if (!f) throw std::runtime_error(path + ": cannot open for writing");
    f << "graph,node,op,kernel,device_ms,macs,gflops,peak_percent,fused_into,residual_nodes\n";
    for (const auto& g : report.graphs)
        for (const auto& r : g.layers)
            f << g.graph << ',' << r.node << ',' << r.op << ',' << r.kernel << ','
              << strf("%.6f", r.device_ms) << ',' << r.macs << ',' << strf("%.3f", r.gflops) << ','
              << strf("%.3f", r.peak_percent) << ',' << r.fused_into << ','
              << join(r.residual_nodes, "+", 100000) << '\n';
    if (!f.flush()) throw std::runtime_error(path + ": write failed");
}

}  // namespace

int cmd_bench(const std::vector<std::string>& argv) {
    Args args(argv,
              {"--graph", "--plain-exec", "--device", "--batch", "--input-size", "--warmup",
               "--iters", "--json", "--csv", "--precision"},
              {"--no-peak", "--peak"});
    if (args.help()) {
        std::printf(kHelp, kPrecisionHelp);
        return 0;
    }
    const std::string model = model_argument(args);
    const std::string which = args.get("--graph", "both");
    if (which != "residual" && which != "plain" && which != "both")
        throw UsageError("--graph must be residual, plain or both, not '" + which + "'");
    const std::string exec = args.get("--plain-exec", "both");
    if (exec != "structured" && exec != "dense" && exec != "both")
        throw UsageError("--plain-exec must be structured, dense or both, not '" + exec + "'");
    BenchSettings settings;
    settings.batch = args.get_int("--batch", 1);
    settings.precision = precision_option(args);
    settings.warmup = static_cast<int>(args.get_int("--warmup", 2));
    settings.iters = static_cast<int>(args.get_int("--iters", 10));
    if (settings.batch < 1 || settings.batch > 1024) throw UsageError("--batch must be 1..1024");
    if (settings.warmup < 0 || settings.warmup > 10000)
        throw UsageError("--warmup must be 0..10000");
    if (settings.iters < 1 || settings.iters > 100000)
        throw UsageError("--iters must be 1..100000");
    auto [h, w] = args.has("--input-size") ? parse_size(args.get("--input-size"))
                                           : std::pair<int64_t, int64_t>{0, 0};

    ContextOptions options;
    options.device = args.get("--device");
    Context context(options);
    const DeviceInfo& device = context.device();
    std::printf("device: [%d] %s (%s, %s), driver %s, Vulkan %s\n", device.index,
                device.name.c_str(), device.vendor.c_str(), device.type.c_str(),
                device.driver.c_str(), device.api_version.c_str());
    if (!device.timestamp_valid_bits)
        std::printf(
            "note: no timestamps on this device's compute queue; per-layer times are "
            "unavailable\n");

    if (args.has("--peak")) {
        print_peak(measure_peak(context));
        return 0;
    }

    BenchReport report;
    report.date = utc_timestamp_now();
    report.model = model;
    report.batch = settings.batch;
    report.precision = precision_name(settings.precision);
    report.warmup = settings.warmup;
    report.iters = settings.iters;
    report.device = device;

    rm::Graph residual = load_sized(report.model, h, w);
    warn_non_finite_weights("bench", residual);
    if (residual.inputs.size() != 1 || residual.inputs[0].shape.size() != 4)
        throw rm::Error("rmvk bench needs a model with one NCHW input");
    auto shapes = rm::infer_shapes_of(residual, settings.batch);
    const auto& in_shape = shapes.at(residual.inputs[0].name);
    report.input_height = in_shape[2];
    report.input_width = in_shape[3];
    std::printf("model: %s, input %s, %s storage\n",
                report.model.empty() ? "bundled default" : report.model.c_str(),
                rm::to_string(in_shape).c_str(), report.precision.c_str());

    if (!args.has("--no-peak")) {
        report.peak = measure_peak(context);
        report.peak_measured = true;
        settings.peak_gflops = report.peak.fma_gflops;
        print_peak(report.peak);
    }

    std::vector<std::pair<std::string, rm::Graph>> graphs;
    rm::NodeMapping mapping;
    if (which != "plain") graphs.emplace_back("residual", std::move(residual));
    if (which != "residual") {
        auto rm_result = rm::rm_transform(which == "plain" ? residual : graphs[0].second);
        mapping = std::move(rm_result.mapping);
        std::printf("RM: %d of %zu residual blocks converted\n", rm_result.converted,
                    rm_result.blocks.size());
        graphs.emplace_back("plain", std::move(rm_result.plain));
    }
    // The plain graph's two executions: "plain" structured, "plain dense" from dense weights.
    std::vector<std::pair<std::string, bool>> runs;  // report name, structured
    for (const auto& [name, graph] : graphs) {
        if (name != "plain") {
            runs.emplace_back(name, true);
            continue;
        }
        if (exec != "dense") runs.emplace_back("plain", true);
        if (exec != "structured") runs.emplace_back("plain dense", false);
    }

    {
        Progress progress(static_cast<int64_t>(runs.size()) * (settings.warmup + settings.iters));
        for (const auto& [name, structured] : runs) {
            const bool plain = name != "residual";
            const rm::Graph& graph = graphs[plain ? graphs.size() - 1 : 0].second;
            std::string label = name + " graph";
            settings.structured = structured;
            report.graphs.push_back(bench_graph(context, graph, name, settings,
                                                plain ? &mapping : nullptr,
                                                [&] { progress.step(label); }));
        }
    }

    const GraphBench* res = report.find_graph("residual");
    for (const auto& g : report.graphs) print_layers(g, g.graph != "residual" ? res : nullptr);
    print_summary(report);

    if (args.has("--json")) {
        save_bench_report(args.get("--json"), report);
        std::printf("wrote %s\n", args.get("--json").c_str());
    }
    if (args.has("--csv")) {
        write_csv(args.get("--csv"), report);
        std::printf("wrote %s\n", args.get("--csv").c_str());
    }
    return 0;
}

}  // namespace rmvk::cli
