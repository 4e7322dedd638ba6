// One frame: acquire, damage-limited redraw, submit, present, screenshot read-back, frame costs.
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

namespace rmvk::ui {

namespace {

// Adds the milliseconds since `since` to `total` and restarts the clock.
void lap(std::chrono::steady_clock::time_point& since, double& total) {
    auto now = std::chrono::steady_clock::now();
    total += std::chrono::duration<double, std::milli>(now - since).count();
    since = now;
}

}  // namespace

bool Renderer::begin_frame() {
    int w = 0, h = 0;
    glfwGetFramebufferSize(window_, &w, &h);
    if (w == 0 || h == 0) return false;
    if (static_cast<uint32_t>(w) != extent_.width || static_cast<uint32_t>(h) != extent_.height)
        recreate_swapchain();
    image_draws_.clear();
    image_quads_.clear();
    image_items_.clear();
    ImGui_ImplVulkan_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    return true;
}

void Renderer::defer_release(std::function<void()> release) {
    pending_.push_back(std::move(release));
}

DamageRect Renderer::find_damage(ImDrawData* draw_data) {
    return damage_.update(*draw_data, image_items_, int(extent_.width), int(extent_.height));
}

void Renderer::draw_into_image(Frame& frame, ImDrawData* draw_data, DamageRect damage, bool fresh) {
    if (damage.empty()) return;
    VkRect2D area{{damage.x0, damage.y0},
                  {uint32_t(damage.x1 - damage.x0), uint32_t(damage.y1 - damage.y0)}};
    costs_.redrawn_pixels += double(area.extent.width) * double(area.extent.height);
    VkRenderPassBeginInfo rp{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
    rp.renderPass = fresh ? fresh_pass_ : render_pass_;
    rp.framebuffer = images_[image_index_].framebuffer;
    rp.renderArea = area;
    vkCmdBeginRenderPass(frame.cmd, &rp, VK_SUBPASS_CONTENTS_INLINE);
    VkClearAttachment clear{VK_IMAGE_ASPECT_COLOR_BIT, 0, {}};
    const ImVec4& bg = theme::kBackground;  // the only full-window fill (see theme.hpp)
    clear.clearValue.color = {{bg.x, bg.y, bg.z, 1.0f}};
    VkClearRect clear_rect{area, 0, 1};
    vkCmdClearAttachments(frame.cmd, 1, &clear, 1, &clear_rect);
    // Everything is drawn, clipped to the damage: outside it the image already holds the
    // same pixels. The clip rectangles are put back afterwards.
    fb_scale_x_ = draw_data->FramebufferScale.x;
    fb_scale_y_ = draw_data->FramebufferScale.y;
    ImVec4 keep(float(damage.x0) / fb_scale_x_, float(damage.y0) / fb_scale_y_,
                float(damage.x1) / fb_scale_x_, float(damage.y1) / fb_scale_y_);
    std::vector<ImVec4> clips;
    for (int l = 0; l < draw_data->CmdListsCount; ++l)
        for (ImDrawCmd& cmd : draw_data->CmdLists[l]->CmdBuffer) {
            clips.push_back(cmd.ClipRect);
            cmd.ClipRect = {std::max(cmd.ClipRect.x, keep.x), std::max(cmd.ClipRect.y, keep.y),
                            std::min(cmd.ClipRect.z, keep.z), std::min(cmd.ClipRect.w, keep.w)};
        }
    recording_ = frame.cmd;
    upload_image_quads(frame);
    ImGui_ImplVulkan_RenderDrawData(draw_data, frame.cmd);
    recording_ = VK_NULL_HANDLE;
    instance_buffer_ = VK_NULL_HANDLE;
    vkCmdEndRenderPass(frame.cmd);
    size_t i = 0;
    for (int l = 0; l < draw_data->CmdListsCount; ++l)
        for (ImDrawCmd& cmd : draw_data->CmdLists[l]->CmdBuffer) cmd.ClipRect = clips[i++];
}

OwnedBuffer Renderer::read_image(VkCommandBuffer cmd) {
    VkDeviceSize bytes = VkDeviceSize(extent_.width) * extent_.height * 4;
    OwnedBuffer out = make_host_buffer(device_, physical_, bytes, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
    VkImageMemoryBarrier barrier{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
    barrier.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    barrier.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    barrier.oldLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    barrier.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    barrier.srcQueueFamilyIndex = barrier.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    barrier.image = images_[image_index_].image;
    barrier.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
                         VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0, nullptr, 1, &barrier);
    VkBufferImageCopy region{};
    region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    region.imageExtent = {extent_.width, extent_.height, 1};
    vkCmdCopyImageToBuffer(cmd, barrier.image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, out.buffer, 1,
                           &region);
    barrier.srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    barrier.dstAccessMask = 0;
    barrier.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    barrier.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
                         0, 0, nullptr, 0, nullptr, 1, &barrier);
    return out;
}

std::vector<uint8_t> Renderer::mapped_bytes(const OwnedBuffer& buffer) {
    void* mapped = nullptr;
    vk_check(vkMapMemory(device_, buffer.memory, 0, buffer.size, 0, &mapped),
             "vkMapMemory (read-back)");
    std::vector<uint8_t> out(static_cast<uint8_t*>(mapped),
                             static_cast<uint8_t*>(mapped) + buffer.size);
    vkUnmapMemory(device_, buffer.memory);
    return out;
}

bool Renderer::end_frame(ImDrawData* draw_data, Screenshot* capture) {
    Frame& frame = frames_[frame_index_];
    VkFence fence = frame.fence;
    VkSemaphore acquired_sem = frame.acquired, rendered_sem = frame.rendered;
    auto clock = std::chrono::steady_clock::now();
    vk_check(vkWaitForFences(device_, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    for (auto& release : frame.garbage) release();
    frame.garbage.clear();
    lap(clock, costs_.wait_ms);

    VkResult acquired = vkAcquireNextImageKHR(device_, swapchain_, UINT64_MAX, frame.acquired,
                                              VK_NULL_HANDLE, &image_index_);
    lap(clock, costs_.acquire_ms);
    if (acquired == VK_ERROR_OUT_OF_DATE_KHR) {
        recreate_swapchain();
        return false;
    }
    if (acquired != VK_SUBOPTIMAL_KHR) vk_check(acquired, "vkAcquireNextImageKHR");
    vk_check(vkResetFences(device_, 1, &fence), "vkResetFences");
    vk_check(vkResetCommandPool(device_, frame.pool, 0), "vkResetCommandPool");

    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vk_check(vkBeginCommandBuffer(frame.cmd, &begin), "vkBeginCommandBuffer");
    // This image last showed frame `drawn_at`: redraw what changed in every frame since.
    history_.push_front(find_damage(draw_data));
    if (history_.size() > kDamageHistory) history_.pop_back();
    ++frame_serial_;
    SwapImage& target = images_[image_index_];
    DamageRect whole{0, 0, int(extent_.width), int(extent_.height)};
    uint64_t age = frame_serial_ - target.drawn_at;
    bool fresh = target.drawn_at == 0 || age > history_.size();
    DamageRect damage = fresh ? whole : DamageRect{};
    for (size_t i = 0; !fresh && i < age; ++i) damage = unite(damage, history_[i]);
    target.drawn_at = frame_serial_;
    draw_into_image(frame, draw_data, damage, fresh);
    OwnedBuffer partial;
    if (capture && check_redraw_) {
        // Keep the partly redrawn picture, then draw the whole window over it to compare.
        partial = read_image(frame.cmd);
        draw_into_image(frame, draw_data, whole, false);
    }
    OwnedBuffer readback;
    if (capture) readback = read_image(frame.cmd);
    vk_check(vkEndCommandBuffer(frame.cmd), "vkEndCommandBuffer");
    lap(clock, costs_.record_ms);

    VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.waitSemaphoreCount = 1;
    submit.pWaitSemaphores = &acquired_sem;
    submit.pWaitDstStageMask = &wait_stage;
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &frame.cmd;
    submit.signalSemaphoreCount = 1;
    submit.pSignalSemaphores = &rendered_sem;
    vk_check(vkQueueSubmit(queue_, 1, &submit, fence), "vkQueueSubmit");
    // Objects released while this frame was built may still be used by earlier frames; all of
    // those finish before this frame's fence signals.
    for (auto& release : pending_) frame.garbage.push_back(std::move(release));
    pending_.clear();
    lap(clock, costs_.submit_ms);

    if (capture) {
        vk_check(vkWaitForFences(device_, 1, &fence, VK_TRUE, UINT64_MAX),
                 "vkWaitForFences (screenshot)");
        capture->width = static_cast<int>(extent_.width);
        capture->height = static_cast<int>(extent_.height);
        capture->rgba = mapped_bytes(readback);
        if (partial.buffer) {
            std::vector<uint8_t> part = mapped_bytes(partial);
            capture->redraw_mismatch = 0;
            for (size_t i = 0; i < part.size(); i += 4)
                capture->redraw_mismatch += std::memcmp(&part[i], &capture->rgba[i], 3) != 0;
        }
        bool bgr =
            format_.format == VK_FORMAT_B8G8R8A8_UNORM || format_.format == VK_FORMAT_B8G8R8A8_SRGB;
        for (size_t i = 0; i < capture->rgba.size(); i += 4) {
            if (bgr) std::swap(capture->rgba[i], capture->rgba[i + 2]);
            capture->rgba[i + 3] = 255;
        }
    }

    VkPresentInfoKHR present{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
    present.waitSemaphoreCount = 1;
    present.pWaitSemaphores = &rendered_sem;
    present.swapchainCount = 1;
    VkSwapchainKHR swapchain = swapchain_;
    present.pSwapchains = &swapchain;
    present.pImageIndices = &image_index_;
    if (capture) clock = std::chrono::steady_clock::now();  // the read-back is not a frame cost
    VkResult presented = vkQueuePresentKHR(queue_, &present);
    lap(clock, costs_.present_ms);
    ++costs_.frames;
    frame_index_ = (frame_index_ + 1) % frames_.size();
    if (presented == VK_ERROR_OUT_OF_DATE_KHR || presented == VK_SUBOPTIMAL_KHR) {
        recreate_swapchain();
        return presented == VK_SUBOPTIMAL_KHR;  // suboptimal frames are still shown
    }
    vk_check(presented, "vkQueuePresentKHR");
    return true;
}

}  // namespace rmvk::ui
