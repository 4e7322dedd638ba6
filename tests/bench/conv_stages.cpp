// Device time of each dispatch of one conv's plans, the plans timed in turn (interleaved, so a
// busy machine slows all of them alike) and the best of ROUNDS kept; and the work each did, in
// the units of the planner's cost model (conv_plan.cpp): ns per multiply-add slot for the
// spatial kernels and the GEMM, ns per transformed element for the Winograd transforms.
// Not a test: tests/bench/winograd_layers.sh runs it over the ResNet layer shapes.
//
// usage: conv_stages C HW BATCH OC ROUNDS PLAN...
//   PLAN: direct | auto | f2 | f4, with t or c appended for the GEMM's orientation (tiles or
//   output channels across lanes), e.g. f4c.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "app/engine/context_impl.hpp"
#include "app/engine/conv_plan_internal.hpp"
#include "app/engine/kernel_plan.hpp"

using namespace rmvk;

namespace {

struct Timed {
    std::string tag;
    ConvPlan plan;
    std::vector<std::unique_ptr<Buffer>> buffers;
    std::vector<Dispatch> dispatches;
    std::unique_ptr<DescriptorArena> arena;
    std::vector<VkDescriptorSet> sets;
    std::vector<double> best_ms;
};

DeviceCaps caps_for(const std::string& tag, DeviceCaps caps) {
    using W = DeviceCaps::Winograd;
    caps.winograd = tag == "direct" ? W::Off : tag == "auto" ? W::Auto : W::On;
    if (tag.size() >= 2 && tag[0] == 'f') caps.winograd_m = static_cast<uint32_t>(tag[1] - '0');
    if (tag.size() == 3) caps.winograd_orientation = tag[2] == 'c' ? 2 : 1;
    return caps;
}

// The work of dispatch i in cost-model units.
double units(const ConvPlan& plan, size_t i) {
    const ConvKernelUse& k = plan.kernels.at(plan.dispatches[i].kernel);
    if (k.shader == "winograd_input") return static_cast<double>(plan.winograd_input_elements);
    if (k.shader == "winograd_output") return static_cast<double>(plan.winograd_product_elements);
    ConvSpec spec;
    std::memcpy(&spec, k.spec.data(), sizeof spec);
    const ConvPush push = plan.dispatches[i].push.as<ConvPush>();
    const uint32_t* g = plan.dispatches[i].groups;
    return static_cast<double>(g[0]) * spec.tn * g[1] * spec.tm * g[2] * push.cg * spec.kh *
           spec.kw;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 7) {
        std::fprintf(stderr, "usage: conv_stages C HW BATCH OC ROUNDS PLAN...\n");
        return 2;
    }
    const int64_t c = std::atoll(argv[1]), hw = std::atoll(argv[2]), n = std::atoll(argv[3]),
                  oc = std::atoll(argv[4]);
    const int rounds = std::atoi(argv[5]);
    Context context;
    Context::Impl& ctx = context.impl();
    rm::Attrs a;
    a.kernel = {3, 3};
    a.pads = {1, 1, 1, 1};
    ConvProblem p;
    p.x = {n, c, hw, hw};
    p.y = {n, oc, hw, hw};
    p.bias = true;
    p.relu = true;
    p.attrs = &a;
    std::vector<Timed> plans;
    for (int i = 6; i < argc; ++i) {
        Timed t;
        t.tag = argv[i];
        t.plan = plan_conv(p, caps_for(t.tag, device_caps(ctx)));
        rm::Tensor w = conv_device_weights(rm::Tensor({oc, c, 3, 3}, 0.01f), 1, t.plan.weights);
        auto buffer = [&](uint64_t elements) {
            t.buffers.push_back(std::make_unique<Buffer>(ctx, std::max<uint64_t>(elements, 1) * 4,
                                                         MemoryKind::DeviceLocal));
            return t.buffers.back()->handle();
        };
        std::array<VkBuffer, kConvOperands> b{};
        b[size_t(ConvOperand::X)] = buffer(static_cast<uint64_t>(rm::element_count(p.x)));
        b[size_t(ConvOperand::W)] = buffer(static_cast<uint64_t>(w.size()));
        b[size_t(ConvOperand::Bias)] = buffer(static_cast<uint64_t>(oc));
        b[size_t(ConvOperand::Y)] = buffer(static_cast<uint64_t>(rm::element_count(p.y)));
        b[size_t(ConvOperand::WinogradInput)] = buffer(t.plan.winograd_input_elements);
        b[size_t(ConvOperand::WinogradProduct)] = buffer(t.plan.winograd_product_elements);
        t.dispatches = realize_conv_plan(ctx, t.plan, b);
        const uint32_t count = static_cast<uint32_t>(t.dispatches.size());
        t.arena = std::make_unique<DescriptorArena>(ctx, count, count * 5);
        for (const auto& d : t.dispatches)
            t.sets.push_back(t.arena->make_set(*d.pipeline, d.ranges));
        t.best_ms.assign(t.dispatches.size(), 1e30);
        plans.push_back(std::move(t));
    }
    UniqueQueryPool queries = ctx.make_timestamp_pool(8);
    for (int r = 0; r < rounds; ++r)
        for (auto& t : plans) {
            const uint32_t count = static_cast<uint32_t>(t.dispatches.size()) + 1;
            ctx.submit_and_wait([&](VkCommandBuffer cmd) {
                vkCmdResetQueryPool(cmd, queries.get(), 0, count);
                vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, queries.get(), 0);
                for (size_t i = 0; i < t.dispatches.size(); ++i) {
                    const Dispatch& d = t.dispatches[i];
                    compute_barrier(cmd);
                    record_dispatch(cmd, *d.pipeline, t.sets[i], d.push.data(), d.push.size(),
                                    d.groups[0], d.groups[1], d.groups[2]);
                    compute_barrier(cmd);
                    vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, queries.get(),
                                        static_cast<uint32_t>(i + 1));
                }
            });
            std::vector<uint64_t> ticks(count);
            vk_check(
                vkGetQueryPoolResults(ctx.device, queries.get(), 0, count, count * 8, ticks.data(),
                                      8, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
                "reading timestamps");
            for (size_t i = 0; i < t.dispatches.size(); ++i)
                t.best_ms[i] = std::min(t.best_ms[i], static_cast<double>(ticks[i + 1] - ticks[i]) *
                                                          ctx.timestamp_period_ns() * 1e-6);
        }
    for (const auto& t : plans) {
        double total = 0;
        for (double ms : t.best_ms) total += ms;
        std::printf("%ld %ld %ld %ld %-6s %-16s %s total_ms %.3f estimate_ms %.3f stages", c, hw, n,
                    oc, t.tag.c_str(), t.plan.name.c_str(),
                    t.plan.weights.winograd_transposed ? "c" : "t", total,
                    conv_detail::estimated_ns(t.plan) * 1e-6);
        for (size_t i = 0; i < t.best_ms.size(); ++i)
            std::printf(" %s:%.3fms:%.4fns",
                        t.plan.kernels[t.plan.dispatches[i].kernel].shader.c_str(), t.best_ms[i],
                        t.best_ms[i] * 1e6 / units(t.plan, i));
        std::printf("\n");
    }
    return 0;
}
