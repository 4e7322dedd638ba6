// The peak probe's sizes as a pure function of device limits: what it would bind on large
// GPUs that this machine does not have.
#include "app/engine/peak_plan.hpp"

#include <doctest/doctest.h>

using namespace rmvk;

namespace {

// NVIDIA's limits as its drivers report them (maxStorageBufferRange 4 GiB - 1,
// maxTexelBufferElements 2^27, maxComputeWorkGroupCount[0] 2^31 - 1).
PeakDeviceLimits nvidia(uint64_t memory_gib, uint32_t sms, uint64_t l2_mib) {
    PeakDeviceLimits l;
    l.type = "discrete";
    l.max_storage_buffer_range = (1ull << 32) - 1;
    l.max_texel_buffer_elements = 1ull << 27;
    l.max_workgroup_count_x = (1u << 31) - 1;
    l.device_local_memory = memory_gib << 30;
    l.last_level_cache_bytes = l2_mib << 20;
    l.compute_units = sms;
    return l;
}

const PeakDeviceLimits kH100 = nvidia(80, 132, 50);
const PeakDeviceLimits kRtx3090 = nvidia(24, 82, 6);

// Everything the probe binds lies well within the limits, whatever the device.
void check_within(const PeakDeviceLimits& l, const PeakProbeSizes& s) {
    CHECK(s.fma_groups >= 1);
    CHECK(s.fma_groups <= l.max_workgroup_count_x);
    CHECK(s.fma_bytes == uint64_t{s.fma_groups} * kPeakGroupSize * 16);
    CHECK(s.fma_bytes <= l.max_storage_buffer_range / 4);
    CHECK(s.copy_bytes % 16 == 0);
    CHECK(s.copy_bytes <= l.max_storage_buffer_range / 2);
    CHECK(s.copy_bytes <= l.max_texel_buffer_elements * 16 / 2);
    CHECK(s.copy_groups >= 1);
    CHECK(s.copy_groups <= l.max_workgroup_count_x);
    CHECK(s.fma_first_iterations >= 1);
    CHECK(s.fma_max_iterations >= s.fma_first_iterations);
}

}  // namespace

TEST_CASE("on H100- and RTX 3090-class limits the FMA buffer stays small; work grows instead") {
    for (const PeakDeviceLimits& l : {kH100, kRtx3090}) {
        CAPTURE(l.compute_units);
        PeakProbeSizes s = peak_probe_sizes(l);
        check_within(l, s);
        // 64 workgroups per SM fill it; the buffer is a few MiB, nowhere near the 2-4 GiB that
        // doubling the workgroup count to 40 ms would have bound.
        CHECK(s.fma_groups == l.compute_units * 64);
        CHECK(s.fma_bytes <= 16ull << 20);
        // At the largest iteration count one run is > 1 s even at 1 PFLOP/s: enough growth.
        double flops = double(s.fma_groups) * kPeakGroupSize * s.fma_max_iterations * 8 * 4 * 4 * 2;
        CHECK(flops / 1e15 > 1.0);
        // The copy: at least 512 MiB, several times the L2.
        CHECK(s.copy_bytes >= kDiscreteCopyBytes);
        CHECK(s.copy_bytes >= 8 * l.last_level_cache_bytes);
    }
}

TEST_CASE("a known last-level cache larger than 64 MiB makes the copy larger") {
    PeakDeviceLimits l = nvidia(24, 96, 128);  // an Infinity-Cache-sized LLC
    PeakProbeSizes s = peak_probe_sizes(l);
    check_within(l, s);
    CHECK(s.copy_bytes == 1024ull << 20);
    l.last_level_cache_bytes = 0;  // unknown: the discrete default
    CHECK(peak_probe_sizes(l).copy_bytes == kDiscreteCopyBytes);
}

TEST_CASE("small binding limits and small memories cap the copy") {
    PeakDeviceLimits l = kRtx3090;
    l.max_storage_buffer_range = 128ull << 20;  // the Vulkan minimum
    PeakProbeSizes s = peak_probe_sizes(l);
    check_within(l, s);
    CHECK(s.copy_bytes == 64ull << 20);
    CHECK(s.fma_bytes <= 32ull << 20);

    l = kRtx3090;
    l.max_texel_buffer_elements = 65536;  // the minimum: 1 MiB of RGBA texels
    s = peak_probe_sizes(l);
    check_within(l, s);
    CHECK(s.copy_bytes == 512ull << 10);

    l = kRtx3090;
    l.device_local_memory = 1ull << 30;  // an eighth of device memory at most
    CHECK(peak_probe_sizes(l).copy_bytes == 128ull << 20);

    l = kRtx3090;
    l.max_workgroup_count_x = 65535;
    s = peak_probe_sizes(l);
    check_within(l, s);
    CHECK(s.copy_groups == 65535);
}

TEST_CASE("a CPU device (lavapipe) keeps the probe short; unknown GPUs get a fixed grid") {
    PeakDeviceLimits cpu;
    cpu.type = "cpu";
    cpu.max_storage_buffer_range = (1ull << 31) - 1;
    cpu.max_texel_buffer_elements = 1ull << 27;
    cpu.device_local_memory = 8ull << 30;
    PeakProbeSizes s = peak_probe_sizes(cpu);
    check_within(cpu, s);
    CHECK(s.fma_groups == 64);
    CHECK(s.copy_bytes == 64ull << 20);

    PeakDeviceLimits gpu = kRtx3090;
    gpu.compute_units = 0;
    s = peak_probe_sizes(gpu);
    check_within(gpu, s);
    CHECK(s.fma_groups == 16384);
    CHECK(s.fma_bytes == 16ull << 20);
}
