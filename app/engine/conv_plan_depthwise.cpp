// The depthwise conv plan (group == input channels == output channels, MobileNet's 3x3
// layers): one dispatch of shaders/depthwise.comp over whole tensors.
#include "app/engine/conv_plan_internal.hpp"

namespace rmvk::conv_detail {

bool plan_depthwise(const ConvProblem& p, const DeviceCaps& caps, ConvPlan& plan) {
    const rm::Attrs& a = *p.attrs;
    const int64_t c = p.x.at(1);
    const bool residual = !p.residual.empty();
    // Forced kernels (tests, tuning) and channel windows keep the general planners.
    if (caps.conv_kernel != DeviceCaps::ConvKernel::Auto || !caps.tile.empty() ||
        caps.winograd == DeviceCaps::Winograd::On)
        return false;
    if (a.group != c || p.y.at(1) != c || a.kernel.size() != 2) return false;
    if ((p.in_channels && p.in_channels != c) || (p.out_channels && p.out_channels != c) ||
        p.x_channel || p.y_channel || p.residual_channel)
        return false;
    const uint64_t limit =
        max_binding_elements(caps.max_binding_bytes, caps.offset_alignment, caps.element_bytes);
    const auto count = [](const rm::Shape& s) {
        return static_cast<uint64_t>(rm::element_count(s));
    };
    const uint64_t outputs = count(p.y);
    const uint64_t kernel = static_cast<uint64_t>(a.kernel[0] * a.kernel[1]);
    if (count(p.x) > limit || outputs > limit || static_cast<uint64_t>(c) * kernel > limit ||
        static_cast<uint64_t>(3 * c) > limit || (residual && count(p.residual) > limit) ||
        outputs >= (1ull << 32))
        return false;

    DepthwiseSpec spec{u32(a.kernel[0]),
                       u32(a.kernel[1]),
                       u32(a.strides[0]),
                       u32(a.strides[1]),
                       static_cast<uint32_t>(conv_act(p)),
                       residual};
    plan.kernels.push_back({"depthwise", spec_words(spec), 5, sizeof(DepthwisePush)});
    plan.name = "depthwise";
    auto bind = [&](ConvOperand operand, uint64_t tensor_first, uint64_t n, uint32_t& offset) {
        BindingRange r =
            binding_range(tensor_first, 0, std::max<uint64_t>(n, 1), caps.offset_alignment,
                          caps.max_binding_bytes, caps.element_bytes);
        offset = r.element_offset;
        return PlannedBinding{operand, r.offset, r.range};
    };
    PlannedDispatch d;
    DepthwisePush push{};
    d.bindings.push_back(bind(ConvOperand::X, p.x_first, count(p.x), push.x_off));
    d.bindings.push_back(bind(ConvOperand::W, 0, static_cast<uint64_t>(c) * kernel, push.w_off));
    if (p.bias)
        d.bindings.push_back(
            bind(ConvOperand::Bias, 0, static_cast<uint64_t>(c * (p.clamp ? 3 : 1)), push.b_off));
    else  // unused (has_bias = 0)
        d.bindings.push_back(bind(ConvOperand::W, 0, 1, push.b_off));
    d.bindings.push_back(bind(ConvOperand::Y, p.y_first, outputs, push.y_off));
    push.r_off = push.y_off;
    d.bindings.push_back(residual
                             ? bind(ConvOperand::Residual, p.residual_first, outputs, push.r_off)
                             : d.bindings.back());
    push.count = u32(static_cast<int64_t>(outputs));
    push.c = u32(c);
    push.h = u32(p.x[2]);
    push.w = u32(p.x[3]);
    push.oh = u32(p.y[2]);
    push.ow = u32(p.y[3]);
    push.dh = u32(a.dilations[0]);
    push.dw = u32(a.dilations[1]);
    push.pad_top = static_cast<int32_t>(a.pads[0]);
    push.pad_left = static_cast<int32_t>(a.pads[1]);
    push.has_bias = p.bias ? 1u : 0u;
    d.push = push;
    grid_1d((outputs + 255) / 256, d.groups);
    plan.dispatches.push_back(std::move(d));
    return true;
}

}  // namespace rmvk::conv_detail
