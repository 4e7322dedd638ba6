#pragma once
// Engine-internal view of a Context: the Vulkan objects and the small helpers every part of the
// engine (graph runner, peak probe) builds on. Not part of the public API (engine.hpp).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "app/engine/engine.hpp"
#include "app/vulkan/vk_handle.hpp"
#include "app/vulkan/vulkan_error.hpp"

namespace rmvk {

class DebugMessenger;

enum class MemoryKind {
    DeviceLocal,  // weights and activations (mapped too when the device memory is host-visible)
    Staging,      // host-visible, coherent: uploads and downloads
};

// lavapipe (llvmpipe) compiles a pipeline again for every new "static state" of the texel
// buffers bound to it, and that state holds whether the buffer's size is a power of two and
// whether bits 8-15 of a view's byte range are zero (there, the view's range shares storage
// with a texture's mip levels). Left to the tensors' sizes, the same pipeline would compile
// again for many layers. So every Buffer has this many bytes past its contents and a size that
// is never a power of two, and a texel view whose range has those bits zero is made this much
// longer. No result depends on the extra texels: a shader indexes inside the tensor, or (the
// clamp to textureSize in conv2d_direct) fetches past it only where a select drops the value.
constexpr uint64_t kTexelViewSlack = 256;
// The VkBuffer size for `bytes` of contents: kTexelViewSlack more, and 16 more where that
// would be a power of two.
uint64_t buffer_create_size(uint64_t bytes);
// The range of a texel view of `range` bytes planned inside a Buffer: kTexelViewSlack more
// where bits 8-15 are zero, unless that exceeds max_texels texels of texel_bytes each.
uint64_t texel_view_range(uint64_t range, uint64_t texel_bytes, uint64_t max_texels);

// A VkBuffer with its own memory. mapped() is non-null when the memory is host-visible.
// size() is the bytes asked for (the VkBuffer is buffer_create_size(size()) bytes).
class Buffer {
  public:
    Buffer() = default;
    Buffer(Context::Impl& ctx, uint64_t bytes, MemoryKind kind);
    VkBuffer handle() const { return buffer_.get(); }
    uint64_t size() const { return size_; }
    void* mapped() const { return mapped_; }
    float* floats() const { return static_cast<float*>(mapped_); }

  private:
    UniqueMemory memory_;  // declared first: freed after the buffer that uses it
    UniqueBuffer buffer_;
    void* mapped_ = nullptr;
    uint64_t size_ = 0;
};

// A compute pipeline with its layout: `bindings` storage buffers at set 0, binding 0..n-1,
// `push_bytes` of push constants, specialization constants with constant_id 0..n-1.
struct ComputePipeline {
    UniqueSetLayout set_layout;
    UniquePipelineLayout layout;
    UniquePipeline pipeline;
    uint32_t bindings = 0;
    uint32_t push_bytes = 0;
    uint32_t texel_mask = 0;     // bit i: binding i is a uniform texel buffer, not a storage buffer
    uint32_t rgba_mask = 0;      // bit i: that texel buffer holds vec4s (R32G32B32A32_SFLOAT)
    uint32_t element_bytes = 4;  // 2: the shader's fp16-storage variant (texel views R16 formats)
};

// One storage-buffer binding: a range of a buffer (offset aligned to
// minStorageBufferOffsetAlignment, range <= max_binding_range()).
struct BufferRange {
    VkBuffer buffer = VK_NULL_HANDLE;
    uint64_t offset = 0;
    uint64_t range = VK_WHOLE_SIZE;
};

// Descriptor sets (and the texel-buffer views they use) for many dispatches, freed all at
// once with the arena.
class DescriptorArena {
  public:
    DescriptorArena(Context::Impl& ctx, uint32_t max_sets, uint32_t max_buffers);
    VkDescriptorSet make_set(const ComputePipeline& pipeline, std::span<const BufferRange> buffers);

  private:
    VkDevice device_;
    uint64_t max_texel_elements_;
    UniqueDescriptorPool pool_;
    std::vector<UniqueBufferView> views_;
};

struct Context::Impl {
    explicit Impl(const ContextOptions& options);
    ~Impl();

