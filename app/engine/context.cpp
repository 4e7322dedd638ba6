// Context: instance, validation messenger, logical device, compute queue, pipelines.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <rmvk_shaders.hpp>

#include "app/engine/context_impl.hpp"
#include "app/engine/device_info.hpp"

namespace rmvk {

// VK_EXT_debug_utils messenger: counts validation warnings/errors and forwards them.
class DebugMessenger {
  public:
    DebugMessenger(VkInstance instance, Context::Impl* ctx) : instance_(instance) {
        auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
        destroy_ = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
        if (!create || !destroy_)
            throw VulkanError("VK_EXT_debug_utils is not available for validation");
        VkDebugUtilsMessengerCreateInfoEXT ci{
            VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
        ci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                             VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
        ci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                         VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT |
                         VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT;
        ci.pfnUserCallback = &DebugMessenger::callback;
        ci.pUserData = ctx;
        vk_check(create(instance, &ci, nullptr, &messenger_), "creating the validation messenger");
    }
    ~DebugMessenger() { destroy_(instance_, messenger_, nullptr); }
    DebugMessenger(const DebugMessenger&) = delete;
    DebugMessenger& operator=(const DebugMessenger&) = delete;

  private:
    static VKAPI_ATTR VkBool32 VKAPI_CALL callback(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                   VkDebugUtilsMessageTypeFlagsEXT,
                                                   const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                   void* user) {
        auto* ctx = static_cast<Context::Impl*>(user);
        ctx->message_count++;
        std::string msg = data && data->pMessage ? data->pMessage : "(empty validation message)";
        if (ctx->on_message)
            ctx->on_message(msg);
        else
            std::fprintf(stderr, "vulkan validation: %s\n", msg.c_str());
        return VK_FALSE;
    }
    VkInstance instance_;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    PFN_vkDestroyDebugUtilsMessengerEXT destroy_ = nullptr;
};

Context::Impl::Impl(const ContextOptions& options) : on_message(options.on_message) {
    const char* env = std::getenv("RMVK_VALIDATION");
    bool validation = options.validation || (env && std::strcmp(env, "1") == 0);
    instance = create_instance(validation);
    if (validation) messenger = std::make_unique<DebugMessenger>(instance.get(), this);

    auto all = physical_devices(instance.get());
    std::vector<DeviceInfo> usable;
    for (size_t i = 0; i < all.size(); ++i)
        if (compute_queue_family(all[i]))
            usable.push_back(describe_device(all[i], static_cast<int>(i)));
    int index = choose_device(usable, options.device);
    physical = all[static_cast<size_t>(index)];
    for (const auto& d : usable)
        if (d.index == index) info = d;
    queue_family = *compute_queue_family(physical);
    vkGetPhysicalDeviceProperties(physical, &properties);
    vkGetPhysicalDeviceMemoryProperties(physical, &memory_properties);

    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = queue_family;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    // fp16 storage (RunOptions::precision) where the device has it; nothing else is enabled.
    VkPhysicalDevice16BitStorageFeatures storage16{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    storage16.storageBuffer16BitAccess = info.storage_buffer_16bit ? VK_TRUE : VK_FALSE;
    VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    features.pNext = &storage16;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    if (info.storage_buffer_16bit) dci.pNext = &features;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    VkDevice dev = VK_NULL_HANDLE;
    vk_check(vkCreateDevice(physical, &dci, nullptr, &dev), "creating the Vulkan device");
    device_owner = UniqueDevice(dev);
    device = dev;
    vkGetDeviceQueue(device, queue_family, 0, &queue);

    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = queue_family;
    VkCommandPool pool = VK_NULL_HANDLE;
    vk_check(vkCreateCommandPool(device, &pci, nullptr, &pool), "creating a command pool");
    command_pool = UniqueCommandPool(device, pool);

    VkPipelineCacheCreateInfo cci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    VkPipelineCache cache = VK_NULL_HANDLE;
    vk_check(vkCreatePipelineCache(device, &cci, nullptr, &cache), "creating a pipeline cache");
    pipeline_cache = UniquePipelineCache(device, cache);
}

Context::Impl::~Impl() {
    if (device) vkDeviceWaitIdle(device);
    // Children of the device go before it; the device before the messenger and instance.
    pipelines_.clear();
    pipeline_cache.reset();
    command_pool.reset();
}

uint32_t Context::Impl::find_memory_type(uint32_t bits, VkMemoryPropertyFlags required,
                                         VkMemoryPropertyFlags preferred) const {
    for (uint32_t i = 0; i < memory_properties.memoryTypeCount; ++i) {
        auto f = memory_properties.memoryTypes[i].propertyFlags;
        if ((bits & (1u << i)) && (f & (required | preferred)) == (required | preferred)) return i;
    }
    for (uint32_t i = 0; i < memory_properties.memoryTypeCount; ++i) {
        auto f = memory_properties.memoryTypes[i].propertyFlags;
        if ((bits & (1u << i)) && (f & required) == required) return i;
    }
    throw VulkanError("no suitable Vulkan memory type on " + info.name);
}

const ComputePipeline& Context::Impl::pipeline(std::string_view shader, uint32_t bindings,
                                               uint32_t push_bytes, std::span<const uint32_t> spec,
                                               uint32_t texel_mask, uint32_t rgba_mask,
                                               uint32_t element_bytes) {
    std::string name(shader);
    if (element_bytes == 2) name += "_fp16";
    std::string key = name;
    key += "/" + std::to_string(texel_mask) + "/" + std::to_string(rgba_mask);
    for (uint32_t v : spec) key += ":" + std::to_string(v);
    auto it = pipelines_.find(key);
    if (it != pipelines_.end()) return *it->second;

    auto code = shaders::find(name);
    if (code.empty()) throw VulkanError("internal error: no compiled shader named '" + name + "'");
    auto p = std::make_unique<ComputePipeline>();
    p->bindings = bindings;
    p->push_bytes = push_bytes;
    p->texel_mask = texel_mask;
    p->rgba_mask = rgba_mask & texel_mask;
    p->element_bytes = element_bytes;

    std::vector<VkDescriptorSetLayoutBinding> b(bindings);
    for (uint32_t i = 0; i < bindings; ++i)
        b[i] = {i,
                (texel_mask >> i) & 1 ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                      : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
    VkDescriptorSetLayoutCreateInfo lci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    lci.bindingCount = bindings;
    lci.pBindings = b.data();
    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    vk_check(vkCreateDescriptorSetLayout(device, &lci, nullptr, &set_layout),
             "creating a descriptor set layout");
    p->set_layout = UniqueSetLayout(device, set_layout);

    VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes};
    VkPipelineLayoutCreateInfo plci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    plci.setLayoutCount = 1;
    plci.pSetLayouts = &set_layout;
    plci.pushConstantRangeCount = push_bytes ? 1 : 0;
    plci.pPushConstantRanges = &range;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    vk_check(vkCreatePipelineLayout(device, &plci, nullptr, &layout), "creating a pipeline layout");
    p->layout = UniquePipelineLayout(device, layout);

    VkShaderModuleCreateInfo sci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    sci.codeSize = code.size() * sizeof(uint32_t);
    sci.pCode = code.data();
    VkShaderModule module = VK_NULL_HANDLE;
    vk_check(vkCreateShaderModule(device, &sci, nullptr, &module), "creating shader module " + key);
    UniqueShaderModule module_owner(device, module);

    std::vector<VkSpecializationMapEntry> entries(spec.size());
    for (uint32_t i = 0; i < spec.size(); ++i) entries[i] = {i, i * 4u, 4u};
    VkSpecializationInfo si{static_cast<uint32_t>(entries.size()), entries.data(), spec.size() * 4u,
                            spec.data()};
    VkComputePipelineCreateInfo cpci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    cpci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
    cpci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    cpci.stage.module = module;
    cpci.stage.pName = "main";
    cpci.stage.pSpecializationInfo = spec.empty() ? nullptr : &si;
    cpci.layout = layout;
    VkPipeline pipe = VK_NULL_HANDLE;
    vk_check(vkCreateComputePipelines(device, pipeline_cache.get(), 1, &cpci, nullptr, &pipe),
             "creating compute pipeline " + key);
    p->pipeline = UniquePipeline(device, pipe);
    return *(pipelines_[key] = std::move(p));
}

void Context::Impl::submit_and_wait(VkCommandBuffer cmd) {
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence = VK_NULL_HANDLE;
    vk_check(vkCreateFence(device, &fci, nullptr, &fence), "creating a fence");
    UniqueFence fence_owner(device, fence);
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd;
    vk_check(vkQueueSubmit(queue, 1, &si, fence), "submitting work to the GPU");
    ++submits;
    vk_check(vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX), "waiting for the GPU");
}

void Context::Impl::submit_and_wait(const std::function<void(VkCommandBuffer)>& record) {
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = command_pool.get();
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    vk_check(vkAllocateCommandBuffers(device, &ai, &cmd), "allocating a command buffer");
    struct Free {
        VkDevice d;
        VkCommandPool p;
        VkCommandBuffer c;
        ~Free() { vkFreeCommandBuffers(d, p, 1, &c); }
    } free_cmd{device, command_pool.get(), cmd};
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vk_check(vkBeginCommandBuffer(cmd, &bi), "beginning a command buffer");
    record(cmd);
    vk_check(vkEndCommandBuffer(cmd), "recording a command buffer");
    submit_and_wait(cmd);
}

UniqueQueryPool Context::Impl::make_timestamp_pool(uint32_t count) {
    VkQueryPoolCreateInfo qci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qci.queryCount = count;
    VkQueryPool pool = VK_NULL_HANDLE;
    vk_check(vkCreateQueryPool(device, &qci, nullptr, &pool), "creating a timestamp query pool");
    return UniqueQueryPool(device, pool);
}

Context::Context(const ContextOptions& options) : impl_(std::make_unique<Impl>(options)) {}
Context::~Context() = default;
const DeviceInfo& Context::device() const {
    return impl_->info;
}
size_t Context::validation_message_count() const {
    return impl_->message_count;
}

}  // namespace rmvk
