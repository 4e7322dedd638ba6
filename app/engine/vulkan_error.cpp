#include "app/engine/vulkan_error.hpp"

namespace rmvk {

const char* vk_result_name(VkResult r) {
    switch (r) {
#define RMVK_CASE(x) \
    case x:          \
        return #x;
        RMVK_CASE(VK_SUCCESS)
        RMVK_CASE(VK_NOT_READY)
        RMVK_CASE(VK_TIMEOUT)
        RMVK_CASE(VK_INCOMPLETE)
        RMVK_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
        RMVK_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        RMVK_CASE(VK_ERROR_INITIALIZATION_FAILED)
        RMVK_CASE(VK_ERROR_DEVICE_LOST)
        RMVK_CASE(VK_ERROR_MEMORY_MAP_FAILED)
        RMVK_CASE(VK_ERROR_LAYER_NOT_PRESENT)
        RMVK_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
        RMVK_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
        RMVK_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
        RMVK_CASE(VK_ERROR_TOO_MANY_OBJECTS)
        RMVK_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
        RMVK_CASE(VK_ERROR_FRAGMENTED_POOL)
        RMVK_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
        RMVK_CASE(VK_ERROR_SURFACE_LOST_KHR)
        RMVK_CASE(VK_ERROR_NATIVE_WINDOW_IN_USE_KHR)
        RMVK_CASE(VK_SUBOPTIMAL_KHR)
        RMVK_CASE(VK_ERROR_OUT_OF_DATE_KHR)
#undef RMVK_CASE
        default:
            return "VK_ERROR_UNKNOWN";
    }
}

VulkanError::VulkanError(const std::string& what, VkResult result)
    : std::runtime_error(what + " failed: " + vk_result_name(result)), result_(result) {}

VulkanError::VulkanError(const std::string& message) : std::runtime_error(message) {}

}  // namespace rmvk
