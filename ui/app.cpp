#include "ui/app.hpp"

#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>
#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "app/vulkan/vulkan_error.hpp"
#include "rm/model_loader.hpp"
#include "ui/app_impl.hpp"

namespace rmvk::ui {

namespace fs = std::filesystem;

namespace {

std::string lower_ext(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    return ext;
}

}  // namespace

App::App(const GuiOptions& options)
    : options_(options),
      window_(options.width, options.height),
      imgui_(window_.get()),
      renderer_(window_.get(), options.vsync),
      feature_maps_(renderer_),
      input_panel_(renderer_),
      explain_(renderer_) {
    renderer_.set_check_redraw(options.check_redraw);
    glfwSetWindowUserPointer(window_.get(), this);
    glfwSetDropCallback(window_.get(), [](GLFWwindow* w, int count, const char** paths) {
        auto* app = static_cast<App*>(glfwGetWindowUserPointer(w));
        for (int i = 0; i < count; ++i) app->dropped_.push_back(paths[i]);
    });
    devices_ = {kCpuDevice};
    try {
        devices_ = device_choices();
    } catch (const std::exception& e) {
        report_error("listing Vulkan compute devices", e.what());
    }
    state_.device = pick_start_device(options.device);
    if (!options.precision.empty()) state_.precision = rmvk::parse_precision(options.precision);
    active_tab_request_ = options.tab;
    state_.image_path = options.image;
    start_load(options.model, options.image);
}

App::~App() {
    // Finish any job before the panels and renderer go away.
    while (worker_.running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

int App::run() {
    using Clock = std::chrono::steady_clock;
    auto started = Clock::now();
    std::vector<double> frame_ms;
    auto last = Clock::now();
    while (!glfwWindowShouldClose(window_.get())) {
        glfwPollEvents();
        handle_jobs();
        handle_drops();
        if (!renderer_.begin_frame()) {
            glfwWaitEventsTimeout(0.05);
            continue;
        }
        auto build_start = Clock::now();
        script_frame();
        ImGui::NewFrame();
        draw_ui();
        ImGui::Render();
        double build_ms =
            std::chrono::duration<double, std::milli>(Clock::now() - build_start).count();
        bool settled_now = settled();
        bool last_frame = script_.is_last_frame(settled_now, frames_done_);
        Screenshot shot;
        bool capture = last_frame && (!options_.screenshot.empty() || options_.check_redraw);
        bool presented = renderer_.end_frame(ImGui::GetDrawData(), capture ? &shot : nullptr);
        auto now = Clock::now();
        if (presented && pruning_.busy()) ++frames_while_sweeping_;
        // fps counts frames that reached the window.
        if (settled_now && presented) {
            ++frames_done_;
            // The first frames after loading build textures; measure the steady state.
            if (frames_done_ == 3) renderer_.reset_costs();
            if (frames_done_ > 3) {
                frame_ms.push_back(std::chrono::duration<double, std::milli>(now - last).count());
                ui_ms_sum_ += build_ms;
                ++ui_ms_count_;
            }
        }
        last = now;
        if (!frame_ms.empty()) {
            double sum = 0;
            for (double v : frame_ms) sum += v;
            fps_ = 1000.0 * double(frame_ms.size()) / sum;
        }
        if (last_frame && presented) return finish_script(shot);
        if (script_.scripted() &&
            std::chrono::duration<double>(now - started).count() > StartupScript::kGiveUpSeconds) {
            std::fprintf(stderr, "rmvk gui: gave up waiting for background work after 900 s\n");
            return 1;
        }
    }
    return 0;
}

std::string App::pick_start_device(const std::string& wanted) {
    std::string w = wanted;
    std::transform(w.begin(), w.end(), w.begin(), ::tolower);
    if (w == "cpu" || w == "cpu reference") return kCpuDevice;
    if (!wanted.empty()) return wanted;
    // Default: the first Vulkan compute device, else the CPU reference.
    return devices_.size() > 1 ? devices_[1] : std::string(kCpuDevice);
}

void App::report_error(const std::string& what, const std::string& message) {
    std::string line = what + ": " + message;
    state_.errors.push_back(line);
    modal_errors_.push_back(line);
    std::fprintf(stderr, "rmvk gui: %s\n", line.c_str());
}

void App::start_load(const std::string& model_spec, const std::string& image) {
    std::string device = state_.device;
    const rmvk::Precision precision = state_.precision;
    std::string title =
        "Opening " + (model_spec.empty() ? std::string("the bundled model") : model_spec);
    worker_.start(title, [model_spec, image, device, precision](Progress& progress) {
        JobResult r;
        r.model = load_model_for_ui(model_spec, progress);
        r.warnings = r.model->warnings;
        std::string img = image.empty() ? default_image_for(*r.model) : image;
        auto run = [&](const std::string& dev) {
            try {
                return run_both(r.model, img, dev, 1, progress, precision);
            } catch (const std::exception&) {
                if (!image.empty() || img.empty()) throw;
                // The bundled sample may not fit a builtin model's input: use a synthetic one.
                return run_both(r.model, "", dev, 1, progress, precision);
            }
        };
        try {
            r.runs = run(device);
        } catch (const std::exception& e) {
            if (device == kCpuDevice) throw;
            // Keep the app useful when the GPU path fails: show the CPU reference, say why.
            r.warnings.push_back("running on " + device + " failed (" + e.what() +
                                 "); showing the CPU reference");
            r.runs = run(kCpuDevice);
        }
        return r;
    });
}

void App::start_run(const std::string& image, const std::string& device, int repeats) {
    if (!state_.model) return;
    auto model = state_.model;
    const rmvk::Precision precision = state_.precision;
    worker_.start("Running both graphs on " + device,
                  [model, image, device, repeats, precision](Progress& progress) {
                      JobResult r;
                      r.runs = run_both(model, image, device, repeats, progress, precision);
                      return r;
                  });
}

// Opens the model pruned at the chosen sweep point in the plain pane and runs both graphs.
void App::start_prune(const PruneRequest& req) {
    if (!state_.model) return;
    auto model = state_.model;
    const std::string image = state_.image_path, device = state_.device;
    const rmvk::Precision precision = state_.precision;
    worker_.start(std::string("Pruning the ") + rm::prune_mode_name(req.mode) + " graph",
                  [model, req, image, device, precision](Progress& progress) {
                      JobResult r;
                      r.model = prune_model_for_ui(*model, req.mode, req.threshold, progress);
                      r.runs = run_both(r.model, image, device, 1, progress, precision);
                      return r;
                  });
}

void App::choose_plain_exec(PlainExec exec) {
    state_.plain_exec = exec;
    if (exec == PlainExec::Dense && !state_.plain_dense && state_.runs) start_dense_timing();
    if (state_.runs) rebuild_time_maps();
}

void App::start_dense_timing() {
    if (worker_.busy()) {  // the control is disabled then: nothing to start
        state_.plain_exec = PlainExec::Structured;
        return;
    }
    auto model = state_.model;
    auto runs = state_.runs;
    dense_job_ = timing_setup(state_);
    state_.plain_dense_measuring = true;
    state_.plain_dense_error.clear();
    worker_.start(
        "Timing the plain graph dense on " + runs->device,
        [model, runs](Progress& p) {
            JobResult r;
            r.plain_dense = std::make_shared<const GraphRun>(time_plain_dense(model, *runs, p));
            return r;
        },
        JobKind::DenseTiming);
}

void App::take_dense_result(const JobResult& done) {
    if (done.kind == JobKind::DenseTiming && dense_job_) {
        state_.plain_dense_measuring = false;
        if (!done.error.empty()) {
            // One line in the Timing tab (and the session's errors); the structured bars stay.
            std::string line = done.error.substr(0, done.error.find('\n'));
            state_.plain_dense_error = line;
            state_.plain_dense_setup = *dense_job_;
            state_.plain_exec = PlainExec::Structured;
            state_.errors.push_back(done.what + ": " + line);
            std::fprintf(stderr, "rmvk gui: %s: %s\n", done.what.c_str(), line.c_str());
        } else if (done.plain_dense && *dense_job_ == timing_setup(state_)) {
            state_.plain_dense = done.plain_dense;
            state_.plain_dense_setup = *dense_job_;
        }
        dense_job_.reset();
    }
    // "Run N times" keeps it; another model, image, device or storage does not.
    const bool held = state_.plain_dense || !state_.plain_dense_error.empty();
    if (held && !(state_.plain_dense_setup == timing_setup(state_))) {
        state_.plain_dense.reset();
        state_.plain_dense_setup = {};  // holds the model it was measured for
        state_.plain_dense_error.clear();
        state_.plain_exec = PlainExec::Structured;
    }
    if (state_.runs) rebuild_time_maps();
}

void App::handle_jobs() {
    auto done = worker_.poll();
    if (!done) return;
    last_job_.what = done->what;
    last_job_.seconds = done->seconds;
    last_job_.stages = done->stages;
    for (const auto& w : done->warnings) {
        state_.warnings.push_back(w);
        std::fprintf(stderr, "rmvk gui: warning: %s\n", w.c_str());
    }
    if (done->kind == JobKind::DenseTiming) {
        take_dense_result(*done);
    } else if (!done->error.empty()) {
        report_error(done->what, done->error);
    } else {
        bool new_model = done->model != nullptr;
        if (new_model) {
            state_.model = done->model;
            show_graphs();
        }
        if (done->runs) {
            state_.runs = done->runs;
            state_.device = done->runs->device;
            state_.image_path = done->runs->image_path;
            rebuild_time_maps();
        }
        if (new_model) select_start_node();
        take_dense_result(*done);
    }
    advance_script(*done);
}

// One at a time, each once the work before it is done: a model and an image dropped
// together open the model, then run the image on it.
void App::handle_drops() {
    while (!dropped_.empty() && !worker_.busy()) {
        std::string path = dropped_.front();
        dropped_.erase(dropped_.begin());
        open_path(path);
    }
}

void App::open_browser(FileBrowser::Purpose purpose) {
    std::string here = fs::current_path().string();
    if (purpose == FileBrowser::Purpose::Model)
        browser_.open(purpose, "Open an ONNX model", {".onnx"}, here);
    else if (purpose == FileBrowser::Purpose::Image)
        browser_.open(purpose, "Open an input image", {".png", ".jpg", ".jpeg", ".bmp"},
                      (fs::path(rm::asset_dir()) / "samples").string());
    else
        browser_.open(purpose, "Load a bench report (rmvk bench --json)", {".json"}, here);
}

void App::open_path(const std::string& path) {
    std::string ext = lower_ext(path);
    if (ext == ".json") {
        try {
            timing_.load_report(path);
            active_tab_request_ = "Timing";
        } catch (const std::exception& e) {
            report_error("Loading bench report " + path, e.what());
        }
    } else if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp") {
        if (worker_.busy()) return;
        start_run(path, state_.device, 1);
    } else {
        if (worker_.busy()) return;
        start_load(path, state_.image_path);
    }
}

int run_app(const GuiOptions& options) {
    try {
        App app(options);
        return app.run();
    } catch (const VulkanError& e) {
        std::fprintf(stderr, "rmvk gui: error: %s\n", e.what());
        return 1;
    }
}

}  // namespace rmvk::ui
