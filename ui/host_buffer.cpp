#include "ui/host_buffer.hpp"

namespace rmvk::ui {

uint32_t find_memory_type(VkPhysicalDevice physical, uint32_t type_bits,
                          VkMemoryPropertyFlags wanted) {
    VkPhysicalDeviceMemoryProperties props;
    vkGetPhysicalDeviceMemoryProperties(physical, &props);
    for (uint32_t i = 0; i < props.memoryTypeCount; ++i)
        if ((type_bits & (1u << i)) && (props.memoryTypes[i].propertyFlags & wanted) == wanted)
            return i;
    throw VulkanError("no Vulkan memory type with the needed properties for the window");
}

OwnedBuffer make_host_buffer(VkDevice device, VkPhysicalDevice physical, VkDeviceSize size,
                             VkBufferUsageFlags usage) {
    OwnedBuffer out;
    out.size = size;
    VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    info.size = size;
    info.usage = usage;
    info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkBuffer buffer = VK_NULL_HANDLE;
    vk_check(vkCreateBuffer(device, &info, nullptr, &buffer), "vkCreateBuffer (window staging)");
    out.buffer = UniqueBuffer(device, buffer);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(device, buffer, &req);
    VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    alloc.allocationSize = req.size;
    alloc.memoryTypeIndex = find_memory_type(
        physical, req.memoryTypeBits,
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    VkDeviceMemory memory = VK_NULL_HANDLE;
    vk_check(vkAllocateMemory(device, &alloc, nullptr, &memory),
             "vkAllocateMemory (window staging)");
    out.memory = UniqueMemory(device, memory);
    vk_check(vkBindBufferMemory(device, buffer, memory, 0), "vkBindBufferMemory");
    return out;
}

}  // namespace rmvk::ui
