#include "app/report/prune_sweep_report.hpp"

#include <stdexcept>

#include "app/report/json_text.hpp"

namespace rmvk {

namespace {

constexpr const char* kFormat = "rmvk-prune-sweep-1";

Json measured(double v) {
    return v < 0 ? Json(nullptr) : Json(v);
}

double read_measured(const Json& j, const char* key) {
    double v = -1;
    optional_key(j, key, v);
    return v;
}

}  // namespace

void to_json(Json& j, const PrunePoint& p) {
    j = Json{{"graph", p.graph},
             {"pruned", p.pruned},
             {"threshold", p.threshold},
             {"channels", p.channels},
             {"macs", p.macs},
             {"structured_macs", p.structured_macs},
             {"params", p.params},
             {"val_accuracy", measured(p.val_accuracy)},
             {"test_accuracy", measured(p.test_accuracy)},
             {"device_ms_batch1", measured(p.ms_batch1)},
             {"device_ms_batch100", measured(p.ms_batch100)}};
}

void from_json(const Json& j, PrunePoint& p) {
    required_key(j, "graph", p.graph);
    required_key(j, "pruned", p.pruned);
    required_key(j, "threshold", p.threshold);
    required_key(j, "channels", p.channels);
    required_key(j, "macs", p.macs);
    p.structured_macs = p.macs;  // sweeps written before rmvk counted structured MACs
    optional_key(j, "structured_macs", p.structured_macs);
    required_key(j, "params", p.params);
    p.val_accuracy = read_measured(j, "val_accuracy");
    p.test_accuracy = read_measured(j, "test_accuracy");
    p.ms_batch1 = read_measured(j, "device_ms_batch1");
    p.ms_batch100 = read_measured(j, "device_ms_batch100");
}

std::string prune_sweep_to_json(const PruneSweep& s) {
    const Json j{{"format", kFormat},
                 {"model", s.model},
                 {"device", s.device},
                 {"residual", s.residual},
                 {"plain", s.plain},
                 {"plain_pruned", s.plain_pruned},
                 {"residual_pruned", s.residual_pruned}};
    return j.dump(2) + "\n";
}

PruneSweep prune_sweep_from_json(const std::string& text) {
    const Json j = parse_json(text);
    if (!j.is_object() || j.value("format", Json()) != kFormat)
        throw std::runtime_error(std::string("not an rmvk prune sweep (no \"format\": \"") +
                                 kFormat + "\")");
    try {
        PruneSweep s;
        required_key(j, "model", s.model);
        required_key(j, "device", s.device);
        required_key(j, "residual", s.residual);
        required_key(j, "plain", s.plain);
        required_key(j, "plain_pruned", s.plain_pruned);
        required_key(j, "residual_pruned", s.residual_pruned);
        return s;
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(json_error_text(e));
    }
}

}  // namespace rmvk
