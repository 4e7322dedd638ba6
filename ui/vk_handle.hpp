#pragma once
// Small RAII helpers for the window's own Vulkan objects (the compute engine has its own).
#include <vulkan/vulkan.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>

namespace rmvk::ui {

// A rendering failure: carries the VkResult name and what was attempted.
class RenderError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

const char* vk_result_name(VkResult result);
void vk_check(VkResult result, const char* what);

// One Vulkan object and the call that destroys it. Move-only; destroys on scope exit.
template <typename T>
class VkOwned {
  public:
    VkOwned() = default;
    VkOwned(T handle, std::function<void(T)> destroy)
        : handle_(handle), destroy_(std::move(destroy)) {}
    ~VkOwned() { reset(); }
    VkOwned(VkOwned&& other) noexcept
        : handle_(std::exchange(other.handle_, T{})), destroy_(std::move(other.destroy_)) {}
    VkOwned& operator=(VkOwned&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, T{});
            destroy_ = std::move(other.destroy_);
        }
        return *this;
    }
    VkOwned(const VkOwned&) = delete;
    VkOwned& operator=(const VkOwned&) = delete;

    void reset() {
        if (handle_ != T{} && destroy_) destroy_(handle_);
        handle_ = T{};
    }
    T get() const { return handle_; }
    operator T() const { return handle_; }
    explicit operator bool() const { return handle_ != T{}; }

  private:
    T handle_{};
    std::function<void(T)> destroy_;
};

// Wraps a device-owned handle with its vkDestroy*/vkFree* function.
template <typename T>
VkOwned<T> own(VkDevice device, T handle,
               void (*destroy)(VkDevice, T, const VkAllocationCallbacks*)) {
    return VkOwned<T>(handle, [device, destroy](T h) { destroy(device, h, nullptr); });
}

// Memory type index with the wanted properties, or throws.
uint32_t find_memory_type(VkPhysicalDevice physical, uint32_t type_bits,
                          VkMemoryPropertyFlags wanted);

// A buffer with its own memory (staging and read-back buffers).
struct OwnedBuffer {
    VkOwned<VkBuffer> buffer;
    VkOwned<VkDeviceMemory> memory;
    VkDeviceSize size = 0;
};
OwnedBuffer make_host_buffer(VkDevice device, VkPhysicalDevice physical, VkDeviceSize size,
                             VkBufferUsageFlags usage);

}  // namespace rmvk::ui
