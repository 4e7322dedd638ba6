#include "ui/state_dump.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace rmvk::ui {

namespace {

std::string quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof(buf), "\\u%04x", c);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

std::string num(double v) {
    if (!std::isfinite(v)) return "null";
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.9g", v);
    return buf;
}

template <typename Range>
std::string string_list(const Range& items) {
    std::string out = "[";
    bool first = true;
    for (const auto& s : items) {
        out += (first ? "" : ", ") + quote(s);
        first = false;
    }
    return out + "]";
}

std::string shape_json(const rm::Shape& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

std::string top_json(const std::vector<TopClass>& top) {
    std::string out = "[";
    for (size_t i = 0; i < top.size(); ++i)
        out += std::string(i ? ", " : "") + "{\"class\": " + std::to_string(top[i].index) +
               ", \"label\": " + quote(top[i].label) +
               ", \"probability\": " + num(top[i].probability) + "}";
    return out + "]";
}

std::string grid_json(const FeatureGridInfo& g) {
    return "{\"node\": " + quote(g.node) + ", \"tensor\": " + quote(g.tensor) +
           ", \"shape\": " + shape_json(g.shape) +
           ", \"channels_total\": " + std::to_string(g.channels_total) +
           ", \"channels_shown\": " + std::to_string(g.channels_shown) +
           ", \"reserved_shown\": " + std::to_string(g.reserved_shown) +
           ", \"reserved_total\": " + std::to_string(g.reserved_total) +
           ", \"reserved_first\": " + std::to_string(g.reserved_first) +
           ", \"reserved_source\": " + quote(g.reserved_source) +
           ", \"pruned\": " + quote(g.pruned) +
           ", \"non_blank\": " + (g.non_blank ? "true" : "false") + ", \"min\": " + num(g.lo) +
           ", \"max\": " + num(g.hi) + "}";
}

std::string timing_json(const GraphRun& run) {
    int timed = 0;
    for (const auto& t : run.timings) timed += t.device_ms > 0;
    return "{\"present\": " + std::string(run.timings.empty() ? "false" : "true") +
           ", \"total_ms\": " + num(run.total_ms) +
           ", \"nodes\": " + std::to_string(run.timings.size()) +
           ", \"nodes_timed\": " + std::to_string(timed) +
           ", \"runs\": " + std::to_string(run.runs) +
           ", \"peak_activation_bytes\": " + std::to_string(run.peak_activation_bytes) + "}";
}

}  // namespace

