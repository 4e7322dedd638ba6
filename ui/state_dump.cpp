#include "ui/state_dump.hpp"

#include "app/report/json_text.hpp"
#include "ui/resident_memory.hpp"

namespace rmvk::ui {

namespace {

Json top_json(const std::vector<TopClass>& top) {
    Json out = Json::array();
    for (const auto& t : top)
        out.push_back({{"class", t.index}, {"label", t.label}, {"probability", t.probability}});
    return out;
}

Json grid_json(const FeatureGridInfo& g) {
    return {{"node", g.node},
            {"tensor", g.tensor},
            {"shape", g.shape},
            {"channels_total", g.channels_total},
            {"channels_shown", g.channels_shown},
            {"reserved_shown", g.reserved_shown},
            {"reserved_total", g.reserved_total},
            {"reserved_first", g.reserved_first},
            {"reserved_source", g.reserved_source},
            {"pruned", g.pruned},
            {"non_blank", g.non_blank},
            {"min", g.lo},
            {"max", g.hi}};
}

Json timing_json(const GraphRun& run) {
    int timed = 0;
    for (const auto& t : run.timings) timed += t.device_ms > 0;
    return {{"present", !run.timings.empty()},
            {"total_ms", run.total_ms},
            {"nodes", run.timings.size()},
            {"nodes_timed", timed},
            {"runs", run.runs},
            {"weight_bytes", run.weight_bytes},
            {"peak_activation_bytes", run.peak_activation_bytes}};
}

// The plain graph's per-layer timings as the Timing tab's bars show them: [node, method,
// dispatches, device ms] for each timed node.
Json layers_json(const GraphRun& run) {
    Json out = Json::array();
    for (const auto& t : run.timings)
        if (t.device_ms > 0 || t.dispatches > 0)
            out.push_back(Json::array({t.node, t.method, t.dispatches, t.device_ms}));
    return out;
}

Json range_json(int64_t a, int64_t b) {
    return Json::array({a, b});
}

// [[label, value], ...]
Json terms_json(const std::vector<rm::PixelTerm>& terms) {
    Json out = Json::array();
    for (const auto& t : terms) out.push_back(Json::array({t.label, t.value}));
    return out;
}

Json conv_json(const ExplainConvFacts& c) {
    Json mapping = Json::array();
    for (const auto& r : c.mapping_channels)
        mapping.push_back({{"range", range_json(r.begin, r.end)},
                           {"reserved", r.reserved},
                           {"source", r.source_tensor}});
    Json parts = Json::array();
    for (const auto& pf : c.parts) {
        const auto& p = pf.part;
        Json part = {
            {"kind", rm::weight_part_name(p.kind)},     {"out", range_json(p.out_begin, p.out_end)},
            {"in", range_json(p.in_begin, p.in_end)},   {"source_conv", p.source_conv},
            {"source_weight", p.source_weight},         {"source_bn", p.source_bn},
            {"max_abs_vs_source", pf.max_abs_vs_source}};
        if (!pf.centre_values.empty()) part["centre_values"] = pf.centre_values;
        parts.push_back(std::move(part));
    }
    return {{"node", c.node},           {"title", c.title}, {"plain", c.plain},
            {"drawn", c.drawn},         {"shape", c.shape}, {"mapping", std::move(mapping)},
            {"parts", std::move(parts)}};
}

Json pixel_json(const rm::WorkedPixel& w) {
    return {{"channel", w.channel},
            {"y", w.y},
            {"x", w.x},
            {"residual", w.residual_value},
            {"plain", w.plain_value},
            {"difference", w.difference},
            {"max_abs_ref", w.max_abs_ref},
            {"tolerance", w.tolerance},
            {"agree", w.agree},
            {"reserved_channel", w.reserved_channel},
            {"residual_terms", terms_json(w.residual)},
            {"plain_terms", terms_json(w.plain)},
            {"reserved_terms", terms_json(w.reserved)}};
}

Json explain_json(const ExplainFacts& f) {
    Json costs = Json::array();
    for (const auto& c : f.costs)
        costs.push_back({{"params", c.params},
                         {"macs", c.macs},
                         {"structured_params", c.structured_params},
                         {"structured_macs", c.structured_macs}});
    Json convs = Json::array();
    for (const auto& c : f.convs) convs.push_back(conv_json(c));
    return {{"block", f.block},
            {"kind", f.kind},
            {"projection", f.projection},
            {"in_channels", f.in_channels},
            {"error", f.error},
            {"step", f.step},
            {"step_title", f.step_title},
            {"conv", f.conv},
            {"summary", f.summary},
            {"detail", f.detail},
            {"texture", Json::array({f.texture_w, f.texture_h})},
            {"cells_per_texel", f.cells_per_texel},
            {"highlight_row", f.highlight_row},
            {"exported", f.exported},
            {"hover", f.hover},
            {"costs", std::move(costs)},
            {"convs", std::move(convs)},
            {"histogram",
             {{"original", f.hist_original},
              {"plain", f.hist_plain},
              {"plain_zeros", f.hist_plain_zeros}}},
            {"pixel", f.pixel ? pixel_json(*f.pixel) : Json(nullptr)},
            {"pixel_error", f.pixel_error}};
}

Json model_json(const LoadedModel& m) {
    return {{"spec", m.spec},
            {"name", m.display_name},
            {"residual_nodes", m.residual.nodes.size()},
            {"plain_nodes", m.rm.plain.nodes.size()},
            {"blocks", m.rm.blocks.size()},
            {"blocks_converted", m.rm.converted},
            {"residual_macs", m.residual_cost.total_macs},
            {"plain_macs", m.plain_cost.total_macs}};
}

Json pruned_json(const PruneView& p) {
    int narrowed = 0;
    for (const auto& [node, note] : p.notes) {
        const auto arrow = note.find("->");
        narrowed += note.substr(3, arrow - 3) != note.substr(arrow + 2);
    }
    return {{"mode", rm::prune_mode_name(p.mode)},
            {"threshold", p.threshold},
            {"layers", p.notes.size()},
            {"narrowed_layers", narrowed}};
}

Json outputs_json(const AppState& state) {
    const auto& c = state.runs->comparison;
    return {{"residual_top5", top_json(c.residual_top)},
            {"plain_top5", top_json(c.plain_top)},
            {"max_abs_diff", c.values.max_abs_diff},
            {"nmse", c.values.nmse()},
            {"tolerance", c.values.tolerance()},
            {"relative_tolerance", c.values.relative_tolerance},
            {"verdict", rm::to_string(c.values.verdict())},
            {"match", c.values.match()},
            {"approximate", plain_is_approximate(state)},
            {"top1_agrees", top1_agrees(c)},
            {"residual_non_finite", c.values.reference_non_finite.count},
            {"plain_non_finite", c.values.candidate_non_finite.count},
            {"first_non_finite",
             {{"residual", c.residual_first_non_finite}, {"plain", c.plain_first_non_finite}}}};
}

}  // namespace

std::string dump_state_json(const AppState& state, const ScreenFacts& facts) {
    Json s;
    s["busy"] = facts.busy;
    s["errors"] = state.errors;
    s["warnings"] = state.warnings;
    s["window_device"] = facts.window_device;
    s["frames"] = facts.frames;
    s["fps"] = facts.fps;
    s["ui_ms"] = facts.ui_ms;
    Json costs = Json::object();
    for (const auto& [step, ms] : facts.frame_costs) costs[step] = ms;
    s["frame_costs_ms"] = std::move(costs);
    s["redrawn_share"] = facts.redrawn_share;
    s["redraw_mismatch"] = facts.redraw_mismatch;
    Json stages = Json::array();
    for (const auto& st : facts.last_job_stages)
        stages.push_back(Json::array({st.stage, st.start_s}));
    s["last_job"] = {
        {"title", facts.last_job}, {"seconds", facts.last_job_s}, {"stages", std::move(stages)}};
    const ResidentMemory rss = resident_memory();
    s["memory"] = {{"resident_bytes", rss.current_bytes}, {"peak_resident_bytes", rss.peak_bytes}};
    s["active_tab"] = facts.active_tab;
    s["sweep"] = {{"busy", facts.sweep_busy},
                  {"plain_points", facts.sweep_plain_points},
                  {"residual_points", facts.sweep_residual_points},
                  {"frames_while_sweeping", facts.frames_while_sweeping}};
    if (state.model && state.model->pruned) s["pruned"] = pruned_json(*state.model->pruned);
    s["model"] = state.model ? model_json(*state.model) : Json(nullptr);
    s["graphs"] = {{"residual", {{"boxes", facts.residual_boxes}, {"drawn", facts.residual_drawn}}},
                   {"plain", {{"boxes", facts.plain_boxes}, {"drawn", facts.plain_drawn}}}};
    const auto& sel = state.selection;
    s["selection"] = {{"residual", sel.residual},
                      {"plain", sel.plain},
                      {"residual_primary", sel.residual_primary},
                      {"plain_primary", sel.plain_primary}};
    if (state.runs) {
        const auto& r = *state.runs;
        s["device"] = r.device;
        s["precision"] = rmvk::precision_name(r.precision);
        s["image"] = r.image_path;
        s["outputs"] = outputs_json(state);
        s["timings"] = {{"residual", timing_json(r.residual)},
                        {"plain", timing_json(r.plain)},
                        {"peak_gflops", r.peak_gflops},
                        {"plain_exec", plain_exec_name(state.plain_exec)},
                        {"plain_dense_error", state.plain_dense_error}};
        // What a dense timing uploads, as the control's tooltip says before it starts.
        s["timings"]["plain_dense_weight_bytes"] = plain_dense_weight_bytes(state);
        if (state.plain_dense) s["timings"]["plain_dense"] = timing_json(*state.plain_dense);
        if (const GraphRun* shown = shown_plain_timing(state))
            s["timings"]["plain_shown_layers"] = layers_json(*shown);
    } else {
        s["outputs"] = nullptr;
        s["timings"] = nullptr;
    }
    s["browser"] = {{"open", facts.browser_open},
                    {"dir", facts.browser_dir},
                    {"dirs", facts.browser_dirs},
                    {"files", facts.browser_files}};
    if (facts.report) {
        const auto& r = *facts.report;
        s["report"] = {{"path", r.path},         {"device", r.device},
                       {"model", r.model},       {"residual_ms", r.residual_ms},
                       {"plain_ms", r.plain_ms}, {"matched_layers", r.matched_layers}};
    } else {
        s["report"] = nullptr;
    }
    s["explain"] = facts.explain ? explain_json(*facts.explain) : Json(nullptr);
    if (const FeatureMapsPanel* fm = facts.feature_maps) {
        s["feature_maps"] = {{"residual", grid_json(fm->info(0))},
                             {"plain", grid_json(fm->info(1))},
                             {"difference", grid_json(fm->info(2))},
                             {"page", fm->page() + 1},
                             {"pages", fm->page_count()}};
    } else {
        s["feature_maps"] = nullptr;
    }
    // Non-finite numbers become null; bytes that are not UTF-8 (a path, an error text) U+FFFD.
    return s.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace rmvk::ui
