#include "app/engine/bench_report.hpp"

#include <ctime>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "app/engine/json.hpp"

namespace rmvk {

namespace {

// An integer field (index, count, bytes): absent gives the fallback; a value outside T's range,
// or NaN, is refused rather than cast (that cast is undefined behaviour).
template <typename T>
T integer_or(const Json& j, const std::string& key, T fallback) {
    if (!j.contains(key)) return fallback;
    const double v = j.at(key).number();
    // Both bounds are powers of two, so exact as doubles: [min, max + 1).
    const double lo = static_cast<double>(std::numeric_limits<T>::min());
    const double hi = static_cast<double>(std::numeric_limits<T>::max() / 2 + 1) * 2.0;
    if (!(v >= lo && v < hi))
        throw std::runtime_error("\"" + key + "\": " + Json(v).dump() + " is out of range");
    return static_cast<T>(v);
}

Json device_json(const DeviceInfo& d) {
    Json j = Json::object();
    j["index"] = d.index;
    j["name"] = d.name;
    j["vendor"] = d.vendor;
    j["type"] = d.type;
    j["driver"] = d.driver;
    j["api_version"] = d.api_version;
    j["max_storage_buffer_range"] = d.max_storage_buffer_range;
    j["max_compute_shared_memory"] = d.max_compute_shared_memory;
    j["max_workgroup_invocations"] = d.max_workgroup_invocations;
    j["subgroup_size"] = d.subgroup_size;
    j["timestamp_valid_bits"] = d.timestamp_valid_bits;
    j["timestamp_period_ns"] = static_cast<double>(d.timestamp_period_ns);
    j["device_local_memory"] = d.device_local_memory;
    return j;
}

DeviceInfo device_from(const Json& j) {
    DeviceInfo d;
    d.index = integer_or<int>(j, "index", 0);
    d.name = j.at("name").str();
    d.vendor = j.str_or("vendor", "");
    d.type = j.str_or("type", "");
    d.driver = j.str_or("driver", "");
    d.api_version = j.str_or("api_version", "");
    d.max_storage_buffer_range = integer_or<uint64_t>(j, "max_storage_buffer_range", 0);
    d.max_compute_shared_memory = integer_or<uint32_t>(j, "max_compute_shared_memory", 0);
    d.max_workgroup_invocations = integer_or<uint32_t>(j, "max_workgroup_invocations", 0);
    d.subgroup_size = integer_or<uint32_t>(j, "subgroup_size", 0);
    d.timestamp_valid_bits = integer_or<uint32_t>(j, "timestamp_valid_bits", 0);
    d.timestamp_period_ns = static_cast<float>(j.number_or("timestamp_period_ns", 0));
    d.device_local_memory = integer_or<uint64_t>(j, "device_local_memory", 0);
    return d;
}

Json layer_json(const LayerRow& r) {
    Json j = Json::object();
    j["node"] = r.node;
    j["op"] = r.op;
    if (!r.kernel.empty()) j["kernel"] = r.kernel;
    j["device_ms"] = r.device_ms;
    j["macs"] = r.macs;
    j["gflops"] = r.gflops;
    j["peak_percent"] = r.peak_percent;
    if (!r.fused_into.empty()) j["fused_into"] = r.fused_into;
    if (!r.residual_nodes.empty()) {
        Json a = Json::array();
        for (const auto& n : r.residual_nodes) a.push_back(n);
        j["residual_nodes"] = std::move(a);
    }
    return j;
}

LayerRow layer_from(const Json& j) {
    LayerRow r;
    r.node = j.at("node").str();
    r.op = j.str_or("op", "");
    r.kernel = j.str_or("kernel", "");
    r.device_ms = j.at("device_ms").number();
    r.macs = integer_or<int64_t>(j, "macs", 0);
    r.gflops = j.number_or("gflops", 0);
    r.peak_percent = j.number_or("peak_percent", 0);
    r.fused_into = j.str_or("fused_into", "");
    if (j.contains("residual_nodes"))
        for (const auto& n : j.at("residual_nodes").items()) r.residual_nodes.push_back(n.str());
    return r;
}

Json graph_json(const GraphBench& g) {
    Json j = Json::object();
    j["graph"] = g.graph;
    j["device_total_ms"] = g.device_total_ms;
    j["wall_median_ms"] = g.wall_median_ms;
    j["wall_p95_ms"] = g.wall_p95_ms;
    j["throughput_ips"] = g.throughput_ips;
    j["upload_ms"] = g.upload_ms;
    j["download_ms"] = g.download_ms;
    j["total_macs"] = g.total_macs;
    j["params"] = g.params;
    j["gflops"] = g.gflops;
    j["peak_percent"] = g.peak_percent;
    j["weight_bytes"] = g.weight_bytes;
    j["peak_activation_bytes"] = g.peak_activation_bytes;
    Json layers = Json::array();
    for (const auto& r : g.layers) layers.push_back(layer_json(r));
    j["layers"] = std::move(layers);
    return j;
}

GraphBench graph_from(const Json& j) {
    GraphBench g;
    g.graph = j.at("graph").str();
    g.device_total_ms = j.at("device_total_ms").number();
    g.wall_median_ms = j.number_or("wall_median_ms", 0);
    g.wall_p95_ms = j.number_or("wall_p95_ms", 0);
    g.throughput_ips = j.number_or("throughput_ips", 0);
    g.upload_ms = j.number_or("upload_ms", 0);
    g.download_ms = j.number_or("download_ms", 0);
    g.total_macs = integer_or<int64_t>(j, "total_macs", 0);
    g.params = integer_or<int64_t>(j, "params", 0);
    g.gflops = j.number_or("gflops", 0);
    g.peak_percent = j.number_or("peak_percent", 0);
    g.weight_bytes = integer_or<uint64_t>(j, "weight_bytes", 0);
    g.peak_activation_bytes = integer_or<uint64_t>(j, "peak_activation_bytes", 0);
    for (const auto& l : j.at("layers").items()) g.layers.push_back(layer_from(l));
    return g;
}

}  // namespace

const GraphBench* BenchReport::find_graph(const std::string& name) const {
    for (const auto& g : graphs)
        if (g.graph == name) return &g;
    return nullptr;
}

std::string to_json(const BenchReport& r) {
    Json j = Json::object();
    j["kind"] = "rmvk bench report";
    j["rmvk_version"] = r.rmvk_version;
    j["date"] = r.date;
    j["model"] = r.model;
    j["batch"] = r.batch;
    Json size = Json::array();
    size.push_back(r.input_height);
    size.push_back(r.input_width);
    j["input_size"] = std::move(size);
    j["warmup"] = r.warmup;
    j["iters"] = r.iters;
    j["device"] = device_json(r.device);
    if (r.peak_measured) {
        Json p = Json::object();
        p["fma_gflops"] = r.peak.fma_gflops;
        p["bandwidth_gbs"] = r.peak.bandwidth_gbs;
        j["peak"] = std::move(p);
    } else {
        j["peak"] = Json();
    }
    Json graphs = Json::array();
    for (const auto& g : r.graphs) graphs.push_back(graph_json(g));
    j["graphs"] = std::move(graphs);
    return j.dump(2) + "\n";
}

BenchReport bench_report_from_json(const std::string& text) {
    Json j = Json::parse(text);
    if (j.type() != Json::Type::Object || j.str_or("kind", "") != "rmvk bench report")
        throw std::runtime_error("not an rmvk bench report (no \"kind\": \"rmvk bench report\")");
    BenchReport r;
    r.rmvk_version = j.str_or("rmvk_version", "");
    r.date = j.str_or("date", "");
    r.model = j.str_or("model", "");
    r.batch = integer_or<int64_t>(j, "batch", 1);
    if (j.contains("input_size")) {
        const auto& s = j.at("input_size").items();
        if (s.size() != 2) throw std::runtime_error("input_size must be [height, width]");
        r.input_height = s[0].integer();
        r.input_width = s[1].integer();
    }
    r.warmup = integer_or<int>(j, "warmup", 0);
    r.iters = integer_or<int>(j, "iters", 0);
    r.device = device_from(j.at("device"));
    if (j.contains("peak") && !j.at("peak").is_null()) {
        r.peak_measured = true;
        r.peak.fma_gflops = j.at("peak").at("fma_gflops").number();
        r.peak.bandwidth_gbs = j.at("peak").at("bandwidth_gbs").number();
    }
    for (const auto& g : j.at("graphs").items()) r.graphs.push_back(graph_from(g));
    return r;
}

void save_bench_report(const std::string& path, const BenchReport& report) {
    std::ofstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(path + ": cannot open for writing");
    f << to_json(report);
    if (!f.flush()) throw std::runtime_error(path + ": write failed");
}

BenchReport load_bench_report(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(path + ": cannot open (no such file?)");
    std::stringstream ss;
    ss << f.rdbuf();
    try {
        return bench_report_from_json(ss.str());
    } catch (const std::exception& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
}

std::string devices_to_json(const std::vector<DeviceInfo>& devices) {
    Json a = Json::array();
    for (const auto& d : devices) a.push_back(device_json(d));
    return a.dump(2) + "\n";
}

std::string utc_timestamp_now() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace rmvk
