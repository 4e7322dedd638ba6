#include "app/gui_command.hpp"

#include <malloc.h>

#include <cstdio>
#include <stdexcept>

#include "app/cli/args.hpp"

namespace rmvk {

namespace {

const char* kUsage =
    "usage: rmvk gui [MODEL] [--image IMG] [--device D] [--precision fp32|fp16]\n"
    "                [--plain-exec structured|dense] [--select NODE]\n"
    "                [--screenshot FILE.png] [--frames N] [--dump-state FILE.json]\n"
    "                [--width W --height H] [--open-after-start MODEL] [--no-vsync]\n"
    "                [--tab features|timing|input|explain|pruning] [--page N] [--pan PIXELS]\n"
    "                [--step 1-4] [--conv K] [--zoom N] [--pixel C,Y,X] [--step-cycle]\n"
    "                [--export-explain FILE.png] [--click-reserved K] [--keys left,right,...]\n"
    "                [--hover OUT,IN]\n"
    "                [--check-redraw] [--sweep [--sweep-images N] [--sweep-points N]\n"
    "                [--prune-open plain:K|residual:K]]\n"
    "                [--drop PATH]... [--browse model|image|report --pick PATH]\n"
    "\n"
    "Opens the desktop app on MODEL (.onnx or builtin:NAME; default: the bundled model) and\n"
    "IMG (default: a bundled sample). D is 'cpu' or a Vulkan device index or name;\n"
    "--precision: how a Vulkan device stores tensors (the Timing tab's 'storage').\n"
    "--plain-exec: the Timing tab's 'plain execution'; dense times the plain graph from its\n"
    "materialised weights once the model is shown (structured, the default, is always timed).\n"
    "--screenshot/--dump-state render N frames (default 10) once loading is done, save, exit.\n"
    "--pan drags the residual graph pane by PIXELS each of those frames (the fps while panning).\n"
    "--check-redraw draws the last frame whole too and reports pixels that the partial redraw\n"
    "got wrong (redraw_mismatch in the state dump).\n"
    "--step/--conv show that RM step and conv in the Explain tab, --zoom N zooms its weight\n"
    "picture N times (centred), --pixel C,Y,X picks its worked pixel in the block output,\n"
    "--step-cycle steps once per frame (the fps while stepping);\n"
    "--export-explain writes the Explain tab's weight picture as PNG at the end.\n"
    "--click-reserved K clicks the K-th reserved channel (1-based) in the feature maps;\n"
    "--keys taps those arrow keys, one every other frame; --hover puts what hovering that\n"
    "cell of the weight picture shows into the state dump.\n"
    "--drop acts as if PATH (model, image or bench report) were dropped on the window;\n"
    "--browse/--pick open the File menu's browser and walk it to PATH, as a user would.\n"
    "--sweep runs the Pruning view's sweep once loaded; --prune-open then opens point K of\n"
    "the plain or residual curve in the plain pane (as a click on it would).\n";

// "A,B,C": `n` non-negative integers, comma-separated.
std::vector<int64_t> parse_ints(const std::string& v, size_t n, const std::string& what) {
    std::vector<int64_t> p(n);
    size_t at = 0;
    for (size_t k = 0; k < n; ++k) {
        size_t used = 0;
        try {
            p[k] = std::stoll(v.substr(at), &used);
        } catch (const std::exception&) {
            used = 0;
        }
        at += used;
        bool sep_ok = k + 1 < n ? at < v.size() && v[at] == ',' : at == v.size();
        if (used == 0 || p[k] < 0 || !sep_ok)
            throw cli::UsageError(what + " (non-negative), got '" + v + "'");
        ++at;
    }
    return p;
}

// --flag N with N > 0, or `fallback` when the flag is absent.
int positive(const cli::Args& args, const std::string& flag, int fallback) {
    if (!args.has(flag)) return fallback;
    const std::string v = args.get(flag);
    try {
        size_t used = 0;
        int n = std::stoi(v, &used);
        if (used != v.size() || n <= 0) throw std::invalid_argument("");
        return n;
    } catch (const std::exception&) {
        throw cli::UsageError(flag + " wants a positive number, got '" + v + "'");
    }
}

// The tab names the command line uses, and the tabs' titles.
std::string tab_title(const std::string& tab) {
    if (tab == "features") return "Feature maps";
    if (tab == "timing") return "Timing";
    if (tab == "input") return "Input";
    if (tab == "explain") return "Explain";
    if (tab == "pruning") return "Pruning";
    if (!tab.empty())
        throw cli::UsageError("--tab wants features, timing, input, explain or pruning");
    return "";
}

}  // namespace

ui::GuiOptions parse_gui_options(const std::vector<std::string>& argv) {
    const cli::Args args(argv,
                         {"--image",
                          "--device",
                          "--precision",
                          "--plain-exec",
                          "--select",
                          "--screenshot",
                          "--dump-state",
                          "--open-after-start",
                          "--tab",
                          "--frames",
                          "--width",
                          "--height",
                          "--pan",
                          "--page",
                          "--step",
                          "--conv",
                          "--pixel",
                          "--hover",
                          "--zoom",
                          "--keys",
                          "--click-reserved",
                          "--export-explain",
                          "--drop",
                          "--browse",
                          "--pick",
                          "--sweep-images",
                          "--sweep-points",
                          "--prune-open"},
                         {"--no-vsync", "--check-redraw", "--step-cycle", "--sweep"});
    if (args.positional().size() > 1)
        throw cli::UsageError("unexpected argument '" + args.positional()[1] + "'");
    ui::GuiOptions o;
    if (!args.positional().empty()) o.model = args.positional()[0];
    o.image = args.get("--image");
    o.device = args.get("--device");
    o.precision = args.get("--precision");
    o.plain_exec_dense = !cli::plain_exec_structured(args);
    o.select = args.get("--select");
    o.screenshot = args.get("--screenshot");
    o.dump_state = args.get("--dump-state");
    o.open_after_start = args.get("--open-after-start");
    o.tab = tab_title(args.get("--tab"));
    o.frames = positive(args, "--frames", 0);
    o.width = positive(args, "--width", o.width);
    o.height = positive(args, "--height", o.height);
    o.vsync = !args.has("--no-vsync");
    o.pan = float(positive(args, "--pan", 0));
    o.check_redraw = args.has("--check-redraw");
    o.page = positive(args, "--page", o.page);
    o.explain_step = positive(args, "--step", 0);
    if (o.explain_step > 4) throw cli::UsageError("--step wants 1, 2, 3 or 4");
    o.explain_conv = positive(args, "--conv", 0);
    if (args.has("--pixel")) {
        auto p = parse_ints(args.get("--pixel"), 3, "--pixel wants CHANNEL,Y,X");
        o.pixel = {p[0], p[1], p[2]};
    }
    if (args.has("--hover")) {
        auto p = parse_ints(args.get("--hover"), 2, "--hover wants OUTPUT,INPUT");
        o.hover = {p[0], p[1]};
    }
    o.step_cycle = args.has("--step-cycle");
    o.explain_zoom = positive(args, "--zoom", 0);
    if (args.has("--keys")) {
        std::string v = args.get("--keys") + ",";
        for (size_t at = 0, comma; (comma = v.find(',', at)) != std::string::npos; at = comma + 1) {
            o.keys.push_back(v.substr(at, comma - at));
            if (o.keys.back() != "left" && o.keys.back() != "right")
                throw cli::UsageError("--keys wants left and right, comma-separated");
        }
    }
    o.click_reserved = positive(args, "--click-reserved", 0) - 1;
    o.export_explain = args.get("--export-explain");
    o.drop = args.get_all("--drop");
    o.browse = args.get("--browse");
    o.pick = args.get("--pick");
    o.sweep = args.has("--sweep");
    o.sweep_images = positive(args, "--sweep-images", o.sweep_images);
    o.sweep_points = positive(args, "--sweep-points", o.sweep_points);
    o.prune_open = args.get("--prune-open");
    if (!o.prune_open.empty() && !o.sweep) throw cli::UsageError("--prune-open needs --sweep");
    if (!o.browse.empty() && o.browse != "model" && o.browse != "image" && o.browse != "report")
        throw cli::UsageError("--browse wants model, image or report");
    if (o.browse.empty() != o.pick.empty())
        throw cli::UsageError("--browse and --pick go together");
    if (o.frames == 0 && (!o.screenshot.empty() || !o.dump_state.empty())) o.frames = 10;
    return o;
}

int cmd_gui(const std::vector<std::string>& args) {
    for (const auto& a : args)
        if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
    const ui::GuiOptions options = parse_gui_options(args);
    // The app prepares a graph's device weights, runs, and frees them again, one runner after
    // another: with glibc's sliding mmap threshold those blocks came from the heap and stayed
    // resident after free. A fixed threshold maps every block over 1 MiB on its own, so a free
    // gives it back to the system.
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    return ui::run_app(options);
}

}  // namespace rmvk
