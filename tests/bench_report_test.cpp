// Bench reports: the JSON form reads back exactly, bad files get clear errors, and the real
// `rmvk bench` / `rmvk report` / `rmvk bench --peak` produce positive, consistent numbers.
#include "app/report/bench_report.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "app/cli/bench_run.hpp"
#include "app/engine/engine.hpp"
#include "app/report/json_text.hpp"

namespace fs = std::filesystem;

namespace {

rmvk::BenchReport sample_report() {
    rmvk::BenchReport r;
    r.date = "2026-11-28T01:00:00Z";
    r.model = "builtin:resnet18?size=32x32";
    r.batch = 4;
    r.precision = "fp16";
    r.input_height = 32;
    r.input_width = 48;
    r.warmup = 1;
    r.iters = 7;
    r.device.index = 1;
    r.device.name = "Test \"GPU\" \\ with\tescapes";
    r.device.vendor = "Mesa (llvmpipe)";
    r.device.type = "cpu";
    r.device.driver = "llvmpipe Mesa 22.3.6";
    r.device.api_version = "1.3.230";
    r.device.max_storage_buffer_range = 134217728;
    r.device.subgroup_size = 8;
    r.device.timestamp_valid_bits = 64;
    r.device.timestamp_period_ns = 1.5f;
    r.peak_measured = true;
    r.peak = {123.456789, 7.25};
    rmvk::GraphBench g;
    g.graph = "residual";
    g.device_total_ms =
        0.1 + 0.2;  // not exactly representable: the text must still read back exactly
    g.wall_median_ms = 12.5;
    g.wall_p95_ms = 13.75;
    g.throughput_ips = 320.0;
    g.total_macs = 46'100'000'123;  // above 2^32
    g.params = 277'000'001;
    g.gflops = 1.0 / 3.0;
    g.peak_percent = 42.0;
    g.weight_bytes = 1'108'000'004;
    g.peak_activation_bytes = 9'633'792;
    rmvk::LayerRow row;
    row.node = "conv1";
    row.op = "Conv";
    row.kernel = "7x7/2";
    row.device_ms = 2.0 / 7.0;
    row.macs = 118'013'952;
    row.gflops = 826.1;
    row.peak_percent = 12.5;
    row.residual_nodes = {"conv1", "bn1", "relu"};
    g.layers.push_back(row);
    rmvk::LayerRow fused;
    fused.node = "relu";
    fused.op = "Relu";
    fused.fused_into = "conv1";
    g.layers.push_back(fused);
    r.graphs.push_back(g);
    g.graph = "plain";
    g.layers.pop_back();
    r.graphs.push_back(g);
    return r;
}

struct Output {
    int status = -1;
    std::string text;
};

// Runs the rmvk binary with `args` (a shell-quoted string), capturing stdout and stderr.
Output run_rmvk(const std::string& args) {
    std::string cmd = std::string("'") + RMVK_BINARY + "' " + args + " 2>&1";
    Output out;
    FILE* pipe = popen(cmd.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::array<char, 4096> buf{};
    size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.text.append(buf.data(), n);
    int status = pclose(pipe);
    out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

// GPU checks run when a Vulkan device exists; with CI=true its absence is a failure.
bool have_device() {
    if (!rmvk::list_devices().empty()) return true;
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL("no Vulkan device, and CI=true requires one");
    MESSAGE("no Vulkan device: skipping the bench runs");
    return false;
}

struct TempDir {
    fs::path path = fs::temp_directory_path() / ("rmvk_bench_test_" + std::to_string(::getpid()));
    TempDir() { fs::create_directories(path); }
    ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("a bench report survives the JSON round trip exactly") {
    rmvk::BenchReport a = sample_report();
    rmvk::BenchReport b = rmvk::bench_report_from_json(rmvk::to_json(a));
    CHECK(b.rmvk_version == a.rmvk_version);
    CHECK(b.date == a.date);
    CHECK(b.model == a.model);
    CHECK(b.batch == 4);
    CHECK(b.precision == "fp16");
    CHECK(b.input_height == 32);
    CHECK(b.input_width == 48);
    CHECK(b.iters == 7);
    CHECK(b.device.name == a.device.name);
    CHECK(b.device.index == 1);
    CHECK(b.device.max_storage_buffer_range == 134217728u);
    CHECK(b.device.timestamp_period_ns == 1.5f);
    CHECK(b.peak_measured);
    CHECK(b.peak.fma_gflops == a.peak.fma_gflops);
    REQUIRE(b.graphs.size() == 2);
    const auto& g = b.graphs[0];
    CHECK(g.graph == "residual");
    CHECK(g.device_total_ms == a.graphs[0].device_total_ms);
    CHECK(g.gflops == a.graphs[0].gflops);
    CHECK(g.total_macs == 46'100'000'123);
    CHECK(g.weight_bytes == 1'108'000'004u);
    REQUIRE(g.layers.size() == 2);
    CHECK(g.layers[0].kernel == "7x7/2");
    CHECK(g.layers[0].device_ms == a.graphs[0].layers[0].device_ms);
    CHECK(g.layers[0].residual_nodes == std::vector<std::string>{"conv1", "bn1", "relu"});
    CHECK(g.layers[1].fused_into == "conv1");
    CHECK(b.find_graph("plain") != nullptr);
    CHECK(b.find_graph("plain")->layers.size() == 1);
    // Writing what was read gives the same text.
    CHECK(rmvk::to_json(b) == rmvk::to_json(a));
}

TEST_CASE("malformed or foreign JSON gets a clear error") {
    CHECK_THROWS_WITH(rmvk::parse_json("{\"a\": [1, 2,]}"), doctest::Contains("line 1"));
    CHECK_THROWS_WITH(rmvk::parse_json("{\n\"a\": tru}"), doctest::Contains("line 2"));
    CHECK_THROWS_WITH(rmvk::parse_json("\"unterminated"), doctest::Contains("unterminated"));
    CHECK_THROWS_WITH(rmvk::parse_json(std::string(200, '[')), doctest::Contains("too deep"));
    CHECK_THROWS_WITH(rmvk::bench_report_from_json("{\"name\": 1}"),
                      doctest::Contains("not an rmvk bench report"));
    std::string text = rmvk::to_json(sample_report());
    text.replace(text.find("\"graphs\""), 8, "\"graphz\"");
    CHECK_THROWS_WITH(rmvk::bench_report_from_json(text),
                      doctest::Contains("missing key 'graphs'"));
    CHECK_THROWS_WITH(rmvk::load_bench_report("/nonexistent/r.json"),
                      doctest::Contains("/nonexistent/r.json"));
    auto j = rmvk::parse_json(R"({"s": "a\u00e9\n", "n": -1.5e3, "t": true, "z": null})");
    CHECK(j.at("s").get<std::string>() == "a\xc3\xa9\n");
    CHECK(j.at("n").get<double>() == -1500.0);
    CHECK(j.at("t").get<bool>());
    CHECK(j.at("z").is_null());
    // A type mismatch names what was expected, without nlohmann's exception prefix.
    std::string bad = rmvk::to_json(sample_report());
    bad.replace(bad.find("\"device_total_ms\": "), 19, "\"device_total_ms\": \"x\", \"_\": ");
    CHECK_THROWS_WITH(rmvk::bench_report_from_json(bad), doctest::Contains("must be number"));
}

TEST_CASE("integer fields out of range are refused, not cast (that cast is undefined)") {
    const std::string head =
        R"({"kind": "rmvk bench report", "graphs": [], "device": {"name": "d", )";
    CHECK_THROWS_WITH(rmvk::bench_report_from_json(head + R"("index": 1e300}})"),
                      doctest::Contains("\"index\": 1e+300 is out of range"));
    CHECK_THROWS_WITH(rmvk::bench_report_from_json(head + R"("subgroup_size": -1}})"),
                      doctest::Contains("\"subgroup_size\": -1 is out of range"));
    CHECK_THROWS_WITH(rmvk::bench_report_from_json(head + R"("index": 2147483648}})"),
                      doctest::Contains("out of range"));
    CHECK_THROWS_WITH(
        rmvk::bench_report_from_json(
            R"({"kind": "rmvk bench report", "input_size": [1e19, 1], "device": {"name": "d"}, "graphs": []})"),
        doctest::Contains("\"input_size\": 1e+19 is out of range"));
    // The largest values each type holds still load.
    const rmvk::BenchReport r = rmvk::bench_report_from_json(
        head + R"("index": 2147483647, "device_local_memory": 18446744073709551615}})");
    CHECK(r.device.index == 2147483647);
    CHECK(r.device.device_local_memory == 18446744073709551615ull);
}

TEST_CASE("median and p95 of timing samples") {
    CHECK(rmvk::cli::median({3, 1, 2}) == 2);
    CHECK(rmvk::cli::median({4, 1, 3, 2}) == 2.5);
    CHECK(rmvk::cli::percentile95(
              {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 100}) == 19);
    CHECK(rmvk::cli::percentile95({5}) == 5);
    CHECK(rmvk::cli::median({}) == 0);
}

TEST_CASE(
    "rmvk bench on a tiny builtin writes per-layer rows, and rmvk report compares two reports") {
    if (!have_device()) return;
    TempDir tmp;
    const std::string a = (tmp.path / "a.json").string(), b = (tmp.path / "b.json").string();
    const std::string csv = (tmp.path / "a.csv").string();
    auto out = run_rmvk(
        "bench 'builtin:resnet18?size=32x32&width=8&classes=10' --iters 2 --warmup 1 --no-peak"
        " --json '" +
        a + "' --csv '" + csv + "'");
    INFO(out.text);
    REQUIRE(out.status == 0);
    CHECK(out.text.find("plain/residual") != std::string::npos);

    rmvk::BenchReport r = rmvk::load_bench_report(a);
    CHECK(r.iters == 2);
    CHECK(r.input_height == 32);
    CHECK_FALSE(r.peak_measured);
    // The plain graph twice: structured (the engine's default) and dense (as the ONNX runs).
    REQUIRE(r.graphs.size() == 3);
    CHECK(r.graphs[0].graph == "residual");
    CHECK(r.graphs[1].graph == "plain");
    CHECK(r.graphs[2].graph == "plain dense");
    for (const auto& g : r.graphs) {
        CAPTURE(g.graph);
        CHECK(g.device_total_ms > 0);
        CHECK(g.wall_median_ms > 0);
        CHECK(g.wall_p95_ms >= g.wall_median_ms);
        CHECK(g.throughput_ips > 0);
        CHECK(g.weight_bytes > 0);
        CHECK(g.peak_activation_bytes > 0);
        int convs = 0;
        double sum = 0;
        for (const auto& l : g.layers) {
            sum += l.device_ms;
            if (l.op != "Conv" || !l.fused_into.empty()) continue;
            ++convs;
            CAPTURE(l.node);
            CHECK(l.device_ms > 0);
            CHECK(l.macs > 0);
            CHECK(l.gflops > 0);
        }
        CHECK(convs >=
              17);  // resnet18: conv1 + 16 block convs (+ projections in the residual graph)
        // Per-layer medians need not add up to the median total exactly, but must be close.
        CHECK(sum == doctest::Approx(g.device_total_ms).epsilon(0.5));
    }
    // Plain rows point back at the residual nodes they came from; the structured plain run
    // multiplies by its dense blocks only: no fewer MACs than the residual graph, more params.
    const auto* plain = r.find_graph("plain");
    const auto* residual = r.find_graph("residual");
    bool mapped = false;
    for (const auto& l : plain->layers) mapped = mapped || !l.residual_nodes.empty();
    CHECK(mapped);
    CHECK(plain->total_macs >= residual->total_macs);
    CHECK(plain->params > residual->params);

    std::ifstream csv_file(csv);
    std::string header;
    std::getline(csv_file, header);
    CHECK(header.rfind("graph,node,op,kernel,device_ms", 0) == 0);

    // A second report from "another device": report puts both side by side with per-layer rows.
    r.device.name = "Other GPU";
    r.graphs[0].device_total_ms *= 2;
    rmvk::save_bench_report(b, r);
    auto rep = run_rmvk("report '" + a + "' '" + b + "'");
    INFO(rep.text);
    CHECK(rep.status == 0);
    CHECK(rep.text.find("Other GPU") != std::string::npos);
    CHECK(rep.text.find("residual device ms") != std::string::npos);
    CHECK(rep.text.find("residual layer (ms)") != std::string::npos);
    CHECK(rep.text.find("layer1.0.conv1") != std::string::npos);

    auto bad = run_rmvk("report '" + (tmp.path / "missing.json").string() + "'");
    CHECK(bad.status != 0);
    CHECK(bad.text.find("missing.json") != std::string::npos);
}

TEST_CASE("rmvk bench --peak measures a positive FMA rate and bandwidth") {
    if (!have_device()) return;
    auto out = run_rmvk("bench --peak");
    INFO(out.text);
    REQUIRE(out.status == 0);
    double gflops = 0, gbs = 0;
    auto at = out.text.find("peak: ");
    REQUIRE(at != std::string::npos);
    REQUIRE(std::sscanf(out.text.c_str() + at,
                        "peak: %lf GFLOP/s (vec4 FMA, 2 flops per FMA), %lf GB/s", &gflops,
                        &gbs) == 2);
    CHECK(gflops > 0.1);
    CHECK(gbs > 0.01);
}