std::string dump_state_json(const AppState& state, const ScreenFacts& facts) {
    std::ostringstream o;
    o << "{\n";
    o << "  \"busy\": " << (facts.busy ? "true" : "false") << ",\n";
    o << "  \"errors\": " << string_list(state.errors) << ",\n";
    o << "  \"warnings\": " << string_list(state.warnings) << ",\n";
    o << "  \"window_device\": " << quote(facts.window_device) << ",\n";
    o << "  \"frames\": " << facts.frames << ", \"fps\": " << num(facts.fps)
      << ", \"ui_ms\": " << num(facts.ui_ms) << ",\n";
    o << "  \"frame_costs_ms\": {";
    for (size_t i = 0; i < facts.frame_costs.size(); ++i)
        o << (i ? ", " : "") << quote(facts.frame_costs[i].first) << ": "
          << num(facts.frame_costs[i].second);
    o << "}, \"redrawn_share\": " << num(facts.redrawn_share)
      << ", \"redraw_mismatch\": " << facts.redraw_mismatch << ",\n";
    o << "  \"active_tab\": " << quote(facts.active_tab) << ",\n";
    o << "  \"sweep\": {\"busy\": " << (facts.sweep_busy ? "true" : "false")
      << ", \"plain_points\": " << facts.sweep_plain_points
      << ", \"residual_points\": " << facts.sweep_residual_points
      << ", \"frames_while_sweeping\": " << facts.frames_while_sweeping << "},\n";
    if (state.model && state.model->pruned) {
        const PruneView& p = *state.model->pruned;
        int narrowed = 0;
        for (const auto& [node, note] : p.notes) {
            const auto arrow = note.find("->");
            narrowed += note.substr(3, arrow - 3) != note.substr(arrow + 2);
        }
        o << "  \"pruned\": {\"mode\": " << quote(rm::prune_mode_name(p.mode))
          << ", \"threshold\": " << num(p.threshold) << ", \"layers\": " << p.notes.size()
          << ", \"narrowed_layers\": " << narrowed << "},\n";
    }
    if (state.model) {
        const auto& m = *state.model;
        int convertible = 0;
        for (const auto& b : m.rm.blocks) convertible += b.convertible;
        o << "  \"model\": {\"spec\": " << quote(m.spec) << ", \"name\": " << quote(m.display_name)
          << ", \"residual_nodes\": " << m.residual.nodes.size()
          << ", \"plain_nodes\": " << m.rm.plain.nodes.size()
          << ", \"blocks\": " << m.rm.blocks.size() << ", \"blocks_converted\": " << m.rm.converted
          << ", \"residual_macs\": " << m.residual_cost.total_macs
          << ", \"plain_macs\": " << m.plain_cost.total_macs << "},\n";
    } else {
        o << "  \"model\": null,\n";
    }
    o << "  \"graphs\": {\"residual\": {\"boxes\": " << facts.residual_boxes
      << ", \"drawn\": " << facts.residual_drawn
      << "}, \"plain\": {\"boxes\": " << facts.plain_boxes << ", \"drawn\": " << facts.plain_drawn
      << "}},\n";
    const auto& sel = state.selection;
    o << "  \"selection\": {\"residual\": " << string_list(sel.residual)
      << ", \"plain\": " << string_list(sel.plain)
      << ", \"residual_primary\": " << quote(sel.residual_primary)
      << ", \"plain_primary\": " << quote(sel.plain_primary) << "},\n";
    if (state.runs) {
        const auto& r = *state.runs;
        const auto& c = r.comparison;
        o << "  \"device\": " << quote(r.device) << ",\n";
        o << "  \"image\": " << quote(r.image_path) << ",\n";
        o << "  \"outputs\": {\"residual_top5\": " << top_json(c.residual_top)
          << ",\n    \"plain_top5\": " << top_json(c.plain_top)
          << ",\n    \"max_abs_diff\": " << num(c.max_abs_diff) << ", \"nmse\": " << num(c.nmse)
          << ", \"tolerance\": " << num(c.tolerance)
          << ", \"match\": " << (c.match ? "true" : "false") << "},\n";
        o << "  \"timings\": {\"residual\": " << timing_json(r.residual)
          << ",\n    \"plain\": " << timing_json(r.plain)
          << ", \"peak_gflops\": " << num(r.peak_gflops) << "},\n";
    } else {
        o << "  \"outputs\": null,\n  \"timings\": null,\n";
    }
    o << "  \"browser\": {\"open\": " << (facts.browser_open ? "true" : "false")
      << ", \"dir\": " << quote(facts.browser_dir)
      << ", \"dirs\": " << string_list(facts.browser_dirs)
      << ", \"files\": " << string_list(facts.browser_files) << "},\n";
    if (facts.report) {
        const auto& r = *facts.report;
        o << "  \"report\": {\"path\": " << quote(r.path) << ", \"device\": " << quote(r.device)
          << ", \"model\": " << quote(r.model) << ", \"residual_ms\": " << num(r.residual_ms)
          << ", \"plain_ms\": " << num(r.plain_ms) << ", \"matched_layers\": " << r.matched_layers
          << "},\n";
    } else {
        o << "  \"report\": null,\n";
    }
    if (facts.feature_maps) {
        o << "  \"feature_maps\": {\"residual\": " << grid_json(facts.feature_maps->info(0))
          << ",\n    \"plain\": " << grid_json(facts.feature_maps->info(1))
          << ",\n    \"difference\": " << grid_json(facts.feature_maps->info(2))
          << ",\n    \"page\": " << facts.feature_maps->page() + 1
          << ", \"pages\": " << facts.feature_maps->page_count() << "}\n";
    } else {
        o << "  \"feature_maps\": null\n";
    }
    o << "}\n";
    return o.str();
}

}  // namespace rmvk::ui
