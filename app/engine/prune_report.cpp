#include "app/engine/prune_report.hpp"

#include <nlohmann/json.hpp>

#include "rm/error.hpp"

namespace rmvk {

// Unmeasured values (-1) are written as null.
static nlohmann::json measured(double v) {
    return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v);
}
static double read_measured(const nlohmann::json& j, const char* key) {
    return j.contains(key) && !j.at(key).is_null() ? j.at(key).get<double>() : -1.0;
}

void to_json(nlohmann::json& j, const PrunePoint& p) {
    j = {{"graph", p.graph},
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

void from_json(const nlohmann::json& j, PrunePoint& p) {
    p.graph = j.at("graph").get<std::string>();
    p.pruned = j.at("pruned").get<bool>();
    p.threshold = j.at("threshold").get<double>();
    p.channels = j.at("channels").get<int64_t>();
    p.macs = j.at("macs").get<int64_t>();
    p.structured_macs = j.value("structured_macs", p.macs);
    p.params = j.at("params").get<int64_t>();
    p.val_accuracy = read_measured(j, "val_accuracy");
    p.test_accuracy = read_measured(j, "test_accuracy");
    p.ms_batch1 = read_measured(j, "device_ms_batch1");
    p.ms_batch100 = read_measured(j, "device_ms_batch100");
}

std::string prune_sweep_to_json(const PruneSweep& s) {
    nlohmann::json j = {{"format", "rmvk-prune-sweep-1"},
                        {"model", s.model},
                        {"device", s.device},
                        {"residual", s.residual},
                        {"plain", s.plain},
                        {"plain_pruned", s.plain_pruned},
                        {"residual_pruned", s.residual_pruned}};
    return j.dump(2) + "\n";
}

PruneSweep prune_sweep_from_json(const std::string& text) {
    try {
        const nlohmann::json j = nlohmann::json::parse(text);
        if (j.at("format") != "rmvk-prune-sweep-1")
            throw rm::Error("not an rmvk prune sweep (format " + j.at("format").dump() + ")");
        PruneSweep s;
        s.model = j.at("model").get<std::string>();
        s.device = j.at("device").get<std::string>();
        s.residual = j.at("residual").get<PrunePoint>();
        s.plain = j.at("plain").get<PrunePoint>();
        s.plain_pruned = j.at("plain_pruned").get<std::vector<PrunePoint>>();
        s.residual_pruned = j.at("residual_pruned").get<std::vector<PrunePoint>>();
        return s;
    } catch (const nlohmann::json::exception& e) {
        throw rm::Error(std::string("prune sweep JSON: ") + e.what());
    }
}

}  // namespace rmvk
