#pragma once
// Host-visible buffers for the window (staging uploads, screenshot read-back).
#include <vulkan/vulkan.h>

#include "app/vulkan/vk_handle.hpp"
#include "app/vulkan/vulkan_error.hpp"

namespace rmvk::ui {

// Memory type index with the wanted properties, or throws VulkanError.
uint32_t find_memory_type(VkPhysicalDevice physical, uint32_t type_bits,
                          VkMemoryPropertyFlags wanted);

// A buffer with its own memory (staging and read-back buffers).
struct OwnedBuffer {
    UniqueBuffer buffer;
    UniqueMemory memory;
    VkDeviceSize size = 0;
};
OwnedBuffer make_host_buffer(VkDevice device, VkPhysicalDevice physical, VkDeviceSize size,
                             VkBufferUsageFlags usage);

}  // namespace rmvk::ui
