#pragma once
// Sizes for the peak probe (peak_probe.cpp) as a pure function of the device's limits, so a
// test can check what it would bind on devices this machine does not have. The arithmetic
// probe keeps its buffer fixed and grows the work per invocation; the bandwidth probe copies
// a buffer much larger than the device's caches, capped well within the largest binding.
#include <cstdint>
#include <string>

namespace rmvk {

struct PeakDeviceLimits {
    std::string type = "discrete";  // as DeviceInfo::type
    uint64_t max_storage_buffer_range = 128ull << 20;
    uint64_t max_texel_buffer_elements = 65536;  // the copy's source is an RGBA texel buffer
    uint32_t max_workgroup_count_x = 65535;
    uint64_t device_local_memory = 0;
    // 0: unknown. Vulkan reports no cache sizes; a caller that knows one (a table, the host's
    // cache for a CPU device) may pass it.
    uint64_t last_level_cache_bytes = 0;
    uint32_t compute_units = 0;  // 0: unknown
};

struct PeakProbeSizes {
    // Arithmetic: one dispatch of fma_groups workgroups of kPeakGroupSize writing one vec4
    // each (fma_bytes, bound as exactly that range), repeated with iterations doubling from
    // fma_first_iterations (at most fma_max_iterations) until it runs long enough to time.
    uint32_t fma_groups = 0;
    uint64_t fma_bytes = 0;
    uint32_t fma_first_iterations = 0, fma_max_iterations = 0;
    // Bandwidth: source and destination of copy_bytes each (a multiple of 16).
    uint64_t copy_bytes = 0;
    uint32_t copy_groups = 0;
};

constexpr uint32_t kPeakGroupSize = 64;
// Bytes the copy probe aims for on discrete devices when their cache size is unknown: several
// times the largest last-level cache of current GPUs (AMD's 128 MiB Infinity Cache, NVIDIA
// H100's 50 MiB L2).
constexpr uint64_t kDiscreteCopyBytes = 512ull << 20;

PeakProbeSizes peak_probe_sizes(const PeakDeviceLimits& limits);

}  // namespace rmvk
