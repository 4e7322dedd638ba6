#include "app/cli/bench_run.hpp"

#include <algorithm>
#include <cmath>

#include "rm/cost.hpp"
#include "rm/shape_inference.hpp"

namespace rmvk::cli {

namespace {

// "3x3/2" for convs and pools (and "g32" for grouped convs): what the layer is at a glance.
std::string kernel_text(const rm::Node& n, const rm::ShapeMap& shapes) {
    std::vector<int64_t> k = n.attrs.kernel;
    if (n.op == rm::Op::Conv && k.empty() && n.inputs.size() > 1) {
        auto it = shapes.find(n.inputs[1]);
        if (it != shapes.end() && it->second.size() == 4) k = {it->second[2], it->second[3]};
    }
    if (k.size() != 2 ||
        (n.op != rm::Op::Conv && n.op != rm::Op::MaxPool && n.op != rm::Op::AveragePool))
        return "";
    std::string s = std::to_string(k[0]) + "x" + std::to_string(k[1]);
    int64_t stride = n.attrs.strides.empty() ? 1 : n.attrs.strides[0];
    if (stride != 1) s += "/" + std::to_string(stride);
    if (n.op == rm::Op::Conv && n.attrs.group > 1) s += " g" + std::to_string(n.attrs.group);
    return s;
}

// Deterministic input in [0, 1): timing must not depend on a random seed, and values stay in
// the range images have after preprocessing.
rm::Tensor bench_input(rm::Shape shape) {
    rm::Tensor t(std::move(shape));
    uint32_t state = 12345;
    for (auto& v : t.data) {
        state = state * 1664525u + 1013904223u;
        v = static_cast<float>(state >> 8) / 16777216.0f;
    }
    return t;
}

}  // namespace

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double percentile95(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t rank = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(v.size())));
    return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

GraphBench bench_graph(Context& context, const rm::Graph& graph, const std::string& graph_name,
                       const BenchSettings& settings, const rm::NodeMapping* mapping,
                       const std::function<void()>& on_run) {
    if (graph.inputs.size() != 1)
        throw std::runtime_error("rmvk bench supports models with one input");
    rm::ShapeMap shapes = rm::infer_shapes_of(graph, settings.batch);
    rm::GraphCost cost = rm::compute_cost(graph, shapes);

    RunOptions options;
    options.structured = settings.structured;
    options.precision = settings.precision;
    GraphRunner runner(context, graph, settings.batch, options);
    const auto& input = graph.inputs[0];
    std::map<std::string, rm::Tensor> inputs{{input.name, bench_input(shapes.at(input.name))}};

    for (int i = 0; i < settings.warmup; ++i) {
        runner.run(inputs);
        on_run();
    }
    std::vector<RunResult> runs;
    for (int i = 0; i < settings.iters; ++i) {
        runs.push_back(runner.run(inputs));
        runs.back().outputs.clear();  // keep only the timings
        on_run();
    }

    GraphBench g;
    g.graph = graph_name;
    std::vector<double> totals, walls, uploads, downloads;
    for (const auto& r : runs) {
        totals.push_back(r.device_total_ms);
        walls.push_back(r.wall_ms);
        uploads.push_back(r.upload_ms);
        downloads.push_back(r.download_ms);
    }
    g.device_total_ms = median(totals);
    g.wall_median_ms = median(walls);
    g.wall_p95_ms = percentile95(walls);
    g.upload_ms = median(uploads);
    g.download_ms = median(downloads);
    g.throughput_ips =
        g.wall_median_ms > 0 ? 1000.0 * double(settings.batch) / g.wall_median_ms : 0;
    g.params = cost.total_params;
    auto mem = runner.memory();
    g.weight_bytes = mem.weight_bytes;
    g.peak_activation_bytes = mem.peak_activation_bytes;

    // The MACs each node's run did: a conv that ran structured multiplies by its dense blocks
    // only (structured_macs); one that ran dense, by the whole materialised weight.
    std::map<std::string, const rm::NodeCost*> cost_by_node;
    for (const auto& c : cost.nodes) cost_by_node[c.node] = &c;
    std::map<std::string, bool> ran_structured;
    if (!runs.empty())
        for (const auto& t : runs[0].timings)
            ran_structured[t.node] = t.method.rfind("structured: ", 0) == 0;
    g.total_macs = 0;
    for (const auto& c : cost.nodes)
        g.total_macs += ran_structured[c.node] ? c.structured_macs : c.macs;
    g.gflops = g.device_total_ms > 0 ? 2.0 * double(g.total_macs) / (g.device_total_ms * 1e6) : 0;
    g.peak_percent = settings.peak_gflops > 0 ? 100.0 * g.gflops / settings.peak_gflops : 0;

    const size_t layers = runs.empty() ? 0 : runs[0].timings.size();
    for (size_t i = 0; i < layers; ++i) {
        const NodeTiming& t = runs[0].timings[i];
        LayerRow row;
        row.node = t.node;
        row.op = std::string(rm::op_name(t.op));
        if (const rm::Node* n = graph.find_node(t.node)) row.kernel = kernel_text(*n, shapes);
        // "3x3 wino4": ran as Winograd F(4,3) (t.method "winograd F(4,3)", or a structured
        // conv's block: "structured: winograd F(4,3) + copy"); "+copy": with an epilogue pass.
        if (auto w = t.method.find("winograd F("); w != std::string::npos)
            row.kernel += " wino" + t.method.substr(w + 11, 1);
        if (t.method.rfind("structured: ", 0) == 0 && t.method.find("copy") != std::string::npos)
            row.kernel += " +copy";
        // "3x3 splitK9": the tiled kernel with K split 9 ways (t.method "tiled split-K 9").
        if (auto k = t.method.find("tiled split-K "); k != std::string::npos)
            row.kernel +=
                " splitK" +
                t.method.substr(k + 14, t.method.find_first_not_of("0123456789", k + 14) - k - 14);
        std::vector<double> ms;
        for (const auto& r : runs) ms.push_back(i < r.timings.size() ? r.timings[i].device_ms : 0);
        row.device_ms = median(ms);
        auto it = cost_by_node.find(t.node);
        row.macs = it == cost_by_node.end() ? t.macs
                   : ran_structured[t.node] ? it->second->structured_macs
                                            : it->second->macs;
        row.fused_into = t.fused_into == t.node ? "" : t.fused_into;
        row.gflops = row.device_ms > 0 ? 2.0 * double(row.macs) / (row.device_ms * 1e6) : 0;
        row.peak_percent = settings.peak_gflops > 0 ? 100.0 * row.gflops / settings.peak_gflops : 0;
        if (mapping) {
            auto m = mapping->find(t.node);
            if (m != mapping->end()) row.residual_nodes = m->second.residual_nodes;
        }
        g.layers.push_back(std::move(row));
    }
    return g;
}

}  // namespace rmvk::cli
