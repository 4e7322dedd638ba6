#pragma once
// The window's Vulkan renderer: instance, device, swapchain, render pass, frames in flight,
// the ImGui Vulkan backend, textured quads for images, and swapchain read-back for screenshots.
#include <vulkan/vulkan.h>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ui/damage.hpp"
#include "ui/host_buffer.hpp"

struct GLFWwindow;
struct ImDrawData;
struct ImDrawList;
struct ImDrawCmd;
struct ImVec2;

namespace rmvk::ui {

class Texture;

// Where one frame's time went on the CPU side, summed over frames (ms); the steady-state
// mean tells whether a slow frame waits on rendering (fence), the window system (acquire,
// present) or recording.
struct FrameCosts {
    double wait_ms = 0, acquire_ms = 0, record_ms = 0, submit_ms = 0, present_ms = 0;
    double redrawn_pixels = 0;  // damaged area redrawn (the rest of the window is kept)
    int frames = 0;
};

// One textured rectangle: screen pixels [p0, p1] showing texture coordinates [uv0, uv1].
struct ImageQuad {
    float x0, y0, x1, y1;
    float u0, v0, u1, v1;
};

// Pixels read back from the last rendered swapchain image, RGBA8, top row first.
struct Screenshot {
    int width = 0, height = 0;
    std::vector<uint8_t> rgba;
    int redraw_mismatch =
        -1;  // pixels where the partial redraw differs from a whole one (-1: not checked)
};

class Renderer {
  public:
    Renderer(GLFWwindow* window, bool vsync);
    ~Renderer();
    Renderer(const Renderer&) = delete;
    Renderer& operator=(const Renderer&) = delete;

    // Starts the ImGui backend frame; false while the window is minimised.
    bool begin_frame();
    // Renders ImGui's draw data and presents. With `capture`, also returns the frame's pixels.
    // False when the frame could not be presented (swapchain out of date: it is rebuilt).
    bool end_frame(ImDrawData* draw_data, Screenshot* capture = nullptr);

    // Destroys `release` once the GPU can no longer be using this frame's objects.
    void defer_release(std::function<void()> release);

    // Draws `texture` into `list` over [p0, p1] (screen pixels) with uv sub-rect [uv0, uv1].
    void draw_image(ImDrawList* list, const Texture& texture, ImVec2 p0, ImVec2 p1, ImVec2 uv0,
                    ImVec2 uv1);
    // Draws many parts of one texture in a single draw, at this point of `list`: what the
    // list gets after this call is drawn on top.
    void draw_images(ImDrawList* list, const Texture& texture, const std::vector<ImageQuad>& quads);

    const FrameCosts& costs() const { return costs_; }
    // Captured frames are also drawn whole and compared with the partial redraw (a test of
    // damage tracking; see Screenshot::redraw_mismatch).
    void set_check_redraw(bool on) { check_redraw_ = on; }
    void reset_costs() { costs_ = {}; }

    VkDevice device() const { return device_; }
    VkPhysicalDevice physical() const { return physical_; }
    VkDescriptorPool descriptor_pool() const { return descriptor_pool_; }
    VkDescriptorSetLayout image_set_layout() const { return image_set_layout_; }
    VkSampler sampler() const { return sampler_; }
    std::string device_name() const;
    // Records and runs `record` on the graphics queue, waiting for it (texture uploads).
    void submit_now(const std::function<void(VkCommandBuffer)>& record);
    // A number no other texture of this renderer had: descriptor sets are reused after a
    // texture is freed, so damage tracking tells images apart by this instead.
    uint64_t new_texture_serial() { return ++texture_serial_; }

    // One deferred image draw inside an ImGui command list.
    struct ImageDraw {
        Renderer* renderer = nullptr;
        VkDescriptorSet set = VK_NULL_HANDLE;
        uint32_t first = 0, count = 0;  // quads in image_quads_
    };

  private:
    struct Frame;
    void create_device();
    void create_swapchain();
    DamageRect find_damage(ImDrawData* draw_data);
    void draw_into_image(Frame& frame, ImDrawData* draw_data, DamageRect damage, bool fresh);
    OwnedBuffer read_image(VkCommandBuffer cmd);  // the acquired image's pixels (after this point)
    std::vector<uint8_t> mapped_bytes(const OwnedBuffer& buffer);
    void create_image_pipeline();
    void init_imgui();
    void recreate_swapchain();
    void upload_image_quads(Frame& frame);
    static void image_callback(const ImDrawList* list, const ImDrawCmd* cmd);

    struct Frame {
        UniqueCommandPool pool;
        VkCommandBuffer cmd = VK_NULL_HANDLE;
        UniqueFence fence;
        UniqueSemaphore acquired;
        UniqueSemaphore rendered;
        OwnedBuffer instances;  // this frame's image quads (host-visible, mapped)
        void* instances_mapped = nullptr;
        std::vector<std::function<void()>> garbage;
    };
    struct SwapImage {
        VkImage image = VK_NULL_HANDLE;
        UniqueImageView view;
        UniqueFramebuffer framebuffer;
        uint64_t drawn_at =
            0;  // frame_serial_ of its last frame; 0: never drawn (contents undefined)
    };
    static constexpr size_t kDamageHistory = 8;

    GLFWwindow* window_;
    bool vsync_;
    UniqueInstance instance_;
    UniqueSurface surface_;
    VkPhysicalDevice physical_ = VK_NULL_HANDLE;
    UniqueDevice device_;
    uint32_t queue_family_ = 0;
    VkQueue queue_ = VK_NULL_HANDLE;
    VkSurfaceFormatKHR format_{};
    UniqueRenderPass render_pass_;  // keeps the image's contents
    UniqueRenderPass fresh_pass_;   // for an image never drawn into
    UniqueSwapchain swapchain_;
    VkExtent2D extent_{};
    std::vector<SwapImage> images_;
    DamageTracker damage_;
    std::deque<DamageRect> history_;  // what each recent frame changed, newest first
    uint64_t frame_serial_ = 0;
    CallbackItems image_items_;  // this frame's image quads per draw list, for damage tracking
    uint64_t texture_serial_ = 0;
    uint32_t min_image_count_ = 2;
    UniqueDescriptorPool descriptor_pool_;
    UniqueSetLayout image_set_layout_;
    UniquePipelineLayout image_layout_;
    UniquePipeline image_pipeline_;
    UniqueSampler sampler_;
    std::array<Frame, 2> frames_;
    size_t frame_index_ = 0;
    uint32_t image_index_ = 0;
    bool imgui_ready_ = false;
    VkCommandBuffer recording_ = VK_NULL_HANDLE;
    float fb_scale_x_ = 1, fb_scale_y_ = 1;
    std::vector<std::function<void()>> pending_;  // released after the next submitted frame
    std::deque<ImageDraw> image_draws_;           // stable addresses for callback data
    std::vector<float> image_quads_;              // 8 floats per quad (NDC rect, uv), this frame
    VkBuffer instance_buffer_ = VK_NULL_HANDLE;   // the recording frame's copy of image_quads_
    FrameCosts costs_;
    bool check_redraw_ = false;
};

}  // namespace rmvk::ui
