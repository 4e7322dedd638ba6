// Conv on the device: the planner's device description, and a plan turned into pipelines and
// descriptor ranges.
#include <cstdlib>
#include <string>

#include "app/engine/kernel_plan.hpp"

namespace rmvk {

DeviceCaps device_caps(const Context::Impl& ctx, uint32_t element_bytes) {
    DeviceCaps caps;
    caps.element_bytes = element_bytes;
    caps.type = ctx.info.type;
    caps.subgroup_shuffle = ctx.info.subgroup_shuffle;
    caps.subgroup_size = std::max<uint32_t>(ctx.info.subgroup_size, 1);
    caps.max_binding_bytes = ctx.max_binding_range(element_bytes);
    caps.offset_alignment = ctx.offset_alignment();
    using K = DeviceCaps::ConvKernel;
    caps.conv_kernel = ctx.conv_variant == 1   ? K::Tiled
                       : ctx.conv_variant == 2 ? K::Direct
                                               : K::Auto;
    using W = DeviceCaps::Winograd;
    caps.winograd = ctx.winograd == 1 ? W::Off : ctx.winograd == 2 ? W::On : W::Auto;
    caps.winograd_m = static_cast<uint32_t>(ctx.winograd_m);
    caps.winograd_orientation = ctx.winograd_orientation;
    caps.max_workgroup_invocations = ctx.info.max_workgroup_invocations;
    caps.max_shared_memory = ctx.info.max_compute_shared_memory;
    caps.compute_units =
        ctx.compute_units_override ? ctx.compute_units_override : ctx.info.compute_units;
    apply_tuning_overrides(caps, std::getenv("RMVK_WINOGRAD"), std::getenv("RMVK_CONV_TILE"),
                           std::getenv("RMVK_CONV_CU"));
    return caps;
}

std::vector<Dispatch> realize_conv_plan(Context::Impl& ctx, const ConvPlan& plan,
                                        const std::array<VkBuffer, kConvOperands>& buffers,
                                        uint32_t element_bytes) {
    std::vector<const ComputePipeline*> pipelines;
    for (const auto& k : plan.kernels)
        pipelines.push_back(&ctx.pipeline(k.shader, k.bindings, k.push_bytes, k.spec, k.texel_mask,
                                          k.rgba_mask, element_bytes));
    std::vector<Dispatch> out;
    for (const auto& pd : plan.dispatches) {
        Dispatch d;
        d.pipeline = pipelines.at(pd.kernel);
        for (const auto& b : pd.bindings) {
            VkBuffer buffer = buffers.at(static_cast<size_t>(b.operand));
            if (buffer == VK_NULL_HANDLE)
                throw VulkanError("internal error: a conv plan binds a tensor it was not given");
            d.ranges.push_back({buffer, b.offset, b.range});
        }
        d.push = pd.push;
        std::copy(pd.groups, pd.groups + 3, d.groups);
        d.after_previous = pd.after_previous;
        out.push_back(std::move(d));
    }
    return out;
}

}  // namespace rmvk
