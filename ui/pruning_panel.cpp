#include "ui/pruning_panel.hpp"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ui/theme.hpp"

namespace rmvk::ui {

namespace {

constexpr ImU32 kPlainColor = theme::rgb(236, 178, 46);
constexpr ImU32 kResidualColor = theme::rgb(96, 160, 240);
constexpr ImU32 kAxis = theme::rgb(150, 158, 170);

double accuracy_of(const PrunePoint& p) {
    return p.test_accuracy >= 0 ? p.test_accuracy : p.val_accuracy;
}
double x_of(const PrunePoint& p, bool by_time) {
    return by_time ? p.ms_batch100 : static_cast<double>(p.macs) / 1e6;
}

}  // namespace

PruningPanel::~PruningPanel() {
    if (thread_.joinable()) {
        thread_.request_stop();
        thread_.join();
    }
}

void PruningPanel::start(std::shared_ptr<const LoadedModel> model, const std::string& device) {
    if (busy_) return;
    if (thread_.joinable()) thread_.join();
    busy_ = true;
    fraction_ = 0;
    error_.clear();
    model_key_ = model->spec;
    const int n = images, pts = points;
    thread_ = std::jthread([this, model, device, n, pts](std::stop_token stop) {
        std::shared_ptr<PruneSweep> result;
        std::string error;
        try {
            std::unique_ptr<Context> context;
            if (device != kCpuDevice)
                context = std::make_unique<Context>(ContextOptions{.device = device});
            std::optional<rm::LabelledImages> val, test;
            if (rm::fashion_mnist_train_available())
                val = rm::read_fashion_mnist_validation(rm::kFashionMnistDir, n);
            if (rm::fashion_mnist_available())
                test = rm::read_fashion_mnist_test(rm::kFashionMnistDir, n);
            PruneData data;
            data.pre = model->preprocessing;
            data.validation = val ? &*val : nullptr;
            data.test = test ? &*test : nullptr;
            SweepOptions options;
            options.points = pts;
            options.timing_runs = 3;
            options.time = context != nullptr;
            result = std::make_shared<PruneSweep>(
                run_prune_sweep(model->residual, data, context.get(), options,
                                [&](double f, const std::string& what) {
                                    fraction_ = static_cast<float>(f);
                                    std::lock_guard lock(mutex_);
                                    stage_ = what;
                                    return !stop.stop_requested();
                                }));
            result->model = model->display_name;
        } catch (const SweepCancelled&) {
            error = "sweep cancelled";
        } catch (const std::exception& e) {
            error = e.what();
        }
        std::lock_guard lock(mutex_);
        done_ = result;
        error_ = error;
        busy_ = false;
    });
}

void PruningPanel::poll() {
    std::lock_guard lock(mutex_);
    if (done_) {
        sweep_ = std::move(done_);
        done_.reset();
    }
}

std::optional<PruneRequest> PruningPanel::draw(const AppState& state) {
    poll();
    std::optional<PruneRequest> request;
    const bool idle = !busy_;
    ImGui::SetNextItemWidth(90);
    ImGui::InputInt("images per split", &images, 100, 1000);
    images = std::clamp(images, 10, 10000);
    ImGui::SameLine();
    ImGui::SetNextItemWidth(90);
    ImGui::InputInt("thresholds", &points, 1, 2);
    points = std::clamp(points, 2, 20);
    ImGui::SameLine();
    if (!idle) ImGui::BeginDisabled();
    if (ImGui::Button("Run sweep") && state.model) start(state.model, state.device);
    if (!idle) ImGui::EndDisabled();
    if (busy_) {
        ImGui::SameLine();
        if (ImGui::Button("Cancel")) thread_.request_stop();
        std::string stage;
        {
            std::lock_guard lock(mutex_);
            stage = stage_;
        }
        ImGui::ProgressBar(fraction_, ImVec2(-1, 0), ("sweep: " + stage).c_str());
    }
    {
        std::lock_guard lock(mutex_);
        if (!error_.empty()) ImGui::TextColored(theme::kBad, "%s", error_.c_str());
    }
    if (!sweep_) {
        ImGui::TextWrapped(
            "Prunes the model's channels for a series of thresholds, in the plain (RM) graph "
            "(every channel, the reserved copies included) and in the residual graph "
            "(block-internal channels only), and measures accuracy on Fashion-MNIST and device "
            "time at batch 100 on the current device (%s).",
            state.device.c_str());
        return request;
    }
    const PruneSweep& s = *sweep_;
    ImGui::TextDisabled("%s on %s; accuracy: %s", s.model.c_str(), s.device.c_str(),
                        s.residual.test_accuracy >= 0 ? "test split" : "validation split");
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kPlainColor), "plain pruned");
    ImGui::SameLine();
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kResidualColor), "residual pruned");
    ImGui::SameLine();
    ImGui::TextDisabled("(squares: unpruned; click a point to open it in the plain pane)");
    const float w = ImGui::GetContentRegionAvail().x;
    // The CPU reference measures no device time: then one plot, against MACs, in all the room.
    const bool timed = s.residual.ms_batch100 > 0;
    const float room = ImGui::GetContentRegionAvail().y - (timed ? 110 : 55);
    const float h = std::max(160.0f, timed ? room / 2 : room);
    if (timed)
        if (auto r = plot("by_time", true, w, h)) request = r;
    if (auto r = plot("by_macs", false, w, h)) request = r;
    if (!timed)
        ImGui::TextDisabled("no device time on %s: accuracy against MACs only", s.device.c_str());

    if (!pending_pick_.empty() && !busy_) {
        const std::string pick = pending_pick_;
        pending_pick_.clear();
        const auto colon = pick.find(':');
        const std::string which = pick.substr(0, colon);
        const std::vector<PrunePoint>& curve =
            which == "residual" ? s.residual_pruned : s.plain_pruned;
        const size_t k = colon == std::string::npos ? 0 : std::stoul(pick.substr(colon + 1));
        if ((which != "plain" && which != "residual") || k >= curve.size()) {
            script_error_ = "--prune-open " + pick + ": no such sweep point";
        } else {
            request =
                PruneRequest{which == "plain" ? rm::PruneMode::Plain : rm::PruneMode::Residual,
                             curve[k].threshold};
        }
    }
    if (request) chosen_ = request;
    return request;
}

