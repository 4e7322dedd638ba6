#include "app/engine/peak_plan.hpp"

#include <algorithm>

namespace rmvk {

namespace {

constexpr uint64_t kFmaBytesCap = 16ull << 20;  // 16384 workgroups' outputs
constexpr uint32_t kCopyPerInvocation = 4;      // vec4s each invocation copies (strided)

}  // namespace

PeakProbeSizes peak_probe_sizes(const PeakDeviceLimits& l) {
    PeakProbeSizes s;
    const bool cpu = l.type == "cpu";
    const uint64_t storage = std::max<uint64_t>(l.max_storage_buffer_range, 16);
    const uint32_t max_groups = std::max<uint32_t>(l.max_workgroup_count_x, 1);
    const uint64_t group_bytes = uint64_t{kPeakGroupSize} * 16;

    // Enough workgroups to fill every compute unit many times over (a CPU driver runs them a
    // few at a time), within a quarter of the largest binding: the growth is in iterations.
    uint64_t groups = cpu ? 64 : l.compute_units ? uint64_t{l.compute_units} * 64 : 16384;
    groups = std::min({groups, uint64_t{max_groups}, kFmaBytesCap / group_bytes,
                       std::max<uint64_t>(storage / 4 / group_bytes, 1)});
    s.fma_groups = static_cast<uint32_t>(groups);
    s.fma_bytes = groups * group_bytes;
    s.fma_first_iterations = 64;
    s.fma_max_iterations = 1u << 24;

    // The copy: several times the last-level cache where known, else 512 MiB on discrete
    // devices; CPU devices keep the probe short (their caches are the host's, and a copy
    // over 2 busy cores costs tens of ms per pass). Never more than half of either binding
    // limit or an eighth of device memory (two buffers and whatever else is resident).
    uint64_t want = cpu ? 64ull << 20 : l.type == "discrete" ? kDiscreteCopyBytes : 256ull << 20;
    if (l.last_level_cache_bytes && !cpu) want = std::max(want, 8 * l.last_level_cache_bytes);
    uint64_t cap = std::min(storage, l.max_texel_buffer_elements * 16) / 2;
    if (l.device_local_memory) cap = std::min(cap, l.device_local_memory / 8);
    cap = std::min<uint64_t>(cap, uint64_t{UINT32_MAX} * 16 / 2);  // the vec4 count is a uint
    s.copy_bytes = std::max<uint64_t>(std::min(want, cap) & ~uint64_t{15}, 16);
    const uint64_t n = s.copy_bytes / 16;
    s.copy_groups = static_cast<uint32_t>(
        std::clamp<uint64_t>(n / (uint64_t{kPeakGroupSize} * kCopyPerInvocation), 1, max_groups));
    return s;
}

}  // namespace rmvk
