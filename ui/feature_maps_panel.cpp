#include "ui/feature_maps_panel.hpp"

#include <imgui.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>

#include "ui/colormap.hpp"
#include "ui/feature_grid.hpp"
#include "ui/renderer.hpp"
#include "ui/texture.hpp"
#include "ui/theme.hpp"

namespace rmvk::ui {

struct FeatureMapsPanel::Grid {
    FeatureGridInfo info;
    std::shared_ptr<const rm::Tensor> hold;  // keeps `values` alive (read back from the run)
    const rm::Tensor* values = nullptr;
    rm::Tensor own;          // the difference grid's values
    std::vector<int> order;  // channel per display position (originals, then reserved)
    std::vector<bool> reserved;
    int channels = 0, height = 1, width = 1;
    bool signed_data = false;
    // The current page's atlas.
    std::string key;
    std::vector<int> shown;  // display positions on this page
    int atlas_cols = 1;
    std::vector<uint8_t> rgba;
    int atlas_w = 0, atlas_h = 0;
    std::unique_ptr<Texture> texture;
    std::string note;  // why the grid is empty
};

int FeatureMapsPanel::page_count() const {
    int pages = 1;
    for (const auto& g : grids_) {
        if (!g->values) continue;
        int reserved = int(std::count(g->reserved.begin(), g->reserved.end(), true));
        int originals = int(g->order.size()) - reserved;
        pages = std::max({pages, pages_for(originals, per_page_), pages_for(reserved, per_page_)});
    }
    return pages;
}

FeatureMapsPanel::FeatureMapsPanel(Renderer& renderer) : renderer_(renderer) {
    for (int i = 0; i < 3; ++i) grids_.push_back(std::make_unique<Grid>());
}

FeatureMapsPanel::~FeatureMapsPanel() = default;

FeatureGridInfo FeatureMapsPanel::info(int side) const {
    return grids_.at(size_t(side))->info;
}

void FeatureMapsPanel::update(const AppState& state) {
    std::string bind_key = state.selection.residual_primary + "|" + state.selection.plain_primary +
                           "|" + std::to_string(reinterpret_cast<uintptr_t>(state.runs.get())) +
                           "|" + std::to_string(reinterpret_cast<uintptr_t>(state.model.get()));
    if (bind_key != bind_key_) {
        bind_key_ = bind_key;
        bind(state);
    }
    build_atlases(state);
}

void FeatureMapsPanel::bind(const AppState& state) {
    for (auto& g : grids_) {
        g->values = nullptr;
        g->hold.reset();
        g->note.clear();
    }
    if (!state.model || !state.runs) {
        for (auto& g : grids_) g->info = {};
        return;
    }
    const auto& model = *state.model;
    const auto& runs = *state.runs;
    const auto& sel = state.selection;
    Grid& res = *grids_[0];
    Grid& plain = *grids_[1];
    Grid& diff = *grids_[2];

    auto bind = [&](Grid& g, const rm::Graph& graph, const GraphRun& run, const std::string& node,
                    const char* title) {
        g.info = {};
        g.info.title = title;
        g.info.node = node;
        g.hold.reset();
        if (node.empty()) {
            g.note = "select a node in the graph";
            return;
        }
        g.info.tensor = output_of(graph, node);
        g.hold = run.tensor(g.info.tensor);
        if (!g.hold) {
            g.note = "no output kept for " + node;
            return;
        }
        g.values = g.hold.get();
        g.info.shape = g.values->shape;
        const GridDims dims = grid_dims(g.values->shape);
        g.channels = dims.channels;
        g.height = dims.height;
        g.width = dims.width;
        g.info.channels_total = g.channels;
        g.order.clear();
        g.reserved.clear();
        for (int c = 0; c < g.channels; ++c) {
            g.order.push_back(c);
            g.reserved.push_back(false);
        }
    };
    bind(res, model.residual, runs.residual, sel.residual_primary, "Residual");
    bind(plain, model.rm.plain, runs.plain, sel.plain_primary, "Plain (RM)");

    // Plain: original channels first, then the reserved copies of the block input.
    std::vector<int> original;
    if (plain.values) {
        auto m = model.rm.mapping.find(sel.plain_primary);
        const std::vector<int64_t>* kept = nullptr;
        if (model.pruned)
            if (auto k = model.pruned->kept_channels.find(plain.info.tensor);
                k != model.pruned->kept_channels.end() && int(k->second.size()) == plain.channels)
                kept = &k->second;
        if (kept) {
            // Channel c of the pruned tensor is channel kept[c] of the unpruned one (the
            // mapping's ranges are already those of the pruned model).
            auto before = model.pruned->channels_before.find(plain.info.tensor);
            std::string list;
            for (size_t c = 0; c < kept->size() && c < 48; ++c)
                list += (c ? "," : "") + std::to_string((*kept)[c]);
            if (kept->size() > 48) list += ",...";
            plain.info.pruned =
                "pruned: " + std::to_string(kept->size()) + " of " +
                std::to_string(before == model.pruned->channels_before.end() ? int64_t(kept->size())
                                                                             : before->second) +
                " channels survive: " + list;
        }
        if (m != model.rm.mapping.end() && !m->second.channels.empty()) {
            std::vector<int> reserved;
            for (const auto& r : m->second.channels)
                for (int64_t c = r.begin; c < r.end && c < plain.channels; ++c) {
                    (r.reserved ? reserved : original).push_back(int(c));
                    if (r.reserved) plain.info.reserved_source = r.source_tensor;
                }
            plain.order = original;
            plain.reserved.assign(original.size(), false);
            for (int c : reserved) {
                plain.order.push_back(c);
                plain.reserved.push_back(true);
            }
        } else {
            for (int c = 0; c < plain.channels; ++c) original.push_back(c);
        }
    }

    // Difference: plain original channels minus the residual tensor they reproduce.
    diff.info = {};
    diff.info.title = "Plain - residual";
    diff.hold.reset();
    if (plain.values) {
        auto m = model.rm.mapping.find(sel.plain_primary);
        std::string ref_node = (m != model.rm.mapping.end() && !m->second.residual_nodes.empty())
                                   ? m->second.residual_nodes.back()
                                   : "";
        std::string ref_tensor = ref_node.empty() ? "" : output_of(model.residual, ref_node);
        const auto ref = ref_tensor.empty() ? nullptr : runs.residual.tensor(ref_tensor);
        if (ref) {
            const auto [c, h, w] = grid_dims(ref->shape);
            if (c == int(original.size()) && h == plain.height && w == plain.width) {
                diff.own = rm::Tensor({1, c, h, w});
                size_t hw = size_t(h) * size_t(w);
                for (int k = 0; k < c; ++k)
                    for (size_t i = 0; i < hw; ++i)
                        diff.own.data[size_t(k) * hw + i] =
                            plain.values->data[size_t(original[size_t(k)]) * hw + i] -
                            ref->data[size_t(k) * hw + i];
                diff.values = &diff.own;
                diff.channels = c;
                diff.height = h;
                diff.width = w;
                diff.info.node = sel.plain_primary + " vs " + ref_node;
                diff.info.tensor = ref_tensor;
                diff.info.shape = diff.own.shape;
                diff.info.channels_total = c;
                diff.order.clear();
                diff.reserved.assign(size_t(c), false);
                for (int k = 0; k < c; ++k) diff.order.push_back(k);
            } else {
                diff.note = "shapes differ: residual '" + ref_node + "' " +
                            rm::to_string(ref->shape) + " vs plain original channels";
            }
        } else {
            diff.note = "no residual tensor corresponds";
        }
    }

    shared_lo_ = shared_hi_ = 0;
    if (res.values && plain.values) {
        auto a = min_max(res.values->data.data(), res.values->data.size());
        auto b = min_max(plain.values->data.data(), plain.values->data.size());
        shared_lo_ = std::min(a.first, b.first);
        shared_hi_ = std::max(a.second, b.second);
    }
    for (auto& g : grids_) g->key.clear();
}

void FeatureMapsPanel::build_atlases(const AppState& state) {
    page_ = std::clamp(page_, 0, page_count() - 1);
    float shared_lo = shared_lo_, shared_hi = shared_hi_;

    for (size_t gi = 0; gi < grids_.size(); ++gi) {
        Grid& g = *grids_[gi];
        if (!g.values) {
            g.texture.reset();
            g.key.clear();
            continue;
        }
        std::string key = g.info.node + "|" + g.info.tensor + "|" + std::to_string(page_) + "|" +
                          std::to_string(per_page_) + "|" + std::to_string(int(range_)) + "|" +
                          std::to_string(reinterpret_cast<uintptr_t>(state.runs.get()));
        if (key == g.key) continue;
        g.key = key;
        int reserved = int(std::count(g.reserved.begin(), g.reserved.end(), true));
        int originals = int(g.order.size()) - reserved;
        PageChannels page = page_channels(originals, reserved, page_, per_page_);
        g.shown = std::move(page.shown);
        if (reserved > 0) g.info.reserved_first = page.reserved_first;
        g.info.reserved_total = reserved;
        g.info.channels_shown = int(g.shown.size());
        g.info.reserved_shown = 0;
        for (int p : g.shown) g.info.reserved_shown += g.reserved[size_t(p)];
        if (g.shown.empty()) {
            g.texture.reset();
            g.note = "its " + std::to_string(originals) + " channels are on pages 1-" +
                     std::to_string(std::max(1, pages_for(originals, per_page_)));
            continue;
        }
        int n = int(g.shown.size());
        const AtlasSize atlas = atlas_size(n, g.width, g.height);
        g.atlas_cols = atlas.cols;
        g.atlas_w = atlas.width;
        g.atlas_h = atlas.height;
        g.rgba.assign(size_t(g.atlas_w) * size_t(g.atlas_h) * 4, 0);
        const size_t hw = size_t(g.height) * size_t(g.width);
        auto layer = min_max(g.values->data.data(), g.values->data.size());
        g.signed_data = layer.first < 0;
        bool diverge = g.signed_data || gi == 2;
        g.info.lo = layer.first;
        g.info.hi = layer.second;
        uint8_t first[3] = {0, 0, 0};
        bool any_different = false;
        for (int t = 0; t < n; ++t) {
            int c = g.order[size_t(g.shown[size_t(t)])];
            const float* src = g.values->data.data() + size_t(c) * hw;
            auto [lo, hi] = layer;
            if (range_ == Range::PerChannel) std::tie(lo, hi) = min_max(src, hw);
            if (range_ == Range::Shared && gi < 2) {
                lo = shared_lo;
                hi = shared_hi;
            }
            float amax = std::max(std::abs(lo), std::abs(hi));
            int ox = (t % g.atlas_cols) * g.width, oy = (t / g.atlas_cols) * g.height;
            for (int y = 0; y < g.height; ++y)
                for (int x = 0; x < g.width; ++x) {
                    float v = src[size_t(y) * size_t(g.width) + size_t(x)];
                    std::array<uint8_t, 3> rgb =
                        diverge ? diverging(amax > 0 ? v / amax : 0.0f)
                                : viridis(hi > lo ? (v - lo) / (hi - lo) : 0.0f);
                    uint8_t* px =
                        &g.rgba[(size_t(oy + y) * size_t(g.atlas_w) + size_t(ox + x)) * 4];
                    px[0] = rgb[0];
                    px[1] = rgb[1];
                    px[2] = rgb[2];
                    px[3] = 255;
                    if (t == 0 && x == 0 && y == 0)
                        std::copy(rgb.begin(), rgb.end(), first);
                    else if (rgb[0] != first[0] || rgb[1] != first[1] || rgb[2] != first[2])
                        any_different = true;
                }
        }
        g.info.non_blank = any_different;
        g.texture = std::make_unique<Texture>(renderer_, g.atlas_w, g.atlas_h, g.rgba);
    }
}

void FeatureMapsPanel::draw_grid(Grid& g, float width, float height) {
    ImGui::TextColored(theme::kAccent, "%s", g.info.title.c_str());
    if (!g.values || !g.texture) {
        ImGui::TextDisabled("%s", g.note.empty() ? "nothing to show" : g.note.c_str());
        return;
    }
    ImGui::SameLine();
    ImGui::TextDisabled("%s", rm::to_string(g.info.shape).c_str());
    ImGui::TextWrapped("%s", g.info.node.c_str());
    if (!g.info.pruned.empty()) ImGui::TextColored(theme::kAccent, "%s", g.info.pruned.c_str());
    ImGui::TextDisabled("range %.3g .. %.3g%s", g.info.lo, g.info.hi,
                        g.signed_data ? " (signed: blue<0<red)" : "");
    int n = int(g.shown.size());
    int originals = n - g.info.reserved_shown;
    // Labels: "original a-b of M" when the grid has reserved channels; for the reserved ones a
    // line and the (wrapped) name of the block input they copy.
    std::string source = "= copy of block input " + g.info.reserved_source;
    float line_h = ImGui::GetTextLineHeightWithSpacing();
    float label_h = (g.info.reserved_total > 0 && originals > 0 ? line_h : 0.0f);
    if (g.info.reserved_shown > 0)
        label_h += line_h + ImGui::CalcTextSize(source.c_str(), nullptr, false, width).y +
                   ImGui::GetStyle().ItemSpacing.y;
    const ImGuiStyle& style = ImGui::GetStyle();
    float avail_h = std::max(40.0f, height - ImGui::GetCursorPosY() - label_h -
                                        style.WindowPadding.y - style.ItemSpacing.y - 4);
    // The largest tile that fits all of this page's tiles in the column.
    const float aspect = float(g.width) / float(g.height);
    const TileFit fit = fit_tiles(originals, g.info.reserved_shown, aspect, width, avail_h);
    const int best_cols = fit.cols;
    float tw = std::min(fit.tile_width, 160.0f), th = std::max(tw / aspect, 6.0f);
    ImDrawList* dl = ImGui::GetWindowDrawList();
    ImVec2 mouse = ImGui::GetIO().MousePos;
    auto draw_tiles = [&](int from, int to) {
        ImVec2 start = ImGui::GetCursorScreenPos();
        int count = to - from;
        auto tile_at = [&](int k) {
            return ImVec2(start.x + float(k % best_cols) * (tw + 3),
                          start.y + float(k / best_cols) * (th + 3));
        };
        // All tiles in one draw first, then the frames and hover marks over them.
        std::vector<ImageQuad> quads;
        for (int k = 0; k < count; ++k) {
            int t = from + k;
            ImVec2 p0 = tile_at(k);
            float ax = float((t % g.atlas_cols) * g.width),
                  ay = float((t / g.atlas_cols) * g.height);
            quads.push_back({p0.x, p0.y, p0.x + tw, p0.y + th, ax / float(g.atlas_w),
                             ay / float(g.atlas_h), (ax + float(g.width)) / float(g.atlas_w),
                             (ay + float(g.height)) / float(g.atlas_h)});
        }
        renderer_.draw_images(dl, *g.texture, quads);
        for (int k = 0; k < count; ++k) {
            int t = from + k;
            ImVec2 p0 = tile_at(k);
            ImVec2 p1(p0.x + tw, p0.y + th);
            if (g.reserved[size_t(g.shown[size_t(t)])])
                dl->AddRect(p0, p1, theme::kReserved, 0, 0, 1.5f);
            if (ImGui::IsWindowHovered() && mouse.x >= p0.x && mouse.x < p1.x && mouse.y >= p0.y &&
                mouse.y < p1.y) {
                int c = g.order[size_t(g.shown[size_t(t)])];
                int x = std::clamp(int((mouse.x - p0.x) / tw * float(g.width)), 0, g.width - 1);
                int y = std::clamp(int((mouse.y - p0.y) / th * float(g.height)), 0, g.height - 1);
                float v =
                    g.values->data[(size_t(c) * size_t(g.height) + size_t(y)) * size_t(g.width) +
                                   size_t(x)];
                dl->AddRect(p0, p1, theme::kSelection);
                const bool reserved = g.reserved[size_t(g.shown[size_t(t)])];
                ImGui::SetTooltip("channel %d  y %d  x %d\nvalue %.6g%s", c, y, x, v,
                                  reserved ? "\n(reserved: copy of block input, made by a "
                                             "Dirac row;\nclick: see that row in the Explain tab)"
                                           : "");
                if (reserved && ImGui::IsMouseClicked(ImGuiMouseButton_Left))
                    pick_ = ReservedPick{g.info.node, c};
            }
        }
        int rows = (count + best_cols - 1) / best_cols;
        ImGui::Dummy(ImVec2(float(best_cols) * (tw + 3), float(rows) * (th + 3)));
    };
    if (originals > 0) {
        if (g.info.reserved_total > 0)
            ImGui::TextDisabled("original %d-%d of %d", g.shown.front() + 1,
                                g.shown.front() + originals,
                                int(g.order.size()) - g.info.reserved_total);
        draw_tiles(0, originals);
    }
    if (g.info.reserved_shown > 0) {
        // Reserved channels are shown on every page (see build_atlases), framed and named.
        ImGui::TextColored(theme::kReservedText4, "reserved %d-%d of %d", g.info.reserved_first + 1,
                           g.info.reserved_first + g.info.reserved_shown, g.info.reserved_total);
        ImGui::PushStyleColor(ImGuiCol_Text, theme::kReservedText4);
        ImGui::TextWrapped("%s", source.c_str());
        ImGui::PopStyleColor();
        draw_tiles(originals, n);
    }
}

void FeatureMapsPanel::draw(const AppState& state) {
    std::string selection_key =
        state.selection.residual_primary + "|" + state.selection.plain_primary;
    if (selection_key != last_selection_) {
        page_ = 0;
        last_selection_ = selection_key;
    }
    if (pending_page_ >= 0 && state.runs) {
        page_ = pending_page_;
        pending_page_ = -1;
    }
    update(state);
    if (pending_pick_ >= 0 && grids_[1]->values) {
        const Grid& g = *grids_[1];
        const int reserved = int(std::count(g.reserved.begin(), g.reserved.end(), true));
        if (pending_pick_ < reserved)
            pick_ = ReservedPick{g.info.node,
                                 g.order[size_t(int(g.order.size()) - reserved + pending_pick_)]};
        pending_pick_ = -1;
    }

    int pages = page_count();
    ImGui::SetNextItemWidth(90);
    const int kPerPage[] = {8, 16, 32, 64};
    if (ImGui::BeginCombo("##perpage", (std::to_string(per_page_) + " / page").c_str())) {
        for (int v : kPerPage)
            if (ImGui::Selectable((std::to_string(v) + " / page").c_str(), v == per_page_))
                per_page_ = v;
        ImGui::EndCombo();
    }
    ImGui::SameLine();
    if (ImGui::ArrowButton("##prev", ImGuiDir_Left)) page_ = std::max(0, page_ - 1);
    ImGui::SameLine();
    ImGui::Text("page %d / %d", page_ + 1, pages);
    ImGui::SameLine();
    if (ImGui::ArrowButton("##next", ImGuiDir_Right)) page_ = std::min(pages - 1, page_ + 1);
    ImGui::SameLine();
    ImGui::SetNextItemWidth(170);
    const char* kRanges[] = {"range per channel", "range per layer", "range shared by both"};
    int r = int(range_);
    if (ImGui::Combo("##range", &r, kRanges, 3)) range_ = Range(r);
    ImGui::SameLine();
    ImGui::Checkbox("difference", &show_diff_);
    ImGui::SameLine();
    if (ImGui::Button("Export PNG")) {
        std::string node =
            state.selection.plain_primary.empty() ? "featuremaps" : state.selection.plain_primary;
        for (char& ch : node)
            if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        auto written = export_png("rmvk_" + node);
        export_message_ = written.empty()
                              ? "nothing to export"
                              : "wrote " + written.front() + (written.size() > 1 ? " ..." : "");
    }
    if (!export_message_.empty()) {
        ImGui::SameLine();
        ImGui::TextDisabled("%s", export_message_.c_str());
    }

    int columns = show_diff_ ? 3 : 2;
    ImVec2 avail = ImGui::GetContentRegionAvail();
    float col_w = (avail.x - float(columns - 1) * 6) / float(columns);
    for (int i = 0; i < columns; ++i) {
        if (i > 0) ImGui::SameLine(0, 6);
        std::string id = "fmgrid" + std::to_string(i);
        ImGui::BeginChild(id.c_str(), ImVec2(col_w, avail.y), true);
        draw_grid(*grids_[size_t(i)], ImGui::GetContentRegionAvail().x, avail.y);
        ImGui::EndChild();
    }
}

std::vector<std::string> FeatureMapsPanel::export_png(const std::string& prefix) const {
    std::vector<std::string> written;
    const char* kSide[] = {"residual", "plain", "difference"};
    for (size_t i = 0; i < grids_.size(); ++i) {
        const Grid& g = *grids_[i];
        if (!g.values || g.rgba.empty()) continue;
        std::string path = prefix + "_" + kSide[i] + ".png";
        if (stbi_write_png(path.c_str(), g.atlas_w, g.atlas_h, 4, g.rgba.data(), g.atlas_w * 4))
            written.push_back(path);
    }
    return written;
}

}  // namespace rmvk::ui
