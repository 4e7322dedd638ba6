#pragma once
// An RGBA8 image on the window's device with its own descriptor set, drawn through
// Renderer::draw_image. Destruction is deferred until frames using it have finished.
#include <vulkan/vulkan.h>

#include <cstdint>
#include <vector>

#include "ui/host_buffer.hpp"

namespace rmvk::ui {

class Renderer;

class Texture {
  public:
    // Uploads `rgba` (width*height*4 bytes, top row first).
    Texture(Renderer& renderer, int width, int height, const std::vector<uint8_t>& rgba);
    ~Texture();
    Texture(const Texture&) = delete;
    Texture& operator=(const Texture&) = delete;

    int width() const { return width_; }
    int height() const { return height_; }
    VkDescriptorSet descriptor_set() const { return set_; }
    uint64_t serial() const { return serial_; }

  private:
    Renderer& renderer_;
    int width_, height_;
    UniqueImage image_;
    UniqueMemory memory_;
    UniqueImageView view_;
    VkDescriptorSet set_ = VK_NULL_HANDLE;
    uint64_t serial_ = 0;
};

}  // namespace rmvk::ui
