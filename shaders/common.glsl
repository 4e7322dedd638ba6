// Shared helpers for rmvk's compute kernels.
#ifndef RMVK_COMMON_GLSL
#define RMVK_COMMON_GLSL
#extension GL_EXT_control_flow_attributes : enable

// The element type of tensors in storage buffers: fp32, or fp16 when compiled with
// -DRMVK_FP16 (the *_fp16 variant of every shader, for devices with storageBuffer16BitAccess).
// Arithmetic stays fp32: kernels load with float(...) / vec4(...) and store with SFLOAT(...) /
// SVEC4(...). Texel buffers need nothing here: their view's format (R16F or R32F) decides.
#ifdef RMVK_FP16
#extension GL_EXT_shader_16bit_storage : require
#define SFLOAT float16_t
#define SVEC4 f16vec4
#else
#define SFLOAT float
#define SVEC4 vec4
#endif

// Every kernel addresses its buffers as (binding, element offset): the host binds a range whose
// start is aligned to minStorageBufferOffsetAlignment and passes the remaining offset in
// elements, so tensors larger than maxStorageBufferRange can be processed slice by slice.

// ReLU and max that keep NaN, as PyTorch, ONNX Runtime and rmvk's CPU reference do
// (rm/nan_math.hpp). GLSL leaves max() undefined for a NaN operand and drivers return the other
// one, which would turn a NaN into a plausible 0. isnan() is exact in SPIR-V (Mesa and the
// vendors keep it), so this costs a compare and a select.
float relu_keep_nan(float v) {
    return isnan(v) ? v : max(v, 0.0);
}

vec4 relu_keep_nan(vec4 v) {
    return mix(max(v, vec4(0.0)), v, isnan(v));
}

// NaN when either is NaN; otherwise the larger.
float max_keep_nan(float a, float b) {
    return isnan(a) ? a : (isnan(b) ? b : max(a, b));
}

float apply_relu(float v, bool relu) {
    return relu ? relu_keep_nan(v) : v;
}

vec4 apply_relu(vec4 v, bool relu) {
    return relu ? relu_keep_nan(v) : v;
}

// -Inf, the identity of max (the largest finite float is not: a window of -Inf gives -Inf).
float minus_inf() {
    return uintBitsToFloat(0xff800000u);
}

// min(max(v, lo), hi) that keeps NaN, like PyTorch's clamp and rm::cpu::clamp_keep_nan (GLSL
// leaves min/max undefined for NaN and drivers return the other operand).
float clamp_keep_nan(float v, float lo, float hi) {
    return isnan(v) ? v : min(max(v, lo), hi);
}

vec4 clamp_keep_nan(vec4 v, float lo, float hi) {
    return mix(min(max(v, vec4(lo)), vec4(hi)), v, isnan(v));
}

// A conv epilogue's activation (ACT: 0 none, 1 ReLU, 2 per-channel clamp [lo, hi]).
float apply_act(float v, uint act, float lo, float hi) {
    return act == 0   ? v
           : act == 1 ? clamp_keep_nan(v, 0.0, uintBitsToFloat(0x7f800000u))
                      : clamp_keep_nan(v, lo, hi);
}

vec4 apply_act(vec4 v, uint act, float lo, float hi) {
    return act == 0   ? v
           : act == 1 ? clamp_keep_nan(v, 0.0, uintBitsToFloat(0x7f800000u))
                      : clamp_keep_nan(v, lo, hi);
}

// 2-D dispatch index for grids wider than maxComputeWorkGroupCount[0].
uint flat_group_id() {
    return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}

#endif