std::optional<PruneRequest> PruningPanel::plot(const char* id, bool by_time, float width,
                                               float height) {
    const PruneSweep& s = *sweep_;
    std::vector<const PrunePoint*> all{&s.residual, &s.plain};
    for (const auto* c : {&s.plain_pruned, &s.residual_pruned})
        for (const auto& p : *c) all.push_back(&p);
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (const PrunePoint* p : all) {
        const double x = x_of(*p, by_time), y = accuracy_of(*p);
        if (!(x > 0) || y < 0) continue;
        x0 = std::min(x0, x);
        x1 = std::max(x1, x);
        y0 = std::min(y0, y);
        y1 = std::max(y1, y);
    }
    ImGui::TextUnformatted(by_time ? "accuracy (%) against device time at batch 100 (ms)"
                                   : "accuracy (%) against MACs per image (millions)");
    if (!(x1 >= x0) || !(y1 >= y0)) {
        ImGui::TextDisabled("nothing to plot (no device time or no accuracy)");
        return std::nullopt;
    }
    x0 = 0;
    x1 *= 1.08;
    const double ypad = std::max(0.5, (y1 - y0) * 0.08);
    y0 -= ypad;
    y1 += ypad;
    ImGui::InvisibleButton(id, {width, height});
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    const float left = a.x + 44, bottom = b.y - 18, top = a.y + 4, right = b.x - 8;
    auto to_screen = [&](double x, double y) {
        return ImVec2(left + static_cast<float>((x - x0) / (x1 - x0)) * (right - left),
                      bottom - static_cast<float>((y - y0) / (y1 - y0)) * (bottom - top));
    };
    dl->AddRect({left, top}, {right, bottom}, kAxis);
    for (int i = 0; i <= 4; ++i) {
        const double yv = y0 + (y1 - y0) * i / 4, xv = x0 + (x1 - x0) * i / 4;
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f", yv);
        dl->AddText({a.x, to_screen(0, yv).y - 7}, kAxis, buf);
        std::snprintf(buf, sizeof buf, by_time ? "%.0f" : "%.1f", xv);
        // Centred under its tick, kept inside the plot's right edge.
        const float bw = ImGui::CalcTextSize(buf).x;
        const float tx = std::min(to_screen(xv, 0).x - bw / 2, right - bw);
        dl->AddText({tx, bottom + 2}, kAxis, buf);
    }
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    const PrunePoint* hovered = nullptr;
    float best = 64;  // squared pixels
    auto curve = [&](const std::vector<PrunePoint>& pts, ImU32 color) {
        std::vector<ImVec2> line;
        for (const auto& p : pts) {
            const double x = x_of(p, by_time), y = accuracy_of(p);
            if (!(x > 0) || y < 0) continue;
            line.push_back(to_screen(x, y));
            const float dx = line.back().x - mouse.x, dy = line.back().y - mouse.y;
            if (ImGui::IsItemHovered() && dx * dx + dy * dy < best) {
                best = dx * dx + dy * dy;
                hovered = &p;
            }
            const bool chosen = chosen_ && chosen_->threshold == p.threshold &&
                                rm::prune_mode_name(chosen_->mode) == p.graph;
            dl->AddCircleFilled(line.back(), chosen ? 6.0f : 4.0f, color);
            if (chosen) dl->AddCircle(line.back(), 9.0f, theme::kSelection, 0, 2.0f);
        }
        if (line.size() > 1)
            dl->AddPolyline(line.data(), static_cast<int>(line.size()), color, 0, 1.5f);
    };
    curve(s.residual_pruned, kResidualColor);
    curve(s.plain_pruned, kPlainColor);
    for (const auto& [p, color, name] : {std::tuple{&s.residual, kResidualColor, "residual"},
                                         std::tuple{&s.plain, kPlainColor, "plain (RM)"}}) {
        const double x = x_of(*p, by_time), y = accuracy_of(*p);
        if (!(x > 0) || y < 0) continue;
        const ImVec2 c = to_screen(x, y);
        dl->AddRectFilled({c.x - 5, c.y - 5}, {c.x + 5, c.y + 5}, color);
        // Right of the square, or left of it where the plot's right edge would cut it.
        const float tw = ImGui::CalcTextSize(name).x;
        dl->AddText({c.x + 8 + tw > right ? c.x - 8 - tw : c.x + 8, c.y - 7}, color, name);
    }
    if (hovered) {
        ImGui::SetTooltip(
            "%s pruned, threshold %.4g\naccuracy %.2f%%, %lld channels\n%.2fM MACs, "
            "%.3f ms at batch 100",
            hovered->graph.c_str(), hovered->threshold, accuracy_of(*hovered),
            static_cast<long long>(hovered->channels), hovered->macs / 1e6, hovered->ms_batch100);
        if (ImGui::IsItemClicked())
            return PruneRequest{
                hovered->graph == "plain" ? rm::PruneMode::Plain : rm::PruneMode::Residual,
                hovered->threshold};
    }
    return std::nullopt;
}

}  // namespace rmvk::ui
