// The one Vulkan error set the engine and the window share: names as the C headers spell them.
#include "app/vulkan/vulkan_error.hpp"

#include <doctest/doctest.h>

TEST_CASE("VkResult names are the C names, for core and extension codes") {
    CHECK(rmvk::vk_result_name(VK_SUCCESS) == "VK_SUCCESS");
    CHECK(rmvk::vk_result_name(VK_ERROR_DEVICE_LOST) == "VK_ERROR_DEVICE_LOST");
    CHECK(rmvk::vk_result_name(VK_ERROR_OUT_OF_DATE_KHR) == "VK_ERROR_OUT_OF_DATE_KHR");
    CHECK(rmvk::vk_result_name(VK_ERROR_OUT_OF_POOL_MEMORY) == "VK_ERROR_OUT_OF_POOL_MEMORY");
    CHECK(rmvk::vk_result_name(static_cast<VkResult>(12345)) == "VkResult 12345");
}

TEST_CASE("vk_check throws a VulkanError naming the call and the result") {
    CHECK_NOTHROW(rmvk::vk_check(VK_SUCCESS, "vkCreateBuffer"));
    CHECK_THROWS_WITH_AS(rmvk::vk_check(VK_ERROR_DEVICE_LOST, "vkQueueSubmit"),
                         "vkQueueSubmit failed: VK_ERROR_DEVICE_LOST (-4)", rmvk::VulkanError);
}
