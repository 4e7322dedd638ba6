// Buffers, descriptor sets and command recording helpers.
#include <bit>

#include "app/engine/context_impl.hpp"

namespace rmvk {

uint64_t buffer_create_size(uint64_t bytes) {
    const uint64_t size = bytes + kTexelViewSlack;
    return std::has_single_bit(size) ? size + 16 : size;
}

uint64_t texel_view_range(uint64_t range, uint64_t texel_bytes, uint64_t max_texels) {
    if (range == VK_WHOLE_SIZE || ((range >> 8) & 0xff) != 0 ||
        (range + kTexelViewSlack) / texel_bytes > max_texels)
        return range;
    return range + kTexelViewSlack;
}

Buffer::Buffer(Context::Impl& ctx, uint64_t bytes, MemoryKind kind) : size_(bytes) {
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = buffer_create_size(bytes);
    bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkBuffer buffer = VK_NULL_HANDLE;
    vk_check(vkCreateBuffer(ctx.device, &bci, nullptr, &buffer),
             "creating a buffer of " + std::to_string(bytes) + " bytes");
    buffer_ = UniqueBuffer(ctx.device, buffer);

    VkMemoryRequirements req{};
    vkGetBufferMemoryRequirements(ctx.device, buffer, &req);
    uint32_t type =
        kind == MemoryKind::DeviceLocal
            ? ctx.find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0)
            : ctx.find_memory_type(
                  req.memoryTypeBits,
                  VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                  VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = type;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    vk_check(vkAllocateMemory(ctx.device, &ai, nullptr, &memory),
             "allocating " + std::to_string(req.size >> 20) + " MiB of GPU memory");
    memory_ = UniqueMemory(ctx.device, memory);
    vk_check(vkBindBufferMemory(ctx.device, buffer, memory, 0), "binding buffer memory");
    auto flags = ctx.memory_properties.memoryTypes[type].propertyFlags;
    // Device-local memory that the host can also see (integrated GPUs, lavapipe): map it so
    // uploads and downloads skip the staging copy.
    if ((flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
        (flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) &&
        (kind == MemoryKind::Staging || ctx.map_device_local))
        vk_check(vkMapMemory(ctx.device, memory, 0, VK_WHOLE_SIZE, 0, &mapped_),
                 "mapping GPU memory");
}

DescriptorArena::DescriptorArena(Context::Impl& ctx, uint32_t max_sets, uint32_t max_buffers)
    : device_(ctx.device), max_texel_elements_(ctx.properties.limits.maxTexelBufferElements) {
    VkDescriptorPoolSize sizes[] = {
        {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, max_buffers ? max_buffers : 1},
        {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, max_buffers ? max_buffers : 1}};
    VkDescriptorPoolCreateInfo ci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    ci.maxSets = max_sets ? max_sets : 1;
    ci.poolSizeCount = 2;
    ci.pPoolSizes = sizes;
    VkDescriptorPool pool = VK_NULL_HANDLE;
    vk_check(vkCreateDescriptorPool(device_, &ci, nullptr, &pool), "creating a descriptor pool");
    pool_ = UniqueDescriptorPool(device_, pool);
}

VkDescriptorSet DescriptorArena::make_set(const ComputePipeline& pipeline,
                                          std::span<const BufferRange> buffers) {
    VkDescriptorSetLayout layout = pipeline.set_layout.get();
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = pool_.get();
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &layout;
    VkDescriptorSet set = VK_NULL_HANDLE;
    vk_check(vkAllocateDescriptorSets(device_, &ai, &set), "allocating a descriptor set");
    std::vector<VkDescriptorBufferInfo> infos(buffers.size());
    std::vector<VkBufferView> views(buffers.size(), VK_NULL_HANDLE);
    std::vector<VkWriteDescriptorSet> writes(buffers.size());
    for (size_t i = 0; i < buffers.size(); ++i) {
        writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        writes[i].dstSet = set;
        writes[i].dstBinding = static_cast<uint32_t>(i);
        writes[i].descriptorCount = 1;
        if ((pipeline.texel_mask >> i) & 1) {
            VkBufferViewCreateInfo vci{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
            vci.buffer = buffers[i].buffer;
            const bool rgba = (pipeline.rgba_mask >> i) & 1;
            vci.format = pipeline.element_bytes == 2
                             ? (rgba ? VK_FORMAT_R16G16B16A16_SFLOAT : VK_FORMAT_R16_SFLOAT)
                             : (rgba ? VK_FORMAT_R32G32B32A32_SFLOAT : VK_FORMAT_R32_SFLOAT);
            vci.offset = buffers[i].offset;
            vci.range = texel_view_range(
                buffers[i].range, (rgba ? 4u : 1u) * pipeline.element_bytes, max_texel_elements_);
            vk_check(vkCreateBufferView(device_, &vci, nullptr, &views[i]),
                     "creating a texel buffer view");
            views_.emplace_back(device_, views[i]);
            writes[i].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
            writes[i].pTexelBufferView = &views[i];
        } else {
            infos[i] = {buffers[i].buffer, buffers[i].offset, buffers[i].range};
            writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            writes[i].pBufferInfo = &infos[i];
        }
    }
    vkUpdateDescriptorSets(device_, static_cast<uint32_t>(writes.size()), writes.data(), 0,
                           nullptr);
    return set;
}

void compute_barrier(VkCommandBuffer cmd) {
    VkMemoryBarrier b{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    b.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    b.dstAccessMask =
        VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0,
                         1, &b, 0, nullptr, 0, nullptr);
}

void record_dispatch(VkCommandBuffer cmd, const ComputePipeline& pipeline, VkDescriptorSet set,
                     const void* push, uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) {
    if (push_bytes != pipeline.push_bytes)
        throw VulkanError("internal error: " + std::to_string(push_bytes) +
                          " bytes of push constants for a pipeline that declares " +
                          std::to_string(pipeline.push_bytes));
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.pipeline.get());
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout.get(), 0, 1, &set,
                            0, nullptr);
    if (push_bytes)
        vkCmdPushConstants(cmd, pipeline.layout.get(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes,
                           push);
    vkCmdDispatch(cmd, gx, gy, gz);
}

}  // namespace rmvk
