#include "app/report/bench_report.hpp"

#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "app/report/json_text.hpp"

namespace rmvk {

// Typed JSON forms (nlohmann's to_json/from_json, found by argument-dependent lookup). Readers
// take what is there and keep the defaults for keys that older or hand-written reports lack.

void to_json(Json& j, const DeviceInfo& d) {
    j = Json{{"index", d.index},
             {"name", d.name},
             {"vendor", d.vendor},
             {"type", d.type},
             {"driver", d.driver},
             {"api_version", d.api_version},
             {"max_storage_buffer_range", d.max_storage_buffer_range},
             {"max_compute_shared_memory", d.max_compute_shared_memory},
             {"max_workgroup_invocations", d.max_workgroup_invocations},
             {"subgroup_size", d.subgroup_size},
             {"timestamp_valid_bits", d.timestamp_valid_bits},
             {"timestamp_period_ns", static_cast<double>(d.timestamp_period_ns)},
             {"device_local_memory", d.device_local_memory},
             {"compute_units", d.compute_units},
             {"compute_units_source", d.compute_units_source},
             {"queue_family", d.queue_family},
             {"storage_buffer_16bit", d.storage_buffer_16bit},
             {"shader_float16", d.shader_float16},
             {"cooperative_matrix", d.cooperative_matrix},
             {"memory_types", d.memory_types}};
}

void from_json(const Json& j, DeviceInfo& d) {
    required(j, "name").get_to(d.name);
    optional_key(j, "index", d.index);
    optional_key(j, "vendor", d.vendor);
    optional_key(j, "type", d.type);
    optional_key(j, "driver", d.driver);
    optional_key(j, "api_version", d.api_version);
    optional_key(j, "max_storage_buffer_range", d.max_storage_buffer_range);
    optional_key(j, "max_compute_shared_memory", d.max_compute_shared_memory);
    optional_key(j, "max_workgroup_invocations", d.max_workgroup_invocations);
    optional_key(j, "subgroup_size", d.subgroup_size);
    optional_key(j, "timestamp_valid_bits", d.timestamp_valid_bits);
    optional_key(j, "timestamp_period_ns", d.timestamp_period_ns);
    optional_key(j, "device_local_memory", d.device_local_memory);
    optional_key(j, "compute_units", d.compute_units);
    optional_key(j, "compute_units_source", d.compute_units_source);
    optional_key(j, "queue_family", d.queue_family);
    optional_key(j, "storage_buffer_16bit", d.storage_buffer_16bit);
    optional_key(j, "shader_float16", d.shader_float16);
    optional_key(j, "cooperative_matrix", d.cooperative_matrix);
    optional_key(j, "memory_types", d.memory_types);
}

void to_json(Json& j, const LayerRow& r) {
    j = Json{{"node", r.node}, {"op", r.op}};
    if (!r.kernel.empty()) j["kernel"] = r.kernel;
    j["device_ms"] = r.device_ms;
    j["macs"] = r.macs;
    j["gflops"] = r.gflops;
    j["peak_percent"] = r.peak_percent;
    if (!r.fused_into.empty()) j["fused_into"] = r.fused_into;
    if (!r.residual_nodes.empty()) j["residual_nodes"] = r.residual_nodes;
}

void from_json(const Json& j, LayerRow& r) {
    required(j, "node").get_to(r.node);
    required(j, "device_ms").get_to(r.device_ms);
    optional_key(j, "op", r.op);
    optional_key(j, "kernel", r.kernel);
    optional_key(j, "macs", r.macs);
    optional_key(j, "gflops", r.gflops);
    optional_key(j, "peak_percent", r.peak_percent);
    optional_key(j, "fused_into", r.fused_into);
    optional_key(j, "residual_nodes", r.residual_nodes);
}

void to_json(Json& j, const GraphBench& g) {
    j = Json{{"graph", g.graph},
             {"device_total_ms", g.device_total_ms},
             {"wall_median_ms", g.wall_median_ms},
             {"wall_p95_ms", g.wall_p95_ms},
             {"throughput_ips", g.throughput_ips},
             {"upload_ms", g.upload_ms},
             {"download_ms", g.download_ms},
             {"total_macs", g.total_macs},
             {"params", g.params},
             {"gflops", g.gflops},
             {"peak_percent", g.peak_percent},
             {"weight_bytes", g.weight_bytes},
             {"peak_activation_bytes", g.peak_activation_bytes},
             {"layers", g.layers}};
}

void from_json(const Json& j, GraphBench& g) {
    required(j, "graph").get_to(g.graph);
    required(j, "device_total_ms").get_to(g.device_total_ms);
    optional_key(j, "wall_median_ms", g.wall_median_ms);
    optional_key(j, "wall_p95_ms", g.wall_p95_ms);
    optional_key(j, "throughput_ips", g.throughput_ips);
    optional_key(j, "upload_ms", g.upload_ms);
    optional_key(j, "download_ms", g.download_ms);
    optional_key(j, "total_macs", g.total_macs);
    optional_key(j, "params", g.params);
    optional_key(j, "gflops", g.gflops);
    optional_key(j, "peak_percent", g.peak_percent);
    optional_key(j, "weight_bytes", g.weight_bytes);
    optional_key(j, "peak_activation_bytes", g.peak_activation_bytes);
    required(j, "layers").get_to(g.layers);
}

const GraphBench* BenchReport::find_graph(const std::string& name) const {
    for (const auto& g : graphs)
        if (g.graph == name) return &g;
    return nullptr;
}

std::string to_json(const BenchReport& r) {
    Json j{{"kind", "rmvk bench report"},
           {"rmvk_version", r.rmvk_version},
           {"date", r.date},
           {"model", r.model},
           {"batch", r.batch},
           {"precision", r.precision},
           {"input_size", {r.input_height, r.input_width}},
           {"warmup", r.warmup},
           {"iters", r.iters},
           {"device", r.device}};
    j["peak"] = r.peak_measured ? Json{{"fma_gflops", r.peak.fma_gflops},
                                       {"bandwidth_gbs", r.peak.bandwidth_gbs}}
                                : Json();
    j["graphs"] = r.graphs;
    return j.dump(2) + "\n";
}

BenchReport bench_report_from_json(const std::string& text) {
    Json j = parse_json(text);
    if (!j.is_object() || j.value("kind", Json()) != "rmvk bench report")
        throw std::runtime_error("not an rmvk bench report (no \"kind\": \"rmvk bench report\")");
    try {
        BenchReport r;
        r.rmvk_version.clear();
        optional_key(j, "rmvk_version", r.rmvk_version);
        optional_key(j, "date", r.date);
        optional_key(j, "model", r.model);
        optional_key(j, "batch", r.batch);
        optional_key(j, "precision", r.precision);
        if (j.contains("input_size")) {
            const Json& s = j["input_size"];
            if (!s.is_array() || s.size() != 2)
                throw std::runtime_error("input_size must be [height, width]");
            get_checked(s[0], "input_size", r.input_height);
            get_checked(s[1], "input_size", r.input_width);
        }
        optional_key(j, "warmup", r.warmup);
        optional_key(j, "iters", r.iters);
        required(j, "device").get_to(r.device);
        if (auto p = j.find("peak"); p != j.end() && !p->is_null()) {
            r.peak_measured = true;
            required(*p, "fma_gflops").get_to(r.peak.fma_gflops);
            required(*p, "bandwidth_gbs").get_to(r.peak.bandwidth_gbs);
        }
        required(j, "graphs").get_to(r.graphs);
        return r;
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(json_error_text(e));
    }
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
    return Json(devices).dump(2) + "\n";
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
