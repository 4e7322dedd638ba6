#include "ui/texture.hpp"

#include <cstring>
#include <memory>

#include "ui/renderer.hpp"

namespace rmvk::ui {

Texture::Texture(Renderer& renderer, int width, int height, const std::vector<uint8_t>& rgba)
    : renderer_(renderer), width_(width), height_(height), serial_(renderer.new_texture_serial()) {
    if (width <= 0 || height <= 0 || rgba.size() != size_t(width) * size_t(height) * 4)
        throw VulkanError("texture of " + std::to_string(width) + "x" + std::to_string(height) +
                          " got " + std::to_string(rgba.size()) + " bytes");
    VkDevice device = renderer.device();
    VkImageCreateInfo info{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
    info.imageType = VK_IMAGE_TYPE_2D;
    info.format = VK_FORMAT_R8G8B8A8_UNORM;
    info.extent = {uint32_t(width), uint32_t(height), 1};
    info.mipLevels = 1;
    info.arrayLayers = 1;
    info.samples = VK_SAMPLE_COUNT_1_BIT;
    info.tiling = VK_IMAGE_TILING_OPTIMAL;
    info.usage = VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT;
    info.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    VkImage image = VK_NULL_HANDLE;
    vk_check(vkCreateImage(device, &info, nullptr, &image), "vkCreateImage (texture)");
    image_ = UniqueImage(device, image);
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(device, image, &req);
    VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    alloc.allocationSize = req.size;
    alloc.memoryTypeIndex = find_memory_type(renderer.physical(), req.memoryTypeBits,
                                             VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    VkDeviceMemory memory = VK_NULL_HANDLE;
    vk_check(vkAllocateMemory(device, &alloc, nullptr, &memory), "vkAllocateMemory (texture)");
    memory_ = UniqueMemory(device, memory);
    vk_check(vkBindImageMemory(device, image, memory, 0), "vkBindImageMemory (texture)");

    VkImageViewCreateInfo vinfo{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
    vinfo.image = image;
    vinfo.viewType = VK_IMAGE_VIEW_TYPE_2D;
    vinfo.format = VK_FORMAT_R8G8B8A8_UNORM;
    vinfo.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    VkImageView view = VK_NULL_HANDLE;
    vk_check(vkCreateImageView(device, &vinfo, nullptr, &view), "vkCreateImageView (texture)");
    view_ = UniqueImageView(device, view);

    OwnedBuffer staging = make_host_buffer(device, renderer.physical(), rgba.size(),
                                           VK_BUFFER_USAGE_TRANSFER_SRC_BIT);
    void* mapped = nullptr;
    vk_check(vkMapMemory(device, staging.memory, 0, staging.size, 0, &mapped),
             "vkMapMemory (texture)");
    std::memcpy(mapped, rgba.data(), rgba.size());
    vkUnmapMemory(device, staging.memory);
    renderer.submit_now([&](VkCommandBuffer cmd) {
        VkImageMemoryBarrier barrier{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
        barrier.dstAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        barrier.oldLayout = VK_IMAGE_LAYOUT_UNDEFINED;
        barrier.newLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
        barrier.srcQueueFamilyIndex = barrier.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
        barrier.image = image;
        barrier.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                             0, 0, nullptr, 0, nullptr, 1, &barrier);
        VkBufferImageCopy region{};
        region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
        region.imageExtent = {uint32_t(width), uint32_t(height), 1};
        vkCmdCopyBufferToImage(cmd, staging.buffer, image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1,
                               &region);
        barrier.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT;
        barrier.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
        barrier.newLayout = VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL;
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, 0, 0, nullptr, 0, nullptr, 1,
                             &barrier);
    });

    VkDescriptorSetLayout layout = renderer.image_set_layout();
    VkDescriptorSetAllocateInfo ainfo{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ainfo.descriptorPool = renderer.descriptor_pool();
    ainfo.descriptorSetCount = 1;
    ainfo.pSetLayouts = &layout;
    vk_check(vkAllocateDescriptorSets(device, &ainfo, &set_), "vkAllocateDescriptorSets (texture)");
    VkDescriptorImageInfo image_info{renderer.sampler(), view,
                                     VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL};
    VkWriteDescriptorSet write{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    write.dstSet = set_;
    write.descriptorCount = 1;
    write.descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
    write.pImageInfo = &image_info;
    vkUpdateDescriptorSets(device, 1, &write, 0, nullptr);
}

Texture::~Texture() {
    // Frames still in flight may sample this image: hand its objects to the renderer, which
    // frees them after those frames' fences.
    auto objects = std::make_shared<std::tuple<UniqueImage, UniqueMemory, UniqueImageView>>(
        std::move(image_), std::move(memory_), std::move(view_));
    VkDevice device = renderer_.device();
    VkDescriptorPool pool = renderer_.descriptor_pool();
    VkDescriptorSet set = set_;
    renderer_.defer_release([objects, device, pool, set]() mutable {
        vkFreeDescriptorSets(device, pool, 1, &set);
        // Views before images before memory.
        std::get<2>(*objects).reset();
        std::get<0>(*objects).reset();
        std::get<1>(*objects).reset();
    });
}

}  // namespace rmvk::ui
