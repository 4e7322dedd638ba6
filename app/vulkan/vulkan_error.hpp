#pragma once
#include <vulkan/vulkan.h>

#include <stdexcept>
#include <string>

namespace rmvk {

// A failed Vulkan call, or no usable device: carries the VkResult name and what was attempted.
class VulkanError : public std::runtime_error {
  public:
    VulkanError(const std::string& what_was_attempted, VkResult result);
    explicit VulkanError(const std::string& message);
    VkResult result() const { return result_; }

  private:
    VkResult result_ = VK_ERROR_UNKNOWN;
};

// "VK_ERROR_DEVICE_LOST", for every code the Vulkan headers know.
std::string vk_result_name(VkResult result);

// Throws VulkanError when `result` is not VK_SUCCESS.
inline void vk_check(VkResult result, const char* what) {
    if (result != VK_SUCCESS) throw VulkanError(what, result);
}
inline void vk_check(VkResult result, const std::string& what) {
    if (result != VK_SUCCESS) throw VulkanError(what, result);
}

}  // namespace rmvk
