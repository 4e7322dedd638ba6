#pragma once
// What rmvk knows and measures about a device, as plain data: the engine fills these in, bench
// reports carry them to other machines, the UI shows them. No Vulkan types here.
#include <cstdint>
#include <string>

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
};

// The device's own measured peak: vec4 FMA chains and a streaming copy.
struct PeakResult {
    double fma_gflops = 0;
    double bandwidth_gbs = 0;
};

}  // namespace rmvk
