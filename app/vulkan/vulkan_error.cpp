#include "app/vulkan/vulkan_error.hpp"

#include <cctype>
#include <vulkan/vulkan.hpp>  // vulkan_to_string.hpp needs it first
#include <vulkan/vulkan_to_string.hpp>

namespace rmvk {

std::string vk_result_name(VkResult result) {
    // Vulkan-Hpp knows every code of these headers, extensions included ("ErrorOutOfDateKHR");
    // spelt back as the C name a Vulkan programmer searches for (VK_ERROR_OUT_OF_DATE_KHR).
    const std::string camel = vk::to_string(static_cast<vk::Result>(result));
    if (camel.rfind("invalid", 0) == 0) return "VkResult " + std::to_string(int(result));
    std::string name = "VK_";
    for (size_t i = 0; i < camel.size(); ++i) {
        const bool upper = std::isupper(static_cast<unsigned char>(camel[i]));
        if (i > 0 && upper && !std::isupper(static_cast<unsigned char>(camel[i - 1]))) name += '_';
        name += static_cast<char>(std::toupper(static_cast<unsigned char>(camel[i])));
    }
    return name;
}

VulkanError::VulkanError(const std::string& what, VkResult result)
    : std::runtime_error(what + " failed: " + vk_result_name(result) + " (" +
                         std::to_string(int(result)) + ")"),
      result_(result) {}

VulkanError::VulkanError(const std::string& message) : std::runtime_error(message) {}

}  // namespace rmvk
