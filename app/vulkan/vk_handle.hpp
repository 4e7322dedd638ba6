#pragma once
// Move-only owners for Vulkan objects, shared by the compute engine and the window: each handle
// is destroyed exactly once, by its owner.
#include <vulkan/vulkan.h>

#include <utility>

namespace rmvk {

// An object created from `Parent` (a device or an instance) and destroyed with
// Destroy(parent, handle, nullptr).
template <typename Parent, typename H, void (*Destroy)(Parent, H, const VkAllocationCallbacks*)>
class Owned {
  public:
    Owned() = default;
    Owned(Parent parent, H handle) : parent_(parent), handle_(handle) {}
    ~Owned() { reset(); }
    Owned(Owned&& o) noexcept : parent_(o.parent_), handle_(std::exchange(o.handle_, H{})) {}
    Owned& operator=(Owned&& o) noexcept {
        if (this != &o) {
            reset();
            parent_ = o.parent_;
            handle_ = std::exchange(o.handle_, H{});
        }
        return *this;
    }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;

    H get() const { return handle_; }
    operator H() const { return handle_; }  // passes straight to vk* calls
    explicit operator bool() const { return handle_ != H{}; }
    void reset() {
        if (handle_ != H{}) Destroy(parent_, handle_, nullptr);
        handle_ = H{};
    }

  private:
    Parent parent_{};
    H handle_{};
};

template <typename H, void (*Destroy)(VkDevice, H, const VkAllocationCallbacks*)>
using DeviceHandle = Owned<VkDevice, H, Destroy>;

using UniqueBuffer = DeviceHandle<VkBuffer, vkDestroyBuffer>;
using UniqueMemory = DeviceHandle<VkDeviceMemory, vkFreeMemory>;
using UniqueShaderModule = DeviceHandle<VkShaderModule, vkDestroyShaderModule>;
using UniquePipeline = DeviceHandle<VkPipeline, vkDestroyPipeline>;
using UniquePipelineLayout = DeviceHandle<VkPipelineLayout, vkDestroyPipelineLayout>;
using UniqueSetLayout = DeviceHandle<VkDescriptorSetLayout, vkDestroyDescriptorSetLayout>;
using UniqueDescriptorPool = DeviceHandle<VkDescriptorPool, vkDestroyDescriptorPool>;
using UniqueCommandPool = DeviceHandle<VkCommandPool, vkDestroyCommandPool>;
using UniqueFence = DeviceHandle<VkFence, vkDestroyFence>;
using UniqueSemaphore = DeviceHandle<VkSemaphore, vkDestroySemaphore>;
using UniqueQueryPool = DeviceHandle<VkQueryPool, vkDestroyQueryPool>;
using UniqueBufferView = DeviceHandle<VkBufferView, vkDestroyBufferView>;
using UniquePipelineCache = DeviceHandle<VkPipelineCache, vkDestroyPipelineCache>;
using UniqueImage = DeviceHandle<VkImage, vkDestroyImage>;
using UniqueImageView = DeviceHandle<VkImageView, vkDestroyImageView>;
using UniqueSampler = DeviceHandle<VkSampler, vkDestroySampler>;
using UniqueRenderPass = DeviceHandle<VkRenderPass, vkDestroyRenderPass>;
using UniqueFramebuffer = DeviceHandle<VkFramebuffer, vkDestroyFramebuffer>;
using UniqueSwapchain = DeviceHandle<VkSwapchainKHR, vkDestroySwapchainKHR>;
using UniqueSurface = Owned<VkInstance, VkSurfaceKHR, vkDestroySurfaceKHR>;

// The instance and the logical device have no parent; whoever holds them destroys them last.
template <typename H, void (*Destroy)(H, const VkAllocationCallbacks*)>
class Root {
  public:
    Root() = default;
    explicit Root(H h) : handle_(h) {}
    ~Root() {
        if (handle_) Destroy(handle_, nullptr);
    }
    Root(Root&& o) noexcept : handle_(std::exchange(o.handle_, H{})) {}
    Root& operator=(Root&& o) noexcept {
        std::swap(handle_, o.handle_);
        return *this;
    }
    Root(const Root&) = delete;
    Root& operator=(const Root&) = delete;
    H get() const { return handle_; }
    operator H() const { return handle_; }
    explicit operator bool() const { return handle_ != H{}; }

  private:
    H handle_{};
};

using UniqueInstance = Root<VkInstance, vkDestroyInstance>;
using UniqueDevice = Root<VkDevice, vkDestroyDevice>;

}  // namespace rmvk
