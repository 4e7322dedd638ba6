#pragma once
// Move-only owners for Vulkan objects: each handle is destroyed exactly once, by its owner.
#include <vulkan/vulkan.h>

#include <utility>

namespace rmvk {

// A device-level object (buffer, pipeline, ...) destroyed with vkDestroyX(device, handle, nullptr).
template <typename H, void (*Destroy)(VkDevice, H, const VkAllocationCallbacks*)>
class DeviceHandle {
  public:
    DeviceHandle() = default;
    DeviceHandle(VkDevice device, H handle) : device_(device), handle_(handle) {}
    ~DeviceHandle() { reset(); }
    DeviceHandle(DeviceHandle&& o) noexcept
        : device_(o.device_), handle_(std::exchange(o.handle_, VK_NULL_HANDLE)) {}
    DeviceHandle& operator=(DeviceHandle&& o) noexcept {
        if (this != &o) {
            reset();
            device_ = o.device_;
            handle_ = std::exchange(o.handle_, VK_NULL_HANDLE);
        }
        return *this;
    }
    DeviceHandle(const DeviceHandle&) = delete;
    DeviceHandle& operator=(const DeviceHandle&) = delete;

    H get() const { return handle_; }
    explicit operator bool() const { return handle_ != VK_NULL_HANDLE; }
    void reset() {
        if (handle_ != VK_NULL_HANDLE) Destroy(device_, handle_, nullptr);
        handle_ = VK_NULL_HANDLE;
    }

  private:
    VkDevice device_ = VK_NULL_HANDLE;
    H handle_ = VK_NULL_HANDLE;
};

using UniqueBuffer = DeviceHandle<VkBuffer, vkDestroyBuffer>;
using UniqueMemory = DeviceHandle<VkDeviceMemory, vkFreeMemory>;
using UniqueShaderModule = DeviceHandle<VkShaderModule, vkDestroyShaderModule>;
using UniquePipeline = DeviceHandle<VkPipeline, vkDestroyPipeline>;
using UniquePipelineLayout = DeviceHandle<VkPipelineLayout, vkDestroyPipelineLayout>;
using UniqueSetLayout = DeviceHandle<VkDescriptorSetLayout, vkDestroyDescriptorSetLayout>;
using UniqueDescriptorPool = DeviceHandle<VkDescriptorPool, vkDestroyDescriptorPool>;
using UniqueCommandPool = DeviceHandle<VkCommandPool, vkDestroyCommandPool>;
using UniqueFence = DeviceHandle<VkFence, vkDestroyFence>;
using UniqueQueryPool = DeviceHandle<VkQueryPool, vkDestroyQueryPool>;
using UniqueBufferView = DeviceHandle<VkBufferView, vkDestroyBufferView>;
using UniquePipelineCache = DeviceHandle<VkPipelineCache, vkDestroyPipelineCache>;

// The instance and the logical device: destroyed last, by Context::Impl.
class UniqueInstance {
  public:
    UniqueInstance() = default;
    explicit UniqueInstance(VkInstance i) : handle_(i) {}
    ~UniqueInstance() {
        if (handle_) vkDestroyInstance(handle_, nullptr);
    }
    UniqueInstance(UniqueInstance&& o) noexcept
        : handle_(std::exchange(o.handle_, VK_NULL_HANDLE)) {}
    UniqueInstance& operator=(UniqueInstance&& o) noexcept {
        std::swap(handle_, o.handle_);
        return *this;
    }
    UniqueInstance(const UniqueInstance&) = delete;
    VkInstance get() const { return handle_; }

  private:
    VkInstance handle_ = VK_NULL_HANDLE;
};

class UniqueDevice {
  public:
    UniqueDevice() = default;
    explicit UniqueDevice(VkDevice d) : handle_(d) {}
    ~UniqueDevice() {
        if (handle_) vkDestroyDevice(handle_, nullptr);
    }
    UniqueDevice(UniqueDevice&& o) noexcept : handle_(std::exchange(o.handle_, VK_NULL_HANDLE)) {}
    UniqueDevice& operator=(UniqueDevice&& o) noexcept {
        std::swap(handle_, o.handle_);
        return *this;
    }
    UniqueDevice(const UniqueDevice&) = delete;
    VkDevice get() const { return handle_; }

  private:
    VkDevice handle_ = VK_NULL_HANDLE;
};

}  // namespace rmvk
