#pragma once
// The scripted start-up the GUI tests drive (--open-after-start, --select, --sweep, --page,
// --step, --drop, --browse, --keys, --frames, --plain-exec): which model opens after each finished
// job, when each one-off request is due, and which frame is the last. Pure logic, no window: the
// App carries each step out.
#include <optional>
#include <string>

#include "ui/app.hpp"

namespace rmvk::ui {

class StartupScript {
  public:
    explicit StartupScript(const GuiOptions& options) : options_(options) {}

    // --frames > 0: the app renders that many settled frames, writes its files and exits.
    bool scripted() const { return options_.frames > 0; }
    // The model asked for (or the bundled one when it failed), then --open-after-start, shown.
    bool started_up() const { return stage_ == Stage::Done; }

    // A model to open and the image to run it on.
    struct Load {
        std::string model, image;
    };
    // After each finished job (failed: it ended in an error; have_model: a model is shown now,
    // run on `image_path`): the model to open next, if start-up has one.
    std::optional<Load> after_job(bool failed, bool have_model, const std::string& image_path);

    // --select: the node to select with the first model shown, once ("" after that or unset).
    std::string take_select();
    // --sweep: true once, when start-up is done and a model is shown.
    bool take_sweep(bool have_model);
    // --sweep asked for and not yet started (a scripted run waits for it).
    bool sweep_pending() const { return options_.sweep && !sweep_taken_; }
    // --plain-exec dense: true once, when start-up is done and a model was run (have_runs);
    // the dense timing then runs before the scripted frames.
    bool take_dense_timing(bool have_runs);
    // --plain-exec dense asked for and not yet started (a scripted run waits for it).
    bool dense_timing_pending() const { return options_.plain_exec_dense && !dense_taken_; }
    // True once, when start-up is done: time for --page, --step, --drop, --browse and the rest.
    bool take_requests();

    // --keys: this frame's arrow key event, each key held for one frame and released the next
    // (as GLFW reports a tap); nothing once all were tapped.
    struct KeyEvent {
        bool left = false;  // else right
        bool down = false;
    };
    std::optional<KeyEvent> next_key();

    // Whether the frame about to be presented is the last one: scripted, nothing left to
    // wait for (`settled`), and `frames_done` settled frames already shown.
    bool is_last_frame(bool settled, int frames_done) const {
        return scripted() && settled && frames_done + 1 >= options_.frames;
    }

    // A scripted run gives up waiting for background work after this long.
    static constexpr double kGiveUpSeconds = 900;

  private:
    enum class Stage { First, Fallback, OpenAfter, Done };
    const GuiOptions& options_;
    Stage stage_ = Stage::First;
    bool select_taken_ = false;
    bool sweep_taken_ = false;
    bool dense_taken_ = false;
    bool requests_taken_ = false;
    size_t key_index_ = 0;  // next of options_.keys
    bool key_down_ = false;
};

}  // namespace rmvk::ui
