// rmvk report: several bench reports (JSON from 'rmvk bench --json') side by side, one column
// per report, so devices (or drivers, or batch sizes) can be compared at a glance.
#include <cstdio>
#include <set>

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/table.hpp"
#include "app/report/bench_report.hpp"

namespace rmvk::cli {

namespace {

constexpr const char* kHelp =
    "usage: rmvk report A.json B.json ...\n\n"
    "Prints bench reports side by side, one column per report: device, model, peak, and for each\n"
    "graph the total device time, wall latency median/p95, throughput, GFLOP/s, %% of peak and "
    "the\n"
    "plain/residual ratio; then per-layer device times for the layers present in every report.\n";

std::string base_name(const std::string& path) {
    if (path.rfind("builtin:", 0) == 0) return path;
    auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string column_name(const BenchReport& r, size_t i, const std::vector<BenchReport>& all) {
    size_t same = 0;
    for (const auto& o : all) same += o.device.name == r.device.name;
    // "llvmpipe (LLVM 15.0.6, 256 bits)" -> "llvmpipe": the driver row has the details.
    std::string name = r.device.name.substr(0, r.device.name.find(" ("));
    if (name.size() > 24) name = name.substr(0, 24);
    return same > 1 ? name + " #" + std::to_string(i + 1) : name;
}

}  // namespace

int cmd_report(const std::vector<std::string>& argv) {
    Args args(argv, {}, {});
    if (args.help()) {
        std::printf(kHelp);
        return 0;
    }
    if (args.positional().empty())
        throw UsageError("give one or more bench report files (rmvk bench --json FILE)");
    std::vector<BenchReport> reports;
    for (const auto& path : args.positional()) reports.push_back(load_bench_report(path));

    std::vector<std::string> header{""};
    for (size_t i = 0; i < reports.size(); ++i)
        header.push_back(column_name(reports[i], i, reports));
    Table t(header);
    auto row = [&](const std::string& name, auto cell) {
        std::vector<std::string> r{name};
        for (const auto& rep : reports) r.push_back(cell(rep));
        t.add(std::move(r));
    };
    row("file", [&, i = size_t(0)](const BenchReport&) mutable {
        return base_name(args.positional()[i++]);
    });
    row("driver", [](const BenchReport& r) { return r.device.driver.substr(0, 40); });
    row("model", [](const BenchReport& r) {
        return r.model.empty() ? std::string("bundled") : base_name(r.model);
    });
    row("batch, input", [](const BenchReport& r) {
        return strf("%lld, %lldx%lld", static_cast<long long>(r.batch),
                    static_cast<long long>(r.input_height), static_cast<long long>(r.input_width));
    });
    row("precision", [](const BenchReport& r) { return r.precision; });
    row("date", [](const BenchReport& r) { return r.date; });
    row("peak GFLOP/s", [](const BenchReport& r) {
        return r.peak_measured ? strf("%.1f", r.peak.fma_gflops) : "-";
    });
    row("peak GB/s", [](const BenchReport& r) {
        return r.peak_measured ? strf("%.2f", r.peak.bandwidth_gbs) : "-";
    });

    for (const char* graph : {"residual", "plain"}) {
        bool any = false;
        for (const auto& r : reports) any = any || r.find_graph(graph);
        if (!any) continue;
        t.add_separator();
        auto grow = [&](const std::string& name, auto value) {
            row(std::string(graph) + " " + name, [&](const BenchReport& r) {
                const GraphBench* g = r.find_graph(graph);
                return g ? value(*g) : std::string("-");
            });
        };
        grow("device ms", [](const GraphBench& g) { return fmt_ms(g.device_total_ms); });
        grow("wall median ms", [](const GraphBench& g) { return fmt_ms(g.wall_median_ms); });
        grow("wall p95 ms", [](const GraphBench& g) { return fmt_ms(g.wall_p95_ms); });
        grow("img/s", [](const GraphBench& g) { return strf("%.2f", g.throughput_ips); });
        grow("GFLOP/s", [](const GraphBench& g) { return fmt_rate(g.gflops); });
        grow("% of peak", [](const GraphBench& g) {
            return g.peak_percent <= 0
                       ? std::string("-")
                       : strf(g.peak_percent < 1 ? "%.2f%%" : "%.1f%%", g.peak_percent);
        });
    }
    t.add_separator();
    row("plain/residual device", [](const BenchReport& r) {
        const GraphBench* a = r.find_graph("residual");
        const GraphBench* b = r.find_graph("plain");
        return a && b && a->device_total_ms > 0 ? fmt_ratio(b->device_total_ms / a->device_total_ms)
                                                : "-";
    });
    row("plain/residual wall", [](const BenchReport& r) {
        const GraphBench* a = r.find_graph("residual");
        const GraphBench* b = r.find_graph("plain");
        return a && b && a->wall_median_ms > 0 ? fmt_ratio(b->wall_median_ms / a->wall_median_ms)
                                               : "-";
    });
    std::printf("%s", t.str().c_str());

    // Per-layer device ms for the layers every report has (same model, different devices).
    for (const char* graph : {"residual", "plain"}) {
        std::vector<const GraphBench*> gs;
        for (const auto& r : reports)
            if (const GraphBench* g = r.find_graph(graph)) gs.push_back(g);
        if (gs.size() != reports.size()) continue;
        std::vector<std::set<std::string>> names;
        for (const auto* g : gs) {
            std::set<std::string> s;
            for (const auto& l : g->layers)
                if (l.fused_into.empty()) s.insert(l.node);
            names.push_back(std::move(s));
        }
        std::vector<std::string> lh{std::string(graph) + " layer (ms)", "op"};
        for (size_t i = 1; i < header.size(); ++i) lh.push_back(header[i]);
        Table lt(lh, 2);
        for (const auto& l : gs[0]->layers) {
            bool everywhere = l.fused_into.empty();
            for (const auto& s : names) everywhere = everywhere && s.count(l.node);
            if (!everywhere) continue;
            std::vector<std::string> r{l.node, l.op + (l.kernel.empty() ? "" : " " + l.kernel)};
            for (const auto* g : gs)
                for (const auto& o : g->layers)
                    if (o.node == l.node) {
                        r.push_back(fmt_ms(o.device_ms));
                        break;
                    }
            lt.add(std::move(r));
        }
        if (!lt.empty()) std::printf("\n%s", lt.str().c_str());
    }
    return 0;
}

}  // namespace rmvk::cli
