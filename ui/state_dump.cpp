#include "ui/state_dump.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "ui/resident_memory.hpp"

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

std::string cost_json(const rm::StepCost& c) {
    return "{\"params\": " + std::to_string(c.params) + ", \"macs\": " + std::to_string(c.macs) +
           ", \"structured_params\": " + std::to_string(c.structured_params) +
           ", \"structured_macs\": " + std::to_string(c.structured_macs) + "}";
}

std::string range_json(int64_t a, int64_t b) {
    return "[" + std::to_string(a) + ", " + std::to_string(b) + "]";
}

std::string terms_json(const std::vector<rm::PixelTerm>& terms) {
    std::string out = "[";
    for (size_t i = 0; i < terms.size(); ++i)
        out += std::string(i ? ", " : "") + "[" + quote(terms[i].label) + ", " +
               num(terms[i].value) + "]";
    return out + "]";
}

std::string explain_json(const ExplainFacts& f) {
    std::ostringstream o;
    o << "{\"block\": " << quote(f.block) << ", \"kind\": " << quote(f.kind)
      << ", \"projection\": " << (f.projection ? "true" : "false")
      << ", \"in_channels\": " << f.in_channels << ", \"error\": " << quote(f.error)
      << ",\n    \"step\": " << f.step << ", \"step_title\": " << quote(f.step_title)
      << ", \"conv\": " << f.conv << ", \"summary\": " << (f.summary ? "true" : "false")
      << ", \"detail\": " << (f.detail ? "true" : "false") << ", \"texture\": [" << f.texture_w
      << ", " << f.texture_h << "], \"cells_per_texel\": " << f.cells_per_texel
      << ", \"highlight_row\": " << f.highlight_row << ", \"exported\": " << quote(f.exported)
      << ", \"hover\": " << quote(f.hover) << ",\n    \"costs\": [";
    for (size_t i = 0; i < f.costs.size(); ++i) o << (i ? ", " : "") << cost_json(f.costs[i]);
    o << "],\n    \"convs\": [";
    for (size_t i = 0; i < f.convs.size(); ++i) {
        const auto& c = f.convs[i];
        o << (i ? ",\n      " : "\n      ") << "{\"node\": " << quote(c.node)
          << ", \"title\": " << quote(c.title) << ", \"plain\": " << (c.plain ? "true" : "false")
          << ", \"drawn\": " << (c.drawn ? "true" : "false")
          << ", \"shape\": " << shape_json(c.shape) << ", \"mapping\": [";
        for (size_t k = 0; k < c.mapping_channels.size(); ++k) {
            const auto& r = c.mapping_channels[k];
            o << (k ? ", " : "") << "{\"range\": " << range_json(r.begin, r.end)
              << ", \"reserved\": " << (r.reserved ? "true" : "false")
              << ", \"source\": " << quote(r.source_tensor) << "}";
        }
        o << "], \"parts\": [";
        for (size_t k = 0; k < c.parts.size(); ++k) {
            const auto& pf = c.parts[k];
            const auto& p = pf.part;
            o << (k ? ",\n        " : "\n        ")
              << "{\"kind\": " << quote(rm::weight_part_name(p.kind))
              << ", \"out\": " << range_json(p.out_begin, p.out_end)
              << ", \"in\": " << range_json(p.in_begin, p.in_end)
              << ", \"source_conv\": " << quote(p.source_conv)
              << ", \"source_weight\": " << quote(p.source_weight)
              << ", \"source_bn\": " << quote(p.source_bn)
              << ", \"max_abs_vs_source\": " << num(pf.max_abs_vs_source);
            if (!pf.centre_values.empty()) {
                o << ", \"centre_values\": [";
                for (size_t v = 0; v < pf.centre_values.size(); ++v)
                    o << (v ? ", " : "") << num(pf.centre_values[v]);
                o << "]";
            }
            o << "}";
        }
        o << "]}";
    }
    auto counts = [](const std::vector<int64_t>& v) {
        std::string out = "[";
        for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
        return out + "]";
    };
    o << "],\n    \"histogram\": {\"original\": " << counts(f.hist_original)
      << ", \"plain\": " << counts(f.hist_plain) << ", \"plain_zeros\": " << f.hist_plain_zeros
      << "}";
    o << ",\n    \"pixel\": ";
    if (f.pixel) {
        const auto& w = *f.pixel;
        o << "{\"channel\": " << w.channel << ", \"y\": " << w.y << ", \"x\": " << w.x
          << ", \"residual\": " << num(w.residual_value) << ", \"plain\": " << num(w.plain_value)
          << ", \"difference\": " << num(w.difference)
          << ", \"max_abs_ref\": " << num(w.max_abs_ref) << ", \"tolerance\": " << num(w.tolerance)
          << ", \"agree\": " << (w.agree ? "true" : "false")
          << ", \"reserved_channel\": " << w.reserved_channel
          << ",\n      \"residual_terms\": " << terms_json(w.residual)
          << ",\n      \"plain_terms\": " << terms_json(w.plain)
          << ",\n      \"reserved_terms\": " << terms_json(w.reserved) << "}";
    } else {
        o << "null";
    }
    o << ", \"pixel_error\": " << quote(f.pixel_error) << "}";
    return o.str();
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
    o << "  \"last_job\": {\"title\": " << quote(facts.last_job)
      << ", \"seconds\": " << num(facts.last_job_s) << ", \"stages\": [";
    for (size_t i = 0; i < facts.last_job_stages.size(); ++i)
        o << (i ? ", " : "") << "[" << quote(facts.last_job_stages[i].stage) << ", "
          << num(facts.last_job_stages[i].start_s) << "]";
    o << "]},\n";
    const ResidentMemory rss = resident_memory();
    o << "  \"memory\": {\"resident_bytes\": " << rss.current_bytes
      << ", \"peak_resident_bytes\": " << rss.peak_bytes << "},\n";
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
          << ",\n    \"max_abs_diff\": " << num(c.values.max_abs_diff)
          << ", \"nmse\": " << num(c.values.nmse())
          << ", \"tolerance\": " << num(c.values.tolerance())
          << ", \"verdict\": " << quote(rm::to_string(c.values.verdict()))
          << ", \"match\": " << (c.values.match() ? "true" : "false")
          << ", \"residual_non_finite\": " << c.values.reference_non_finite.count
          << ", \"plain_non_finite\": " << c.values.candidate_non_finite.count
          << ",\n    \"first_non_finite\": {\"residual\": " << quote(c.residual_first_non_finite)
          << ", \"plain\": " << quote(c.plain_first_non_finite) << "}},\n";
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
    if (facts.explain)
        o << "  \"explain\": " << explain_json(*facts.explain) << ",\n";
    else
        o << "  \"explain\": null,\n";
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
