#pragma once
// What rmvk knows and measures about a device, as plain data: the engine fills these in, bench
// reports carry them to other machines, the UI shows them. No Vulkan types here.
#include <cstdint>
#include <string>
#include <vector>

namespace rmvk {

// What a user needs to know about a Vulkan physical device (rmvk devices, the device picker).
struct DeviceInfo {
    int index = 0;
    std::string name;
    std::string vendor;       // "NVIDIA", "AMD", "Intel", "Mesa (llvmpipe)", or the vendor id
    std::string type;         // "discrete", "integrated", "virtual", "cpu", "other"
    std::string driver;       // driver name and info
    std::string api_version;  // "1.3.230"
    uint64_t max_storage_buffer_range = 0;
    uint32_t max_compute_shared_memory = 0;
    uint32_t max_workgroup_invocations = 0;
    uint32_t subgroup_size = 0;
    bool subgroup_shuffle =
        false;  // compute shaders can shuffle between lanes (the CPU conv kernel needs it)
    uint32_t timestamp_valid_bits = 0;  // 0: no timestamps on the compute queue
    float timestamp_period_ns = 0;
    uint64_t device_local_memory = 0;
    // Shader cores that run workgroups side by side (NVIDIA SMs, AMD CUs), for sizing grids:
    // from VK_NV_shader_sm_builtins or VK_AMD_shader_core_properties, else a default by device
    // type (default_compute_units); compute_units_source says which.
    uint32_t compute_units = 0;
    std::string compute_units_source;   // "VK_NV_shader_sm_builtins", ..., "default"
    uint32_t queue_family = 0;          // the compute queue family rmvk uses
    bool storage_buffer_16bit = false;  // storageBuffer16BitAccess (fp16 in storage buffers)
    bool shader_float16 = false;        // shaderFloat16 (fp16 arithmetic)
    bool cooperative_matrix = false;    // VK_KHR_cooperative_matrix or VK_NV_cooperative_matrix
    // One line per memory type: its heap's size and its property flags.
    std::vector<std::string> memory_types;
};

// Compute units assumed when the driver reports none: discrete 32 (Intel Arc A770's Xe cores;
// NVIDIA and AMD report theirs), integrated 8, CPU devices 1 (lavapipe runs a few workgroups at
// a time anyway), others 8.
inline uint32_t default_compute_units(const std::string& type) {
    if (type == "discrete") return 32;
    if (type == "cpu") return 1;
    return 8;
}

// The device's own measured peak: vec4 FMA chains and a streaming copy.
struct PeakResult {
    double fma_gflops = 0;
    double bandwidth_gbs = 0;
};

}  // namespace rmvk
