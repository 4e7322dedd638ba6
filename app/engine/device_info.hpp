#pragma once
// Describing physical devices (shared by list_devices and Context).
#include <optional>

#include "app/engine/engine.hpp"
#include "app/vulkan/vk_handle.hpp"

namespace rmvk {

// Creates a Vulkan 1.1 instance, with the validation layer and debug utils when asked.
// Throws VulkanError (never aborts) when there is no loader or driver.
UniqueInstance create_instance(bool validation);

// The first queue family with compute support (compute-only preferred), if any.
std::optional<uint32_t> compute_queue_family(VkPhysicalDevice device);

DeviceInfo describe_device(VkPhysicalDevice device, int index);

std::vector<VkPhysicalDevice> physical_devices(VkInstance instance);

}  // namespace rmvk
