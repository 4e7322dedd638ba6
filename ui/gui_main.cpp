#include "ui/gui_main.hpp"

#include <malloc.h>

#include <cstdio>
#include <stdexcept>

#include "ui/app.hpp"

namespace rmvk::ui {

namespace {

const char* kUsage =
    "usage: rmvk gui [MODEL] [--image IMG] [--device D] [--select NODE]\n"
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
    "IMG (default: a bundled sample). D is 'cpu' or a Vulkan device index or name.\n"
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
            throw std::invalid_argument(what + " (non-negative), got '" + v + "'");
        ++at;
    }
    return p;
}

}  // namespace

GuiOptions parse_gui_options(const std::vector<std::string>& args) {
    GuiOptions o;
    auto value = [&](size_t& i) -> const std::string& {
        if (i + 1 >= args.size()) throw std::invalid_argument(args[i] + " needs a value");
        return args[++i];
    };
    auto number = [&](size_t& i) {
        const std::string& v = value(i);
        try {
            size_t used = 0;
            int n = std::stoi(v, &used);
            if (used != v.size() || n <= 0) throw std::invalid_argument("");
            return n;
        } catch (const std::exception&) {
            throw std::invalid_argument(args[i - 1] + " wants a positive number, got '" + v + "'");
        }
    };
    bool have_model = false;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--image")
            o.image = value(i);
        else if (a == "--device")
            o.device = value(i);
        else if (a == "--select")
            o.select = value(i);
        else if (a == "--screenshot")
            o.screenshot = value(i);
        else if (a == "--dump-state")
            o.dump_state = value(i);
        else if (a == "--open-after-start")
            o.open_after_start = value(i);
        else if (a == "--tab")
            o.tab = value(i);
        else if (a == "--frames")
            o.frames = number(i);
        else if (a == "--width")
            o.width = number(i);
        else if (a == "--height")
            o.height = number(i);
        else if (a == "--no-vsync")
            o.vsync = false;
        else if (a == "--pan")
            o.pan = float(number(i));
        else if (a == "--check-redraw")
            o.check_redraw = true;
        else if (a == "--page")
            o.page = number(i);
        else if (a == "--step") {
            o.explain_step = number(i);
            if (o.explain_step > 4) throw std::invalid_argument("--step wants 1, 2, 3 or 4");
        } else if (a == "--conv")
            o.explain_conv = number(i);
        else if (a == "--pixel") {
            auto p = parse_ints(value(i), 3, "--pixel wants CHANNEL,Y,X");
            o.pixel = {p[0], p[1], p[2]};
        } else if (a == "--hover") {
            auto p = parse_ints(value(i), 2, "--hover wants OUTPUT,INPUT");
            o.hover = {p[0], p[1]};
        } else if (a == "--step-cycle")
            o.step_cycle = true;
        else if (a == "--zoom")
            o.explain_zoom = number(i);
        else if (a == "--keys") {
            std::string v = value(i) + ",";
            for (size_t at = 0, comma; (comma = v.find(',', at)) != std::string::npos;
                 at = comma + 1) {
                o.keys.push_back(v.substr(at, comma - at));
                if (o.keys.back() != "left" && o.keys.back() != "right")
                    throw std::invalid_argument("--keys wants left and right, comma-separated");
            }
        } else if (a == "--click-reserved")
            o.click_reserved = number(i) - 1;
        else if (a == "--export-explain")
            o.export_explain = value(i);
        else if (a == "--drop")
            o.drop.push_back(value(i));
        else if (a == "--browse")
            o.browse = value(i);
        else if (a == "--pick")
            o.pick = value(i);
        else if (a == "--sweep")
            o.sweep = true;
        else if (a == "--sweep-images")
            o.sweep_images = number(i);
        else if (a == "--sweep-points")
            o.sweep_points = number(i);
        else if (a == "--prune-open")
            o.prune_open = value(i);
        else if (!a.empty() && a[0] == '-')
            throw std::invalid_argument("unknown option " + a);
        else if (!have_model) {
            o.model = a;
            have_model = true;
        } else
            throw std::invalid_argument("unexpected argument '" + a + "'");
    }
    if (o.tab == "features")
        o.tab = "Feature maps";
    else if (o.tab == "timing")
        o.tab = "Timing";
    else if (o.tab == "input")
        o.tab = "Input";
    else if (o.tab == "explain")
        o.tab = "Explain";
    else if (o.tab == "pruning")
        o.tab = "Pruning";
    else if (!o.tab.empty())
        throw std::invalid_argument("--tab wants features, timing, input, explain or pruning");
    if (!o.prune_open.empty() && !o.sweep)
        throw std::invalid_argument("--prune-open needs --sweep");
    if (!o.browse.empty() && o.browse != "model" && o.browse != "image" && o.browse != "report")
        throw std::invalid_argument("--browse wants model, image or report");
    if (o.browse.empty() != o.pick.empty())
        throw std::invalid_argument("--browse and --pick go together");
    if (o.frames == 0 && (!o.screenshot.empty() || !o.dump_state.empty())) o.frames = 10;
    return o;
}

int gui_main(const std::vector<std::string>& args) {
    for (const auto& a : args)
        if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
    GuiOptions options;
    try {
        options = parse_gui_options(args);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "rmvk gui: %s\n%s", e.what(), kUsage);
        return 2;
    }
    // The app prepares a graph's device weights, runs, and frees them again, one runner after
    // another: with glibc's sliding mmap threshold those blocks came from the heap and stayed
    // resident after free. A fixed threshold maps every block over 1 MiB on its own, so a free
    // gives it back to the system.
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    return run_app(options);
}

}  // namespace rmvk::ui