    // Vulkan objects (declaration order = reverse destruction order).
    UniqueInstance instance;
    std::unique_ptr<DebugMessenger> messenger;
    VkPhysicalDevice physical = VK_NULL_HANDLE;
    UniqueDevice device_owner;
    VkDevice device = VK_NULL_HANDLE;
    VkQueue queue = VK_NULL_HANDLE;
    uint32_t queue_family = 0;
    UniqueCommandPool command_pool;
    UniquePipelineCache pipeline_cache;

    DeviceInfo info;
    VkPhysicalDeviceProperties properties{};
    VkPhysicalDeviceMemoryProperties memory_properties{};
    std::atomic<size_t> message_count{0};
    std::function<void(const std::string&)> on_message;

    // Largest range one storage-buffer binding may cover (maxStorageBufferRange, or a smaller
    // override so tests can exercise the split paths on small tensors).
    // element_bytes: 4 (fp32) or 2 (fp16 storage), the size of a texel buffer's texel.
    uint64_t max_binding_range(uint32_t element_bytes = 4) const {
        uint64_t limit =
            std::min<uint64_t>(info.max_storage_buffer_range,
                               uint64_t{properties.limits.maxTexelBufferElements} * element_bytes);
        return max_binding_override ? std::min(max_binding_override, limit) : limit;
    }
    uint64_t max_binding_override = 0;
    // Conv kernel choice: 0 by device type, 1 shared-memory tiles (GPUs), 2 texel-buffer direct
    // (CPUs).
    int conv_variant = 0;
    // Winograd for stride-1 3x3 convs: 0 per layer where measured faster (or as RMVK_WINOGRAD
    // says), 1 never, 2 wherever it applies; winograd_m 2 or 4 allows only F(2,3) or F(4,3).
    int winograd = 0;
    int winograd_m = 0;
    int winograd_orientation = 0;  // as DeviceCaps::winograd_orientation
    // Compute units the planner assumes instead of the device's (tests: split-K on lavapipe).
    uint32_t compute_units_override = 0;
    // False: device-local memory is never mapped even where the host could (tests: the
    // staging paths of discrete GPUs on lavapipe).
    bool map_device_local = true;
    // Command buffers submitted so far (tests: one submit per run).
    std::atomic<uint64_t> submits{0};
    uint64_t offset_alignment() const {
        return std::max(properties.limits.minStorageBufferOffsetAlignment,
                        properties.limits.minTexelBufferOffsetAlignment);
    }

    // Memory type index with all `required` flags (preferring `preferred` ones too) among `bits`.
    uint32_t find_memory_type(uint32_t bits, VkMemoryPropertyFlags required,
                              VkMemoryPropertyFlags preferred) const;

    // A pipeline for shaders/<shader>.comp, cached by name + specialization constants.
    // Bindings are storage buffers, except those in texel_mask (uniform texel buffers, R32_SFLOAT,
    // or R32G32B32A32_SFLOAT for those also in rgba_mask). element_bytes 2: the shader's
    // fp16-storage variant (shaders/NAME_fp16), its texel views R16_SFLOAT / R16G16B16A16_SFLOAT.
    const ComputePipeline& pipeline(std::string_view shader, uint32_t bindings, uint32_t push_bytes,
                                    std::span<const uint32_t> spec_constants = {},
                                    uint32_t texel_mask = 0, uint32_t rgba_mask = 0,
                                    uint32_t element_bytes = 4);
    // Pipelines made so far (each one lavapipe compiles: tests of what runners share).
    size_t pipeline_count() const { return pipelines_.size(); }

    // Records with `record` into a fresh command buffer, submits it and waits for it.
    void submit_and_wait(const std::function<void(VkCommandBuffer)>& record);
    // Submits an already recorded command buffer and waits (fence) for it.
    void submit_and_wait(VkCommandBuffer cmd);

    bool has_timestamps() const { return info.timestamp_valid_bits > 0; }
    UniqueQueryPool make_timestamp_pool(uint32_t count);
    // Nanoseconds per timestamp tick.
    double timestamp_period_ns() const { return info.timestamp_period_ns; }

  private:
    std::map<std::string, std::unique_ptr<ComputePipeline>> pipelines_;
};

// Barrier between dispatches: earlier shader writes visible to later shader reads/writes.
void compute_barrier(VkCommandBuffer cmd);

// Records a dispatch: bind pipeline + set, push constants, vkCmdDispatch.
void record_dispatch(VkCommandBuffer cmd, const ComputePipeline& pipeline, VkDescriptorSet set,
                     const void* push, uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz);

}  // namespace rmvk
