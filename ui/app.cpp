#include "ui/app.hpp"

#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <imgui.h>
#include <stb_image_write.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "rm/model_loader.hpp"
#include "rm/resnet_builder.hpp"
#include "ui/app_state.hpp"
#include "ui/explain_panel.hpp"
#include "ui/feature_maps_panel.hpp"
#include "ui/file_browser.hpp"
#include "ui/graph_view.hpp"
#include "ui/input_panel.hpp"
#include "ui/panels.hpp"
#include "ui/pruning_panel.hpp"
#include "ui/renderer.hpp"
#include "ui/resident_memory.hpp"
#include "ui/state_dump.hpp"
#include "ui/theme.hpp"
#include "ui/timing_panel.hpp"
#include "ui/worker.hpp"

namespace rmvk::ui {

namespace fs = std::filesystem;

namespace {

// GLFW is process-wide; this owns its init/terminate and the window.
class Window {
  public:
    Window(int width, int height) {
        glfwSetErrorCallback([](int, const char* message) {
            std::fprintf(stderr, "rmvk gui: GLFW: %s\n", message);
        });
        if (!glfwInit())
            throw VulkanError(
                "cannot open a window: no display (set DISPLAY, or run under xvfb-run)");
        glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
        window_ =
            glfwCreateWindow(width, height, "rmvk - residual vs plain (RM)", nullptr, nullptr);
        if (!window_) {
            glfwTerminate();
            throw VulkanError("cannot create a window on this display");
        }
    }
    ~Window() {
        glfwDestroyWindow(window_);
        glfwTerminate();
    }
    Window(const Window&) = delete;
    Window& operator=(const Window&) = delete;
    GLFWwindow* get() const { return window_; }

  private:
    GLFWwindow* window_ = nullptr;
};

// ImGui context + GLFW backend, torn down in the right order.
class ImGuiSession {
  public:
    explicit ImGuiSession(GLFWwindow* window) {
        IMGUI_CHECKVERSION();
        ImGui::CreateContext();
        ImGui::GetIO().IniFilename =
            nullptr;  // layout is fixed; no files written beside the user's
        theme::apply_style();
        ImGui_ImplGlfw_InitForVulkan(window, true);
    }
    ~ImGuiSession() {
        ImGui_ImplGlfw_Shutdown();
        ImGui::DestroyContext();
    }
    ImGuiSession(const ImGuiSession&) = delete;
    ImGuiSession& operator=(const ImGuiSession&) = delete;
};

BlockMembership residual_blocks(const LoadedModel& m) {
    BlockMembership out;
    for (const auto& b : m.rm.blocks) {
        for (const auto& n : b.main_nodes) out[n] = b.name;
        for (const auto& n : b.shortcut_nodes) out[n] = b.name;
        if (!b.add_node.empty()) out[b.add_node] = b.name;
        if (!b.relu_node.empty()) out[b.relu_node] = b.name;
    }
    return out;
}

BlockMembership plain_blocks(const LoadedModel& m) {
    BlockMembership out;
    for (const auto& [node, origin] : m.rm.mapping)
        if (!origin.block.empty()) out[node] = origin.block;
    return out;
}

std::string lower_ext(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    return ext;
}

class App {
  public:
    explicit App(const GuiOptions& options)
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
        active_tab_request_ = options.tab;
        state_.image_path = options.image;
        start_load(options.model, options.image);
    }

