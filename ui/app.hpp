#pragma once
// The desktop app: window, menus, panes and panels, background jobs, and the scripted
// --screenshot / --dump-state mode used by the GUI tests.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rmvk::ui {

struct GuiOptions {
    std::string model;      // "" = bundled default
    std::string image;      // "" = bundled sample
    std::string device;     // "" = default compute device
    std::string precision;  // "fp32" (or "") | "fp16": storage on a Vulkan device
    // --plain-exec dense: the Timing tab's plain execution, the dense timing measured once the
    // model is shown (part of a scripted start-up).
    bool plain_exec_dense = false;
    std::string select;            // node to select once loaded
    std::string screenshot;        // PNG of the last frame
    std::string dump_state;        // JSON of what is on screen
    std::string open_after_start;  // a model opened once the first one is shown (error-path tests)
    std::string tab;               // "Feature maps", "Timing", "Input" or "Pruning" shown first
    int page = 1;                  // feature-map page shown first (1-based)
    // The Explain tab: step (1-4) and conv of the step (1-based) shown first, the worked
    // pixel (channel, y, x; -1: the default), the steps cycled once per scripted frame (fps
    // while stepping), and a PNG of its weight picture written at the end.
    int explain_step = 0, explain_conv = 0;
    std::array<int64_t, 3> pixel{-1, -1, -1};
    bool step_cycle = false;
    std::string export_explain;
    int explain_zoom = 0;     // the weight picture zoomed this many times its fitted size
    int click_reserved = -1;  // as if that reserved channel (0-based) were clicked in the
                              // feature maps
    std::array<int64_t, 2> hover{-1, -1};  // a cell of the weight picture: its tooltip, dumped
    std::vector<std::string> keys;         // "left" / "right" arrow key taps, one every other frame
    // Scripted use of what a user does by hand, once start-up is done (tests):
    std::vector<std::string> drop;  // paths dropped onto the window, in order
    std::string browse;             // "model", "image" or "report": open the File menu's browser
    std::string
        pick;  // then open this path (relative to where the browser starts), folder by folder
    bool sweep = false;       // start the Pruning view's sweep once the model is shown
    int sweep_images = 1000;  // images per split in that sweep
    int sweep_points = 6;     // thresholds per curve
    std::string prune_open;   // "plain:K" / "residual:K": then open sweep point K
    int frames = 0;           // > 0: render this many frames after loading, then exit
    float pan = 0;            // scripted frames drag both graph panes up by this many pixels each
    int width = 1600, height = 1000;
    bool vsync = true;
    bool check_redraw = false;  // compare the last frame's partial redraw with a whole one
};

// Runs until the window closes (or the scripted frames are done). Returns the exit code.
int run_app(const GuiOptions& options);

}  // namespace rmvk::ui
