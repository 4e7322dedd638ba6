#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>

#include "app/engine/device_info.hpp"
#include "app/vulkan/vulkan_error.hpp"

namespace rmvk {
namespace {

std::string vendor_name(uint32_t id, const std::string& device_name) {
    switch (id) {
        case 0x10DE:
            return "NVIDIA";
        case 0x1002:
            return "AMD";
        case 0x8086:
            return "Intel";
        case 0x13B5:
            return "ARM";
        case 0x5143:
            return "Qualcomm";
        case 0x10005:
            return device_name.find("llvmpipe") != std::string::npos ? "Mesa (llvmpipe)" : "Mesa";
        default: {
            char buf[32];
            std::snprintf(buf, sizeof buf, "0x%X", id);
            return buf;
        }
    }
}

std::string type_name(VkPhysicalDeviceType t) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
            return "discrete";
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
            return "integrated";
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
            return "virtual";
        case VK_PHYSICAL_DEVICE_TYPE_CPU:
            return "cpu";
        default:
            return "other";
    }
}

std::string version_string(uint32_t v) {
    return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) +
           "." + std::to_string(VK_API_VERSION_PATCH(v));
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool layer_available(const char* name) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, nullptr);
    std::vector<VkLayerProperties> layers(n);
    vkEnumerateInstanceLayerProperties(&n, layers.data());
    for (const auto& l : layers)
        if (std::strcmp(l.layerName, name) == 0) return true;
    return false;
}

bool has_extension(const std::vector<VkExtensionProperties>& extensions, const char* name) {
    for (const auto& e : extensions)
        if (std::strcmp(e.extensionName, name) == 0) return true;
    return false;
}

std::string memory_flags(VkMemoryPropertyFlags f) {
    std::string s;
    auto add = [&](VkMemoryPropertyFlags bit, const char* name) {
        if (!(f & bit)) return;
        if (!s.empty()) s += ' ';
        s += name;
    };
    add(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, "device-local");
    add(VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, "host-visible");
    add(VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, "host-coherent");
    add(VK_MEMORY_PROPERTY_HOST_CACHED_BIT, "host-cached");
    add(VK_MEMORY_PROPERTY_LAZILY_ALLOCATED_BIT, "lazily-allocated");
    return s.empty() ? "none" : s;
}

std::string gib(uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1ull << 30));
    return buf;
}

}  // namespace

