#pragma once
// The Pruning view: a sweep of thresholds (plain and residual pruning) run on its own thread
// with a progress bar, plotted as accuracy against device time and against MACs next to the
// unpruned residual and plain models. Clicking a pruned point asks the app to open that model
// in the plain pane.
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "app/engine/prune_sweep.hpp"
#include "ui/app_state.hpp"

namespace rmvk::ui {

struct PruneRequest {
    rm::PruneMode mode = rm::PruneMode::Plain;
    double threshold = 0;
};

class PruningPanel {
  public:
    ~PruningPanel();
    // Returns a point the user chose (or a script asked for).
    std::optional<PruneRequest> draw(const AppState& state);
    // Starts a sweep of `model` on `device` (kCpuDevice: accuracy on the CPU, no device time).
    void start(std::shared_ptr<const LoadedModel> model, const std::string& device);
    bool busy() const { return busy_; }
    bool has_sweep() const { return sweep_ != nullptr; }
    const PruneSweep* sweep() const { return sweep_.get(); }
    // Scripts: "plain:K" or "residual:K" picks point K of that curve once the sweep is done.
    void script_pick(const std::string& pick) { pending_pick_ = pick; }
    bool script_pending() const { return !pending_pick_.empty(); }
    std::string script_error() const { return script_error_; }
    int images = 1000;  // per split
    int points = 6;

  private:
    void poll();
    std::optional<PruneRequest> plot(const char* id, bool by_time, float width, float height);

    std::jthread thread_;
    std::atomic<bool> busy_{false};
    std::atomic<float> fraction_{0};
    std::mutex mutex_;
    std::string stage_, error_;
    std::shared_ptr<PruneSweep> done_, sweep_;
    std::string model_key_;  // the model the sweep belongs to
    std::string pending_pick_, script_error_;
    std::optional<PruneRequest> chosen_;  // highlighted point
};

}  // namespace rmvk::ui
