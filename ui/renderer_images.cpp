// The image pipeline: feature maps and weight pictures drawn as textured quads inside ImGui.
#include "ui/renderer.hpp"

#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_vulkan.h>
#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

#include "ui/texture.hpp"
#include "ui/theme.hpp"
#include "ui_spv/image_quad_frag.h"
#include "ui_spv/image_quad_vert.h"

namespace rmvk::ui {

void Renderer::create_image_pipeline() {
    VkDevice device = device_;
    VkSamplerCreateInfo sinfo{VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO};
    // Nearest: feature-map pixels stay crisp squares when magnified.
    sinfo.magFilter = VK_FILTER_NEAREST;
    sinfo.minFilter = VK_FILTER_LINEAR;
    sinfo.mipmapMode = VK_SAMPLER_MIPMAP_MODE_NEAREST;
    sinfo.addressModeU = sinfo.addressModeV = sinfo.addressModeW =
        VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE;
    sinfo.maxLod = 0;
    VkSampler sampler = VK_NULL_HANDLE;
    vk_check(vkCreateSampler(device, &sinfo, nullptr, &sampler), "vkCreateSampler");
    sampler_ = UniqueSampler(device, sampler);

    VkDescriptorSetLayoutBinding binding{};
    binding.binding = 0;
    binding.descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
    binding.descriptorCount = 1;
    binding.stageFlags = VK_SHADER_STAGE_FRAGMENT_BIT;
    VkDescriptorSetLayoutCreateInfo linfo{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    linfo.bindingCount = 1;
    linfo.pBindings = &binding;
    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    vk_check(vkCreateDescriptorSetLayout(device, &linfo, nullptr, &set_layout),
             "vkCreateDescriptorSetLayout");
    image_set_layout_ = UniqueSetLayout(device, set_layout);

    VkPipelineLayoutCreateInfo plinfo{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    plinfo.setLayoutCount = 1;
    plinfo.pSetLayouts = &set_layout;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    vk_check(vkCreatePipelineLayout(device, &plinfo, nullptr, &layout), "vkCreatePipelineLayout");
    image_layout_ = UniquePipelineLayout(device, layout);

    auto make_module = [&](const uint32_t* code, size_t bytes) {
        VkShaderModuleCreateInfo m{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
        m.codeSize = bytes;
        m.pCode = code;
        VkShaderModule module = VK_NULL_HANDLE;
        vk_check(vkCreateShaderModule(device, &m, nullptr, &module),
                 "vkCreateShaderModule (image quad)");
        return UniqueShaderModule(device, module);
    };
    auto vert = make_module(kImageQuad_vert, sizeof(kImageQuad_vert));
    auto frag = make_module(kImageQuad_frag, sizeof(kImageQuad_frag));
    VkPipelineShaderStageCreateInfo stages[2]{};
    stages[0] = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                 nullptr,
                 0,
                 VK_SHADER_STAGE_VERTEX_BIT,
                 vert,
                 "main",
                 nullptr};
    stages[1] = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                 nullptr,
                 0,
                 VK_SHADER_STAGE_FRAGMENT_BIT,
                 frag,
                 "main",
                 nullptr};
    // One quad per instance: its screen rect and uv rect.
    VkVertexInputBindingDescription quad_binding{0, sizeof(ImageQuad),
                                                 VK_VERTEX_INPUT_RATE_INSTANCE};
    VkVertexInputAttributeDescription quad_attrs[2] = {{0, 0, VK_FORMAT_R32G32B32A32_SFLOAT, 0},
                                                       {1, 0, VK_FORMAT_R32G32B32A32_SFLOAT, 16}};
    VkPipelineVertexInputStateCreateInfo vin{
        VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO};
    vin.vertexBindingDescriptionCount = 1;
    vin.pVertexBindingDescriptions = &quad_binding;
    vin.vertexAttributeDescriptionCount = 2;
    vin.pVertexAttributeDescriptions = quad_attrs;
    VkPipelineInputAssemblyStateCreateInfo ia{
        VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO};
    ia.topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_STRIP;
    VkPipelineViewportStateCreateInfo vp{VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO};
    vp.viewportCount = 1;
    vp.scissorCount = 1;
    VkPipelineRasterizationStateCreateInfo rs{
        VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO};
    rs.polygonMode = VK_POLYGON_MODE_FILL;
    rs.cullMode = VK_CULL_MODE_NONE;
    rs.lineWidth = 1.0f;
    VkPipelineMultisampleStateCreateInfo ms{
        VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO};
    ms.rasterizationSamples = VK_SAMPLE_COUNT_1_BIT;
    VkPipelineColorBlendAttachmentState blend{};
    blend.colorWriteMask = 0xF;
    VkPipelineColorBlendStateCreateInfo cb{
        VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO};
    cb.attachmentCount = 1;
    cb.pAttachments = &blend;
    VkDynamicState dyn[] = {VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR};
    VkPipelineDynamicStateCreateInfo ds{VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO};
    ds.dynamicStateCount = 2;
    ds.pDynamicStates = dyn;
    VkGraphicsPipelineCreateInfo pinfo{VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO};
    pinfo.stageCount = 2;
    pinfo.pStages = stages;
    pinfo.pVertexInputState = &vin;
    pinfo.pInputAssemblyState = &ia;
    pinfo.pViewportState = &vp;
    pinfo.pRasterizationState = &rs;
    pinfo.pMultisampleState = &ms;
    pinfo.pColorBlendState = &cb;
    pinfo.pDynamicState = &ds;
    pinfo.layout = layout;
    pinfo.renderPass = render_pass_;
    VkPipeline pipeline = VK_NULL_HANDLE;
    vk_check(vkCreateGraphicsPipelines(device, VK_NULL_HANDLE, 1, &pinfo, nullptr, &pipeline),
             "vkCreateGraphicsPipelines (image quad)");
    image_pipeline_ = UniquePipeline(device, pipeline);
}

void Renderer::draw_image(ImDrawList* list, const Texture& texture, ImVec2 p0, ImVec2 p1,
                          ImVec2 uv0, ImVec2 uv1) {
    draw_images(list, texture, {{p0.x, p0.y, p1.x, p1.y, uv0.x, uv0.y, uv1.x, uv1.y}});
}

void Renderer::draw_images(ImDrawList* list, const Texture& texture,
                           const std::vector<ImageQuad>& quads) {
    if (quads.empty()) return;
    const ImGuiIO& io = ImGui::GetIO();
    ImageDraw& d = image_draws_.emplace_back();
    d.renderer = this;
    d.set = texture.descriptor_set();
    d.first = static_cast<uint32_t>(image_quads_.size() / 8);
    d.count = static_cast<uint32_t>(quads.size());
    // The callback's clip rectangle is the list's current one.
    ImVec2 clip0 = list->GetClipRectMin(), clip1 = list->GetClipRectMax();
    for (const ImageQuad& q : quads) {
        DamageItem item{0, std::max(q.x0, clip0.x), std::max(q.y0, clip0.y),
                        std::min(q.x1, clip1.x), std::min(q.y1, clip1.y)};
        if (item.x1 >= item.x0 && item.y1 >= item.y0) {
            float key[12] = {q.x0, q.y0, q.x1,    q.y1,    q.u0,    q.v0,
                             q.u1, q.v1, clip0.x, clip0.y, clip1.x, clip1.y};
            item.hash = hash_bytes(key, sizeof(key), texture.serial());
            image_items_[list].push_back(item);
        }
        float v[8] = {q.x0 / io.DisplaySize.x * 2.0f - 1.0f,
                      q.y0 / io.DisplaySize.y * 2.0f - 1.0f,
                      q.x1 / io.DisplaySize.x * 2.0f - 1.0f,
                      q.y1 / io.DisplaySize.y * 2.0f - 1.0f,
                      q.u0,
                      q.v0,
                      q.u1,
                      q.v1};
        image_quads_.insert(image_quads_.end(), v, v + 8);
    }
    list->AddCallback(&Renderer::image_callback, &d);
    list->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
}

void Renderer::upload_image_quads(Frame& frame) {
    VkDeviceSize bytes = image_quads_.size() * sizeof(float);
    if (bytes == 0) return;
    if (frame.instances.size < bytes) {
        // This frame's fence has signalled: the old buffer is no longer read.
        frame.instances =
            make_host_buffer(device_, physical_, std::max<VkDeviceSize>(bytes * 2, 64 * 1024),
                             VK_BUFFER_USAGE_VERTEX_BUFFER_BIT);
        vk_check(vkMapMemory(device_, frame.instances.memory, 0, frame.instances.size, 0,
                             &frame.instances_mapped),
                 "vkMapMemory (image quads)");
    }
    std::memcpy(frame.instances_mapped, image_quads_.data(), bytes);
    instance_buffer_ = frame.instances.buffer;
}

void Renderer::image_callback(const ImDrawList*, const ImDrawCmd* cmd) {
    const auto* draw = static_cast<const ImageDraw*>(cmd->UserCallbackData);
    Renderer& r = *draw->renderer;
    VkCommandBuffer cb = r.recording_;
    float sx = r.fb_scale_x_, sy = r.fb_scale_y_;
    VkRect2D scissor;
    scissor.offset.x = std::max(0, static_cast<int>(cmd->ClipRect.x * sx));
    scissor.offset.y = std::max(0, static_cast<int>(cmd->ClipRect.y * sy));
    scissor.extent.width =
        static_cast<uint32_t>(std::max(0.0f, (cmd->ClipRect.z - cmd->ClipRect.x) * sx));
    scissor.extent.height =
        static_cast<uint32_t>(std::max(0.0f, (cmd->ClipRect.w - cmd->ClipRect.y) * sy));
    if (scissor.extent.width == 0 || scissor.extent.height == 0) return;
    VkViewport viewport{
        0, 0, static_cast<float>(r.extent_.width), static_cast<float>(r.extent_.height), 0, 1};
    vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, r.image_pipeline_);
    vkCmdSetViewport(cb, 0, 1, &viewport);
    vkCmdSetScissor(cb, 0, 1, &scissor);
    vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, r.image_layout_, 0, 1, &draw->set,
                            0, nullptr);
    VkDeviceSize offset = 0;
    vkCmdBindVertexBuffers(cb, 0, 1, &r.instance_buffer_, &offset);
    vkCmdDraw(cb, 4, draw->count, 0, draw->first);
}

}  // namespace rmvk::ui