    ~App() {
        // Finish any job before the panels and renderer go away.
        while (worker_.busy()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }

    int run() {
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
            if (scripted() && options_.pan != 0 && startup_done() && !worker_.busy()) {
                residual_view_.pan_by(0, -options_.pan);
            }
            if (scripted() && options_.step_cycle && startup_done() && !worker_.busy())
                explain_.next_step();
            if (scripted() && startup_done() && !worker_.busy()) press_scripted_key();
            ImGui::NewFrame();
            draw_ui();
            ImGui::Render();
            double build_ms =
                std::chrono::duration<double, std::milli>(Clock::now() - build_start).count();
            bool settled = !worker_.busy() && startup_done() && dropped_.empty() &&
                           !browser_.scripted() && !pruning_.busy() &&
                           !(options_.sweep && !sweep_started_) && !pruning_.script_pending();
            bool last_frame = scripted() && settled && frames_done_ + 1 >= options_.frames;
            Screenshot shot;
            bool capture = last_frame && (!options_.screenshot.empty() || options_.check_redraw);
            bool presented = renderer_.end_frame(ImGui::GetDrawData(), capture ? &shot : nullptr);
            auto now = Clock::now();
            if (presented && pruning_.busy()) ++frames_while_sweeping_;
            // fps counts frames that reached the window.
            if (settled && presented) {
                ++frames_done_;
                // The first frames after loading build textures; measure the steady state.
                if (frames_done_ == 3) renderer_.reset_costs();
                if (frames_done_ > 3) {
                    frame_ms.push_back(
                        std::chrono::duration<double, std::milli>(now - last).count());
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
            if (scripted() && std::chrono::duration<double>(now - started).count() > 900) {
                std::fprintf(stderr, "rmvk gui: gave up waiting for background work after 900 s\n");
                return 1;
            }
        }
        return 0;
    }

  private:
    bool scripted() const { return options_.frames > 0; }
    bool startup_done() const { return startup_ == Startup::Done; }

    std::string pick_start_device(const std::string& wanted) {
        std::string w = wanted;
        std::transform(w.begin(), w.end(), w.begin(), ::tolower);
        if (w == "cpu" || w == "cpu reference") return kCpuDevice;
        if (!wanted.empty()) return wanted;
        // Default: the first Vulkan compute device, else the CPU reference.
        return devices_.size() > 1 ? devices_[1] : std::string(kCpuDevice);
    }

    void report_error(const std::string& what, const std::string& message) {
        std::string line = what + ": " + message;
        state_.errors.push_back(line);
        modal_errors_.push_back(line);
        std::fprintf(stderr, "rmvk gui: %s\n", line.c_str());
    }

    void start_load(const std::string& model_spec, const std::string& image) {
        std::string device = state_.device;
        std::string title =
            "Opening " + (model_spec.empty() ? std::string("the bundled model") : model_spec);
        worker_.start(title, [model_spec, image, device](Progress& progress) {
            JobResult r;
            r.model = load_model_for_ui(model_spec, progress);
            r.warnings = r.model->warnings;
            std::string img = image.empty() ? default_image_for(*r.model) : image;
            auto run = [&](const std::string& dev) {
                try {
                    return run_both(r.model, img, dev, 1, progress);
                } catch (const std::exception&) {
                    if (!image.empty() || img.empty()) throw;
                    // The bundled sample may not fit a builtin model's input: use a synthetic one.
                    return run_both(r.model, "", dev, 1, progress);
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

    void start_run(const std::string& image, const std::string& device, int repeats) {
        if (!state_.model) return;
        auto model = state_.model;
        worker_.start("Running both graphs on " + device,
                      [model, image, device, repeats](Progress& progress) {
                          JobResult r;
                          r.runs = run_both(model, image, device, repeats, progress);
                          return r;
                      });
    }

    // Opens the model pruned at the chosen sweep point in the plain pane and runs both graphs.
    void start_prune(const PruneRequest& req) {
        if (!state_.model) return;
        auto model = state_.model;
        const std::string image = state_.image_path, device = state_.device;
        worker_.start(std::string("Pruning the ") + rm::prune_mode_name(req.mode) + " graph",
                      [model, req, image, device](Progress& progress) {
                          JobResult r;
                          r.model = prune_model_for_ui(*model, req.mode, req.threshold, progress);
                          r.runs = run_both(r.model, image, device, 1, progress);
                          return r;
                      });
    }

    void handle_jobs() {
        auto done = worker_.poll();
        if (!done) return;
        last_job_.what = done->what;
        last_job_.seconds = done->seconds;
        last_job_.stages = done->stages;
        for (const auto& w : done->warnings) {
            state_.warnings.push_back(w);
            std::fprintf(stderr, "rmvk gui: warning: %s\n", w.c_str());
        }
        if (!done->error.empty()) {
            report_error(done->what, done->error);
        } else {
            bool new_model = done->model != nullptr;
            if (new_model) {
                state_.model = done->model;
                residual_view_.set_graph({&state_.model->residual, &state_.model->residual_shapes,
                                          nullptr, residual_blocks(*state_.model)});
                plain_view_.set_graph(
                    {&state_.model->rm.plain, &state_.model->plain_shapes,
                     &state_.model->rm.mapping, plain_blocks(*state_.model),
                     state_.model->pruned ? &state_.model->pruned->notes : nullptr});
            }
            if (done->runs) {
                state_.runs = done->runs;
                state_.device = done->runs->device;
                state_.image_path = done->runs->image_path;
                rebuild_time_maps();
            }
            if (new_model) select_start_node();
            // Scripts: once the chosen pruned model is shown, the tab asked for.
            if (new_model && state_.model->pruned && scripted() && !options_.tab.empty())
                active_tab_request_ = options_.tab;
        }
        // Start-up script: the model asked for (or the bundled one when it fails), then
        // --open-after-start, then the scripted frames.
        if (startup_ == Startup::First && !done->error.empty() && !state_.model &&
            !options_.model.empty()) {
            startup_ = Startup::Fallback;
            start_load("", options_.image);
        } else if (startup_ == Startup::First || startup_ == Startup::Fallback) {
            if (!options_.open_after_start.empty() && state_.model) {
                startup_ = Startup::OpenAfter;
                start_load(options_.open_after_start, state_.image_path);
            } else {
                startup_ = Startup::Done;
            }
        } else if (startup_ == Startup::OpenAfter) {
            startup_ = Startup::Done;
        }
        if (startup_ == Startup::Done && options_.sweep && !sweep_started_ && state_.model) {
            sweep_started_ = true;
            pruning_.images = options_.sweep_images;
            pruning_.points = options_.sweep_points;
            pruning_.start(state_.model, state_.device);
            if (!options_.prune_open.empty()) pruning_.script_pick(options_.prune_open);
            active_tab_request_ = "Pruning";  // the pick happens in the view
        }
        if (startup_ == Startup::Done && !page_applied_) {
            page_applied_ = true;
            if (options_.page > 1) feature_maps_.request_page(options_.page - 1);
            if (options_.click_reserved >= 0)
                feature_maps_.request_reserved_pick(options_.click_reserved);
            if (options_.explain_step > 0) explain_.request_step(options_.explain_step);
            if (options_.explain_conv > 0) explain_.request_conv(options_.explain_conv - 1);
            if (options_.explain_zoom > 0) explain_.request_zoom(options_.explain_zoom);
            if (options_.hover[0] >= 0)
                explain_.request_hover(options_.hover[0], options_.hover[1]);
            if (options_.pixel[0] >= 0)
                explain_.request_pixel(options_.pixel[0], options_.pixel[1], options_.pixel[2]);
            dropped_.insert(dropped_.end(), options_.drop.begin(), options_.drop.end());
            if (!options_.browse.empty()) {
                open_browser(options_.browse == "model"   ? FileBrowser::Purpose::Model
                             : options_.browse == "image" ? FileBrowser::Purpose::Image
                                                          : FileBrowser::Purpose::Report);
                browser_.script_pick(options_.pick);
            }
        }
    }

    void rebuild_time_maps() {
        residual_ms_.clear();
        plain_ms_.clear();
        for (const auto& t : state_.runs->residual.timings) residual_ms_[t.node] = t.device_ms;
        for (const auto& t : state_.runs->plain.timings) plain_ms_[t.node] = t.device_ms;
    }

    void select_start_node() {
        const auto& m = *state_.model;
        std::string wanted = options_.select;
        if (!wanted.empty() && !select_applied_) {
            select_applied_ = true;
            if (m.residual.find_node(wanted)) {
                select_residual(wanted, true);
                return;
            }
            if (m.rm.plain.find_node(wanted)) {
                select_plain(wanted, true);
                return;
            }
            report_error("--select",
                         "no node '" + wanted + "' in either graph of " + m.display_name);
        }
        // Show something telling: the first conv of the first converted block (it gains reserved
        // channels).
        for (const auto& b : m.rm.blocks)
            if (b.convertible && !b.main_nodes.empty()) {
                select_residual(b.main_nodes.front(), true);
                return;
            }
        if (!m.residual.nodes.empty()) select_residual(m.residual.nodes.front().name, true);
    }

    void select_residual(const std::string& node, bool focus_both) {
        auto& sel = state_.selection;
        sel.residual = {node};
        sel.residual_primary = node;
        auto plains = rm::plain_nodes_for(state_.model->rm.mapping, node);
        sel.plain = std::set<std::string>(plains.begin(), plains.end());
        sel.plain_primary = plains.empty() ? "" : plains.front();
        if (!sel.plain_primary.empty()) plain_view_.focus(sel.plain_primary);
        if (focus_both) residual_view_.focus(node);
    }

    void select_plain(const std::string& node, bool focus_both) {
        auto& sel = state_.selection;
        sel.plain = {node};
        sel.plain_primary = node;
        sel.residual.clear();
        sel.residual_primary.clear();
        auto it = state_.model->rm.mapping.find(node);
        if (it != state_.model->rm.mapping.end() && !it->second.residual_nodes.empty()) {
            sel.residual.insert(it->second.residual_nodes.begin(), it->second.residual_nodes.end());
            sel.residual_primary = it->second.residual_nodes.back();
            residual_view_.focus(sel.residual_primary);
        }
        if (focus_both) plain_view_.focus(node);
    }

    // --keys: each key held for one frame and released the next, as GLFW reports a tap.
    void press_scripted_key() {
        if (key_index_ >= options_.keys.size()) return;
        const std::string& k = options_.keys[key_index_];
        int key = k == "left" ? GLFW_KEY_LEFT : GLFW_KEY_RIGHT;
        ImGuiIO& io = ImGui::GetIO();
        io.KeysDown[key] = !key_down_;
        if (key_down_) ++key_index_;
        key_down_ = !key_down_;
    }

    // A reserved channel picked in the feature maps: its Dirac row in the conv' that wrote it
    // (the picked node may be the ReLU after that conv).
    void show_dirac_row(const FeatureMapsPanel::ReservedPick& pick) {
        const rm::Graph& plain = state_.model->rm.plain;
        const rm::Node* n = plain.find_node(pick.node);
        while (n && n->op != rm::Op::Conv && !n->inputs.empty()) n = plain.producer(n->inputs[0]);
        if (!n) return;
        explain_.show_row(n->name, pick.channel);
        active_tab_request_ = "Explain";
    }

    // One at a time, each once the work before it is done: a model and an image dropped
    // together open the model, then run the image on it.
    void handle_drops() {
        while (!dropped_.empty() && !worker_.busy()) {
            std::string path = dropped_.front();
            dropped_.erase(dropped_.begin());
            open_path(path);
        }
    }

    void open_browser(FileBrowser::Purpose purpose) {
        std::string here = fs::current_path().string();
        if (purpose == FileBrowser::Purpose::Model)
            browser_.open(purpose, "Open an ONNX model", {".onnx"}, here);
        else if (purpose == FileBrowser::Purpose::Image)
            browser_.open(purpose, "Open an input image", {".png", ".jpg", ".jpeg", ".bmp"},
                          (fs::path(rm::asset_dir()) / "samples").string());
        else
            browser_.open(purpose, "Load a bench report (rmvk bench --json)", {".json"}, here);
    }

    void open_path(const std::string& path) {
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

    void draw_menu() {
        if (!ImGui::BeginMenuBar()) return;
        bool idle = !worker_.busy();
        if (ImGui::BeginMenu("File")) {
            if (ImGui::MenuItem("Open model...", nullptr, false, idle))
                open_browser(FileBrowser::Purpose::Model);
            if (ImGui::MenuItem("Open image...", nullptr, false, idle && state_.model))
                open_browser(FileBrowser::Purpose::Image);
            if (ImGui::MenuItem("Load bench report...")) open_browser(FileBrowser::Purpose::Report);
            ImGui::Separator();
            if (ImGui::MenuItem("Quit", "Ctrl+Q")) glfwSetWindowShouldClose(window_.get(), 1);
            ImGui::EndMenu();
        }
        if (ImGui::BeginMenu("Models")) {
            if (ImGui::MenuItem("Bundled Fashion-MNIST ResNet", nullptr, false, idle))
                start_load("", "");
            ImGui::Separator();
            for (const auto& name : rm::builtin_model_names()) {
                if (ImGui::MenuItem(("builtin:" + name + " (224x224, 1000 classes)").c_str(),
                                    nullptr, false, idle))
                    start_load("builtin:" + name, "");
            }
            if (ImGui::BeginMenu("small variants (64x64, 10 classes)")) {
                for (const auto& name : rm::builtin_model_names())
                    if (ImGui::MenuItem(("builtin:" + name).c_str(), nullptr, false, idle))
                        start_load("builtin:" + name + "?size=64x64&classes=10", "");
                ImGui::EndMenu();
            }
            ImGui::EndMenu();
        }
        if (ImGui::BeginMenu("View")) {
            if (ImGui::MenuItem("Collapse all residual blocks")) {
                residual_view_.set_all_collapsed(true);
                plain_view_.set_all_collapsed(true);
            }
            if (ImGui::MenuItem("Expand all blocks")) {
                residual_view_.set_all_collapsed(false);
                plain_view_.set_all_collapsed(false);
            }
            ImGui::EndMenu();
        }
        ImGui::EndMenuBar();
    }

    void draw_status() {
        if (state_.model) {
            const auto& m = *state_.model;
            ImGui::TextColored(theme::kAccent, "%s", m.display_name.c_str());
            ImGui::SameLine();
            ImGui::TextDisabled("| %zu -> %zu nodes | %d/%zu blocks converted",
                                m.residual.nodes.size(), m.rm.plain.nodes.size(), m.rm.converted,
                                m.rm.blocks.size());
        }
        if (state_.runs) {
            ImGui::SameLine();
            ImGui::TextDisabled("| %s | %s", state_.runs->device.c_str(),
                                state_.runs->image_path.empty()
                                    ? "synthetic input"
                                    : fs::path(state_.runs->image_path).filename().c_str());
            ImGui::SameLine();
            const auto& c = state_.runs->comparison;
            ImGui::TextColored(verdict_colour(c.values.verdict()), "| %s",
                               verdict_label(c.values.verdict()));
        }
        if (!state_.warnings.empty()) {
            ImGui::SameLine();
            ImGui::TextColored(theme::kWarn, "| %zu warning%s", state_.warnings.size(),
                               state_.warnings.size() == 1 ? "" : "s");
            if (ImGui::IsItemHovered()) {
                ImGui::BeginTooltip();
                for (const auto& w : state_.warnings) ImGui::TextUnformatted(w.c_str());
                ImGui::EndTooltip();
            }
        }
        // The process's resident size, re-read twice a second (a /proc read).
        if (const double now = ImGui::GetTime(); now - resident_read_at_ >= 0.5) {
            resident_read_at_ = now;
            resident_ = format_bytes(resident_memory().current_bytes);
        }
        ImGui::SameLine();
        ImGui::TextDisabled("| %s resident", resident_.c_str());
        if (worker_.busy()) {
            ImGui::SameLine();
            const Progress& p = worker_.progress();
            ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x);
            ImGui::ProgressBar(p.fraction, ImVec2(-1, 0), p.get_stage().c_str());
        } else {
            ImGui::SameLine(ImGui::GetWindowWidth() - 150);
            ImGui::TextDisabled("%.0f fps", double(ImGui::GetIO().Framerate));
        }
    }

    void draw_ui() {
        const ImGuiViewport* vp = ImGui::GetMainViewport();
        ImGui::SetNextWindowPos(vp->WorkPos);
        ImGui::SetNextWindowSize(vp->WorkSize);
        ImGuiWindowFlags flags =
            ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_MenuBar |
            ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoSavedSettings |
            ImGuiWindowFlags_NoBackground;  // the clear colour is the background: one fill less
        ImGui::Begin("rmvk", nullptr, flags);
        draw_menu();
        draw_status();
        ImVec2 avail = ImGui::GetContentRegionAvail();
        float left_w = std::floor(avail.x * 0.52f);
        float graphs_h = std::floor(avail.y * 0.70f);

        ImGui::BeginChild("left", {left_w, avail.y}, false);
        float pane_w = (left_w - 6) / 2;
        ImGui::BeginChild("residual_pane", {pane_w, graphs_h}, true,
                          ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse);
        if (auto clicked = residual_view_.draw(state_.selection.residual, residual_ms_))
            select_residual(*clicked, false);
        ImGui::EndChild();
        ImGui::SameLine(0, 6);
        ImGui::BeginChild("plain_pane", {pane_w, graphs_h}, true,
                          ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse);
        if (auto clicked = plain_view_.draw(state_.selection.plain, plain_ms_))
            select_plain(*clicked, false);
        ImGui::EndChild();
        ImGui::BeginChild("properties", {0, 0}, true);
        draw_properties_panel(state_);
        ImGui::EndChild();
        ImGui::EndChild();

        ImGui::SameLine(0, 6);
        ImGui::BeginChild("right", {0, avail.y}, false);
        ImGui::BeginChild("outputs", {0, 196}, true);
        draw_outputs_panel(state_);
        ImGui::EndChild();
        if (ImGui::BeginTabBar("tabs")) {
            auto tab = [&](const char* name) {
                ImGuiTabItemFlags f =
                    active_tab_request_ == name ? ImGuiTabItemFlags_SetSelected : 0;
                bool open = ImGui::BeginTabItem(name, nullptr, f);
                if (open) active_tab_ = name;
                return open;
            };
            if (tab("Feature maps")) {
                feature_maps_.draw(state_);
                if (auto pick = feature_maps_.take_reserved_pick()) show_dirac_row(*pick);
                ImGui::EndTabItem();
            }
            if (tab("Timing")) {
                TimingRequest req = timing_.draw(state_, devices_);
                if (req.open_report) open_browser(FileBrowser::Purpose::Report);
                if (req.run_on_device && !worker_.busy()) {
                    state_.device = *req.run_on_device;
                    start_run(state_.image_path, state_.device, req.repeats);
                }
                ImGui::EndTabItem();
            }
            if (tab("Input")) {
                input_panel_.draw(state_);
                ImGui::EndTabItem();
            }
            if (tab("Explain")) {
                explain_.draw(state_, active_tab_ == "Explain");
                ImGui::EndTabItem();
            }
            if (tab("Pruning")) {
                if (auto req = pruning_.draw(state_); req && !worker_.busy()) start_prune(*req);
                if (!pruning_.script_error().empty() && !pruning_error_shown_) {
                    pruning_error_shown_ = true;
                    report_error("Pruning", pruning_.script_error());
                }
                ImGui::EndTabItem();
            }
            if (ImGui::GetFrameCount() > 2 && active_tab_ == active_tab_request_)
                active_tab_request_.clear();
            ImGui::EndTabBar();
        }
        ImGui::EndChild();

        if (!browser_.script_error().empty()) {
            report_error("File browser", browser_.script_error());
            browser_.clear_script_error();
        }
        if (auto chosen = browser_.draw()) {
            auto purpose = browser_.purpose();
            browser_.close();
            if (purpose == FileBrowser::Purpose::Model && !worker_.busy())
                start_load(*chosen, state_.image_path);
            else if (purpose == FileBrowser::Purpose::Image && !worker_.busy())
                start_run(*chosen, state_.device, 1);
            else if (purpose == FileBrowser::Purpose::Report)
                open_path(*chosen);
        }
        draw_error_modal();
        ImGui::End();
    }

    void draw_error_modal() {
        if (modal_errors_.empty()) return;
        if (!ImGui::IsPopupOpen("Error")) ImGui::OpenPopup("Error");
        ImGui::SetNextWindowSize({560, 0}, ImGuiCond_Appearing);
        if (ImGui::BeginPopupModal("Error", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) {
            ImGui::TextColored(theme::kBad, "Something went wrong");
            ImGui::PushTextWrapPos(540);
            ImGui::TextUnformatted(modal_errors_.front().c_str());
            ImGui::PopTextWrapPos();
            ImGui::TextDisabled(state_.model ? "The previous model and results are kept." : "");
            if (ImGui::Button("OK", {120, 0}) ||
                ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Enter))) {
                modal_errors_.erase(modal_errors_.begin());
                ImGui::CloseCurrentPopup();
            }
            ImGui::EndPopup();
        }
    }

    int finish_script(const Screenshot& shot) {
        int rc = 0;
        if (!options_.screenshot.empty()) {
            if (shot.rgba.empty() ||
                !stbi_write_png(options_.screenshot.c_str(), shot.width, shot.height, 4,
                                shot.rgba.data(), shot.width * 4)) {
                std::fprintf(stderr, "rmvk gui: could not write screenshot %s\n",
                             options_.screenshot.c_str());
                rc = 1;
            }
        }
        if (!options_.export_explain.empty() && !explain_.export_png(options_.export_explain)) {
            std::fprintf(stderr, "rmvk gui: could not export the Explain view to %s\n",
                         options_.export_explain.c_str());
            rc = 1;
        }
        if (!options_.dump_state.empty()) {
            ScreenFacts facts;
            facts.explain = explain_.facts(state_);
            facts.feature_maps = &feature_maps_;
            facts.residual_boxes = residual_view_.box_count();
            facts.plain_boxes = plain_view_.box_count();
            facts.residual_drawn = residual_view_.drawn_boxes();
            facts.plain_drawn = plain_view_.drawn_boxes();
            facts.fps = fps_;
            facts.ui_ms = ui_ms_count_ ? ui_ms_sum_ / ui_ms_count_ : 0.0;
            const FrameCosts& c = renderer_.costs();
            double n = std::max(1, c.frames);
            facts.frame_costs = {{"wait", c.wait_ms / n},
                                 {"acquire", c.acquire_ms / n},
                                 {"record", c.record_ms / n},
                                 {"submit", c.submit_ms / n},
                                 {"present", c.present_ms / n}};
            ImVec2 window = ImGui::GetIO().DisplaySize;
            facts.redrawn_share =
                c.redrawn_pixels / n / std::max(1.0, double(window.x) * double(window.y));
            facts.redraw_mismatch = shot.redraw_mismatch;
            facts.browser_open = browser_.purpose() != FileBrowser::Purpose::None;
            facts.browser_dir = browser_.dir();
            facts.browser_dirs = browser_.dirs();
            facts.browser_files = browser_.files();
            facts.report = timing_.report_facts(state_);
            facts.frames = frames_done_;
            facts.busy = worker_.busy();
            facts.last_job = last_job_.what;
            facts.last_job_s = last_job_.seconds;
            facts.last_job_stages = last_job_.stages;
            facts.window_device = renderer_.device_name();
            facts.active_tab = active_tab_;
            facts.sweep_busy = pruning_.busy();
            facts.frames_while_sweeping = frames_while_sweeping_;
            if (const PruneSweep* sw = pruning_.sweep()) {
                facts.sweep_plain_points = static_cast<int>(sw->plain_pruned.size());
                facts.sweep_residual_points = static_cast<int>(sw->residual_pruned.size());
            }
            std::ofstream out(options_.dump_state);
            out << dump_state_json(state_, facts);
            if (!out) {
                std::fprintf(stderr, "rmvk gui: could not write %s\n", options_.dump_state.c_str());
                rc = 1;
            }
        }
        return rc;
    }

    GuiOptions options_;
    Window window_;
    ImGuiSession imgui_;
    Renderer renderer_;
    // Panels own textures: declared after the renderer so they are destroyed first.
    FeatureMapsPanel feature_maps_;
    InputPanel input_panel_;
    ExplainPanel explain_;
    TimingPanel timing_;
    PruningPanel pruning_;
    GraphView residual_view_{"Residual"};
    GraphView plain_view_{"Plain (RM)"};
    FileBrowser browser_;
    AppState state_;
    std::vector<std::string> devices_;
    std::map<std::string, double> residual_ms_, plain_ms_;
    std::vector<std::string> dropped_;
    std::vector<std::string> modal_errors_;
    std::string active_tab_, active_tab_request_;
    std::string resident_;  // the status bar's resident size
    JobResult last_job_;    // the last finished job's title and timing only (the state dump)
    double resident_read_at_ = -1;
    enum class Startup { First, Fallback, OpenAfter, Done };
    Startup startup_ = Startup::First;
    bool select_applied_ = false;
    size_t key_index_ = 0;  // next of options_.keys
    bool key_down_ = false;
    bool page_applied_ = false;
    bool sweep_started_ = false;
    int frames_while_sweeping_ = 0;  // the window kept drawing while the sweep ran
    bool pruning_error_shown_ = false;
    int frames_done_ = 0;
    double fps_ = 0;
    double ui_ms_sum_ = 0;  // CPU time building the UI per frame (rendering excluded)
    int ui_ms_count_ = 0;
    Worker worker_;  // last: joined first, before anything its job might touch
};

}  // namespace

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
