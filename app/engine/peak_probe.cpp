// measure_peak: what this device really sustains, so bench can say "% of peak" per layer.
// Arithmetic: shaders/peak_fma.comp (independent vec4 FMA chains), counted as 2 flops per FMA
// per lane. Memory: shaders/peak_bandwidth.comp (streaming copy), counted as bytes read + written.
// How large each is: peak_probe_sizes (peak_plan.hpp).
#include <algorithm>
#include <array>
#include <chrono>

#include "app/engine/context_impl.hpp"
#include "app/engine/peak_plan.hpp"
#include "app/engine/shader_params.hpp"

namespace rmvk {

namespace {

constexpr uint32_t kFmaSteps = 8;   // must match shaders/peak_fma.comp
constexpr uint32_t kFmaChains = 4;  // vec4 chains, must match shaders/peak_fma.comp
constexpr double kMinProbeMs = 40;  // long enough that launch overhead is noise
constexpr int kRepeats = 3;         // best of: the peak is what the device can do

PeakDeviceLimits peak_limits(const Context::Impl& ctx) {
    PeakDeviceLimits l;
    l.type = ctx.info.type;
    l.max_storage_buffer_range = ctx.info.max_storage_buffer_range;
    if (ctx.max_binding_override)
        l.max_storage_buffer_range = std::min(l.max_storage_buffer_range, ctx.max_binding_override);
    l.max_texel_buffer_elements = ctx.properties.limits.maxTexelBufferElements;
    l.max_workgroup_count_x = ctx.properties.limits.maxComputeWorkGroupCount[0];
    l.device_local_memory = ctx.info.device_local_memory;
    return l;
}

// Device time of the commands `record` adds, from timestamps when the queue has them, else
// host wall time around the submit (which then includes the submit overhead).
double time_ms(Context::Impl& ctx, const std::function<void(VkCommandBuffer)>& record) {
    if (!ctx.has_timestamps()) {
        auto t0 = std::chrono::steady_clock::now();
        ctx.submit_and_wait(record);
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
            .count();
    }
    UniqueQueryPool pool = ctx.make_timestamp_pool(2);
    ctx.submit_and_wait([&](VkCommandBuffer cmd) {
        vkCmdResetQueryPool(cmd, pool.get(), 0, 2);
        vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, pool.get(), 0);
        record(cmd);
        vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool.get(), 1);
    });
    std::array<uint64_t, 2> ticks{};
    vk_check(
        vkGetQueryPoolResults(ctx.device, pool.get(), 0, 2, sizeof ticks, ticks.data(),
                              sizeof(uint64_t), VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
        "reading timestamps of the peak probe");
    uint64_t mask =
        ctx.info.timestamp_valid_bits >= 64 ? ~0ull : (1ull << ctx.info.timestamp_valid_bits) - 1;
    uint64_t delta = ((ticks[1] & mask) - (ticks[0] & mask)) & mask;
    return static_cast<double>(delta) * ctx.timestamp_period_ns() * 1e-6;
}

double probe_fma_gflops(Context::Impl& ctx, const PeakProbeSizes& sizes) {
    const auto& pipe =
        ctx.pipeline("peak_fma", 1, sizeof(PeakFmaPush), spec_words(PeakFmaSpec{kPeakGroupSize}));
    Buffer out(ctx, sizes.fma_bytes, MemoryKind::DeviceLocal);
    DescriptorArena arena(ctx, 1, 1);
    BufferRange range{out.handle(), 0, sizes.fma_bytes};
    VkDescriptorSet set = arena.make_set(pipe, std::span(&range, 1));
    auto run = [&](uint32_t iterations) {
        // |x| stays bounded: x -> add / (1 - mul).
        const PeakFmaPush push{0.999f, 0.001f, iterations};
        return time_ms(ctx, [&](VkCommandBuffer cmd) {
            record_dispatch(cmd, pipe, set, &push, sizeof push, sizes.fma_groups, 1, 1);
        });
    };
    // Grow the work per invocation until a run is long enough to measure, then keep the best
    // of a few: the dispatch and its buffer stay the same size.
    uint32_t iterations = sizes.fma_first_iterations;
    double ms = run(iterations);
    while (ms < kMinProbeMs && iterations < sizes.fma_max_iterations) {
        iterations *= 2;
        ms = run(iterations);
    }
    for (int i = 1; i < kRepeats; ++i) ms = std::min(ms, run(iterations));
    double flops =
        double(sizes.fma_groups) * kPeakGroupSize * iterations * kFmaSteps * kFmaChains * 4 * 2;
    return ms > 0 ? flops / (ms * 1e6) : 0;
}

double probe_bandwidth_gbs(Context::Impl& ctx, const PeakProbeSizes& sizes) {
    const uint64_t bytes = sizes.copy_bytes;
    const auto& pipe = ctx.pipeline("peak_bandwidth", 2, sizeof(PeakBandwidthPush),
                                    spec_words(PeakBandwidthSpec{kPeakGroupSize}), 0b01u, 0b01u);
    Buffer src(ctx, bytes, MemoryKind::DeviceLocal);
    Buffer dst(ctx, bytes, MemoryKind::DeviceLocal);
    DescriptorArena arena(ctx, 1, 2);
    std::array<BufferRange, 2> ranges{BufferRange{src.handle(), 0, bytes},
                                      BufferRange{dst.handle(), 0, bytes}};
    VkDescriptorSet set = arena.make_set(pipe, ranges);
    const PeakBandwidthPush push{static_cast<uint32_t>(bytes / 16)};
    auto run = [&] {
        return time_ms(ctx, [&](VkCommandBuffer cmd) {
            record_dispatch(cmd, pipe, set, &push, sizeof push, sizes.copy_groups, 1, 1);
        });
    };
    // The first pass touches the pages for the first time (host memory on CPU drivers).
    run();
    double best = run();
    for (int i = 1; i < kRepeats + 2; ++i) best = std::min(best, run());
    return best > 0 ? 2.0 * double(bytes) / (best * 1e6) : 0;
}

}  // namespace

PeakResult measure_peak(Context& context) {
    PeakResult r;
    const PeakProbeSizes sizes = peak_probe_sizes(peak_limits(context.impl()));
    r.fma_gflops = probe_fma_gflops(context.impl(), sizes);
    r.bandwidth_gbs = probe_bandwidth_gbs(context.impl(), sizes);
    return r;
}

}  // namespace rmvk