UniqueInstance create_instance(bool validation) {
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "rmvk";
    app.pEngineName = "rmvk";
    app.apiVersion = VK_API_VERSION_1_1;
    std::vector<const char*> layers, extensions;
    if (validation) {
        if (!layer_available("VK_LAYER_KHRONOS_validation"))
            throw VulkanError(
                "validation requested but VK_LAYER_KHRONOS_validation is not installed "
                "(install vulkan-validationlayers)");
        layers.push_back("VK_LAYER_KHRONOS_validation");
        extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    }
    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pApplicationInfo = &app;
    ci.enabledLayerCount = static_cast<uint32_t>(layers.size());
    ci.ppEnabledLayerNames = layers.data();
    ci.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    ci.ppEnabledExtensionNames = extensions.data();
    VkInstance instance = VK_NULL_HANDLE;
    VkResult r = vkCreateInstance(&ci, nullptr, &instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        throw VulkanError(
            "no Vulkan device found (install mesa-vulkan-drivers for the CPU driver lavapipe)");
    vk_check(r, "creating the Vulkan instance");
    return UniqueInstance(instance);
}

std::vector<VkPhysicalDevice> physical_devices(VkInstance instance) {
    uint32_t n = 0;
    vk_check(vkEnumeratePhysicalDevices(instance, &n, nullptr), "listing Vulkan devices");
    std::vector<VkPhysicalDevice> devices(n);
    vk_check(vkEnumeratePhysicalDevices(instance, &n, devices.data()), "listing Vulkan devices");
    devices.resize(n);
    return devices;
}

std::optional<uint32_t> compute_queue_family(VkPhysicalDevice device) {
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(device, &n, nullptr);
    std::vector<VkQueueFamilyProperties> families(n);
    vkGetPhysicalDeviceQueueFamilyProperties(device, &n, families.data());
    std::optional<uint32_t> any;
    for (uint32_t i = 0; i < n; ++i) {
        if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
        if (!(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) return i;  // dedicated compute
        if (!any) any = i;
    }
    return any;
}

DeviceInfo describe_device(VkPhysicalDevice device, int index) {
    VkPhysicalDeviceSubgroupProperties subgroup{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 props2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    props2.pNext = &subgroup;
    VkPhysicalDeviceProperties basic{};
    vkGetPhysicalDeviceProperties(device, &basic);
    // VkPhysicalDeviceDriverProperties is core only in 1.2; ask for it only where it exists.
    if (basic.apiVersion >= VK_API_VERSION_1_2) subgroup.pNext = &driver;
    // Compute-unit counts from the vendor extensions that report them.
    uint32_t n_ext = 0;
    vkEnumerateDeviceExtensionProperties(device, nullptr, &n_ext, nullptr);
    std::vector<VkExtensionProperties> extensions(n_ext);
    vkEnumerateDeviceExtensionProperties(device, nullptr, &n_ext, extensions.data());
    extensions.resize(n_ext);
    VkPhysicalDeviceShaderSMBuiltinsPropertiesNV nv_sm{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SM_BUILTINS_PROPERTIES_NV};
    VkPhysicalDeviceShaderCorePropertiesAMD amd_core{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_PROPERTIES_AMD};
    const bool has_nv_sm = has_extension(extensions, VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME);
    const bool has_amd_core =
        has_extension(extensions, VK_AMD_SHADER_CORE_PROPERTIES_EXTENSION_NAME);
    if (has_nv_sm) {
        nv_sm.pNext = props2.pNext;
        props2.pNext = &nv_sm;
    }
    if (has_amd_core) {
        amd_core.pNext = props2.pNext;
        props2.pNext = &amd_core;
    }
    vkGetPhysicalDeviceProperties2(device, &props2);
    const auto& p = props2.properties;

    DeviceInfo info;
    info.index = index;
    info.name = p.deviceName;
    info.vendor = vendor_name(p.vendorID, info.name);
    info.type = type_name(p.deviceType);
    if (basic.apiVersion >= VK_API_VERSION_1_2) {
        info.driver = driver.driverName;
        if (driver.driverInfo[0]) info.driver += std::string(" ") + driver.driverInfo;
    } else {
        info.driver = "driver " + std::to_string(p.driverVersion);
    }
    info.api_version = version_string(p.apiVersion);
    info.max_storage_buffer_range = p.limits.maxStorageBufferRange;
    info.max_compute_shared_memory = p.limits.maxComputeSharedMemorySize;
    info.max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;
    info.subgroup_size = subgroup.subgroupSize;
    info.subgroup_shuffle = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                            (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
    info.timestamp_period_ns = p.limits.timestampPeriod;

    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(device, &n, nullptr);
    std::vector<VkQueueFamilyProperties> families(n);
    vkGetPhysicalDeviceQueueFamilyProperties(device, &n, families.data());
    if (auto q = compute_queue_family(device)) {
        info.queue_family = *q;
        info.timestamp_valid_bits = families[*q].timestampValidBits;
    }
    if (p.limits.timestampPeriod <= 0) info.timestamp_valid_bits = 0;

    VkPhysicalDeviceMemoryProperties mem{};
    vkGetPhysicalDeviceMemoryProperties(device, &mem);
    for (uint32_t h = 0; h < mem.memoryHeapCount; ++h)
        if (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            info.device_local_memory += mem.memoryHeaps[h].size;
    for (uint32_t t = 0; t < mem.memoryTypeCount; ++t)
        info.memory_types.push_back("heap " + std::to_string(mem.memoryTypes[t].heapIndex) + " (" +
                                    gib(mem.memoryHeaps[mem.memoryTypes[t].heapIndex].size) +
                                    "): " + memory_flags(mem.memoryTypes[t].propertyFlags));

    if (has_nv_sm && nv_sm.shaderSMCount) {
        info.compute_units = nv_sm.shaderSMCount;
        info.compute_units_source = VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME;
    } else if (has_amd_core && amd_core.shaderEngineCount) {
        info.compute_units = amd_core.shaderEngineCount * amd_core.shaderArraysPerEngineCount *
                             amd_core.computeUnitsPerShaderArray;
        info.compute_units_source = VK_AMD_SHADER_CORE_PROPERTIES_EXTENSION_NAME;
    }
    if (!info.compute_units) {
        info.compute_units = default_compute_units(info.type);
        info.compute_units_source = "default";
    }

    // Features: fp16 storage (core 1.1) and arithmetic (1.2, or VK_KHR_shader_float16_int8).
    VkPhysicalDevice16BitStorageFeatures storage16{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features float16{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    features.pNext = &storage16;
    if (basic.apiVersion >= VK_API_VERSION_1_2 ||
        has_extension(extensions, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME))
        storage16.pNext = &float16;
    vkGetPhysicalDeviceFeatures2(device, &features);
    info.storage_buffer_16bit = storage16.storageBuffer16BitAccess;
    info.shader_float16 = float16.shaderFloat16;
    info.cooperative_matrix = has_extension(extensions, "VK_KHR_cooperative_matrix") ||
                              has_extension(extensions, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
    return info;
}

std::vector<DeviceInfo> list_devices() {
    std::optional<UniqueInstance> instance;
    try {
        instance.emplace(create_instance(false));
    } catch (const VulkanError&) {
        return {};  // no loader or no driver: simply no devices
    }
    std::vector<DeviceInfo> out;
    auto devices = physical_devices(instance->get());
    for (size_t i = 0; i < devices.size(); ++i) {
        if (!compute_queue_family(devices[i])) continue;
        out.push_back(describe_device(devices[i], static_cast<int>(i)));
    }
    return out;
}

int choose_device(const std::vector<DeviceInfo>& devices, const std::string& choice) {
    if (devices.empty())
        throw VulkanError(
            "no Vulkan device found (install mesa-vulkan-drivers for the CPU driver lavapipe)");
    if (choice.empty()) {
        for (const char* type : {"discrete", "integrated", "virtual", "cpu", "other"})
            for (const auto& d : devices)
                if (d.type == type) return d.index;
        return devices.front().index;
    }
    bool numeric = std::all_of(choice.begin(), choice.end(),
                               [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    for (const auto& d : devices) {
        if (numeric ? std::to_string(d.index) == choice
                    : lower(d.name).find(lower(choice)) != std::string::npos)
            return d.index;
    }
    std::string available;
    for (const auto& d : devices) {
        if (!available.empty()) available += ", ";
        available += std::to_string(d.index) + ": " + d.name;
    }
    throw VulkanError("no Vulkan device matches '" + choice + "' (available: " + available + ")");
}

}  // namespace rmvk
