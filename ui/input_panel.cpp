#include "ui/input_panel.hpp"

#include <imgui.h>

#include <algorithm>
#include <filesystem>

#include "ui/renderer.hpp"
#include "ui/texture.hpp"
#include "ui/theme.hpp"

namespace rmvk::ui {

namespace {

std::unique_ptr<Texture> image_texture(Renderer& r, const rm::Image& image) {
    if (image.width <= 0 || image.height <= 0 || image.channels <= 0) return nullptr;
    std::vector<uint8_t> rgba(size_t(image.width) * size_t(image.height) * 4, 255);
    for (size_t i = 0; i < size_t(image.width) * size_t(image.height); ++i) {
        const uint8_t* px = &image.pixels[i * size_t(image.channels)];
        bool gray = image.channels < 3;
        rgba[i * 4 + 0] = px[0];
        rgba[i * 4 + 1] = gray ? px[0] : px[1];
        rgba[i * 4 + 2] = gray ? px[0] : px[2];
    }
    return std::make_unique<Texture>(r, image.width, image.height, rgba);
}

// Each channel stretched to its own range; one channel is grey, three are RGB.
std::unique_ptr<Texture> tensor_texture(Renderer& r, const rm::Tensor& t) {
    if (t.shape.size() != 4) return nullptr;
    int c = int(t.shape[1]), h = int(t.shape[2]), w = int(t.shape[3]);
    size_t hw = size_t(h) * size_t(w);
    std::vector<uint8_t> rgba(hw * 4, 255);
    for (int k = 0; k < 3; ++k) {
        int src = std::min(k, c - 1);
        const float* p = t.data.data() + size_t(src) * hw;
        auto [lo, hi] = std::minmax_element(p, p + hw);
        float range = *hi - *lo;
        for (size_t i = 0; i < hw; ++i)
            rgba[i * 4 + size_t(k)] = uint8_t(range > 0 ? 255.0f * (p[i] - *lo) / range : 128.0f);
    }
    return std::make_unique<Texture>(r, w, h, rgba);
}

}  // namespace

InputPanel::InputPanel(Renderer& renderer) : renderer_(renderer) {}
InputPanel::~InputPanel() = default;

void InputPanel::draw(const AppState& state) {
    if (!state.runs || !state.model) {
        ImGui::TextDisabled("no input yet");
        return;
    }
    if (shown_ != state.runs.get()) {
        shown_ = state.runs.get();
        original_ = image_texture(renderer_, state.runs->image);
        preprocessed_ = tensor_texture(renderer_, state.runs->input);
    }
    const auto& pre = state.model->preprocessing;
    ImVec2 avail = ImGui::GetContentRegionAvail();
    float side = std::min((avail.x - 24) / 2, avail.y - 70);
    auto show = [&](const char* title, const Texture* tex, const std::string& caption) {
        ImGui::BeginGroup();
        ImGui::TextColored(theme::kAccent, "%s", title);
        ImGui::TextDisabled("%s", caption.c_str());
        if (tex) {
            float scale = side / float(std::max(tex->width(), tex->height()));
            ImVec2 p0 = ImGui::GetCursorScreenPos();
            ImVec2 p1(p0.x + float(tex->width()) * scale, p0.y + float(tex->height()) * scale);
            renderer_.draw_image(ImGui::GetWindowDrawList(), *tex, p0, p1, {0, 0}, {1, 1});
            ImGui::Dummy({side, side});
        } else {
            ImGui::Dummy({side, side});
        }
        ImGui::EndGroup();
    };
    std::string name = state.runs->image_path.empty()
                           ? "synthetic pattern (no image)"
                           : std::filesystem::path(state.runs->image_path).filename().string();
    show("As loaded", original_.get(),
         name + (original_ ? "  " + std::to_string(state.runs->image.width) + "x" +
                                 std::to_string(state.runs->image.height) + "x" +
                                 std::to_string(state.runs->image.channels)
                           : ""));
    ImGui::SameLine(0, 24);
    char caption[160];
    std::snprintf(caption, sizeof(caption), "%s  resize %lld, mean/std normalised%s",
                  rm::to_string(state.runs->input.shape).c_str(),
                  static_cast<long long>(pre.resize_shorter), pre.invert ? ", inverted" : "");
    show("As preprocessed (per-channel stretch)", preprocessed_.get(), caption);
}

}  // namespace rmvk::ui
