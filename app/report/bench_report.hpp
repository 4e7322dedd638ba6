#pragma once
// What `rmvk bench` measured, as a plain struct with a JSON form. The CLI writes these files and
// `rmvk report` / the desktop app read them back, so this header knows nothing of either.
#include <cstdint>
#include <string>
#include <vector>

#include "app/report/device_info.hpp"

namespace rmvk {

inline constexpr const char* kRmvkVersion = "0.1.0";

// One graph node's timing (median over the timed iterations).
struct LayerRow {
    std::string node;
    std::string op;      // ONNX operator name, e.g. "Conv"
    std::string kernel;  // "3x3/2" for convs and pools, else ""
    double device_ms = 0;
    int64_t macs = 0;
    double gflops = 0;        // 2 * macs / device time
    double peak_percent = 0;  // gflops / measured FMA peak (0 when no peak was measured)
    std::string fused_into;   // node that carried this one's work (then device_ms is 0)
    std::vector<std::string> residual_nodes;  // plain graph: the residual nodes it came from
};

// One graph (residual or plain) on one device.
struct GraphBench {
    std::string graph;             // "residual" or "plain"
    std::vector<LayerRow> layers;  // graph order
    double device_total_ms = 0;    // median over iterations of the sum of dispatch times
    double wall_median_ms = 0;     // whole GraphRunner::run() call, upload and download included
    double wall_p95_ms = 0;
    double throughput_ips = 0;  // images per second from the wall median and the batch
    double upload_ms = 0;
    double download_ms = 0;
    int64_t total_macs = 0;
    int64_t params = 0;
    double gflops = 0;  // total MACs over total device time
    double peak_percent = 0;
    uint64_t weight_bytes = 0;
    uint64_t peak_activation_bytes = 0;
};

struct BenchReport {
    std::string rmvk_version = kRmvkVersion;
    std::string date;   // UTC, ISO 8601
    std::string model;  // as given on the command line ("" = bundled model)
    int64_t batch = 1;
    // How the device stored tensors: "fp32", or "fp16" (fp16 storage, fp32 arithmetic).
    // Reports from before this field read as "fp32".
    std::string precision = "fp32";
    int64_t input_height = 0;
    int64_t input_width = 0;
    int warmup = 0;
    int iters = 0;
    DeviceInfo device;
    bool peak_measured = false;
    PeakResult peak;
    std::vector<GraphBench> graphs;

    const GraphBench* find_graph(const std::string& name) const;
};

std::string to_json(const BenchReport& report);
// Throws std::runtime_error saying what is missing or malformed.
BenchReport bench_report_from_json(const std::string& text);

// File forms; errors name the file.
void save_bench_report(const std::string& path, const BenchReport& report);
BenchReport load_bench_report(const std::string& path);

// `rmvk devices --json`: an array of device objects, the same fields as a report's "device".
std::string devices_to_json(const std::vector<DeviceInfo>& devices);

// "2026-11-28T01:20:00Z"
std::string utc_timestamp_now();

}  // namespace rmvk
