#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Element-wise ops over a flat range: Relu, binary ops (Add, Mul; numpy broadcasting over up to
// 4 dims via strides, optional fused ReLU) and BatchNormalization (per channel
// y = (x - mean) * scale + shift, as rm::cpu::batchnorm computes it).
layout(local_size_x = 256) in;
// 0: relu, 1: binary op, 2: batchnorm, 3: per-channel clamp (b: (lo, hi) per channel)
layout(constant_id = 0) const uint MODE = 0;
layout(constant_id = 1) const bool RELU = false;
layout(constant_id = 2) const bool SAME_SHAPE = true;
// binary: 0 add, 1 mul, 2 max, 3 min, 4 prelu (rmvk::BinaryOp)
layout(constant_id = 3) const uint OP = 0;
layout(constant_id = 4) const bool A_FULL = true;  // binary: a has the output's shape (sliced)
layout(std430, binding = 0) readonly buffer A {
    SFLOAT a[];
};
layout(std430, binding = 1) readonly buffer B {
    SFLOAT b[];
};  // binary: 2nd operand; bn: (scale, mean, shift) per channel
layout(std430, binding = 2) writeonly buffer Y {
    SFLOAT y[];
};
// Must match EltwisePush and EltwiseSpec in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    uint a_off, b_off, y_off;
    uint count;        // elements in this dispatch
    uint first;        // index of the first element in the whole tensor (broadcast / channel math)
    uint dims[4];      // output shape, padded in front with 1s
    uint a_stride[4];  // 0 on broadcast dimensions
    uint b_stride[4];
    uint channels, inner;  // batchnorm: channel = (index / inner) % channels
}
p;

// Max and Min keep NaN from either operand (torch.maximum / torch.minimum).
float binary_op(float u, float v) {
    if (OP == 1) return u * v;
    if (OP == 2) return isnan(u) || isnan(v) ? u + v : max(u, v);
    if (OP == 3) return isnan(u) || isnan(v) ? u + v : min(u, v);
    if (OP == 4) return u < 0.0 ? u * v : u;
    return u + v;
}

void main() {
    uint i = flat_group_id() * 256 + gl_LocalInvocationID.x;
    if (i >= p.count) return;
    float v;
    if (MODE == 0) {
        v = relu_keep_nan(float(a[p.a_off + i]));
    } else if (MODE == 1) {
        if (SAME_SHAPE) {
            v = binary_op(float(a[p.a_off + i]), float(b[p.b_off + i]));
        } else {
            uint g = p.first + i, ia = 0, ib = 0;
            [[unroll]] for (int d = 3; d >= 0; --d) {
                uint idx = g % p.dims[d];
                g /= p.dims[d];
                ia += idx * p.a_stride[d];
                ib += idx * p.b_stride[d];
            }
            // a's binding starts at the dispatch's first element only when a is sliced.
            v = binary_op(A_FULL ? float(a[p.a_off + i]) : float(a[p.a_off + ia]),
                          float(b[p.b_off + ib]));
        }
        v = apply_relu(v, RELU);
    } else if (MODE == 3) {
        uint ch = ((p.first + i) / p.inner) % p.channels;
        v = clamp_keep_nan(float(a[p.a_off + i]), float(b[p.b_off + 2 * ch]),
                           float(b[p.b_off + 2 * ch + 1]));
    } else {
        uint ch = ((p.first + i) / p.inner) % p.channels;
        v = apply_relu(
            (float(a[p.a_off + i]) - float(b[p.b_off + 3 * ch + 1])) * float(b[p.b_off + 3 * ch]) +
                float(b[p.b_off + 3 * ch + 2]),
            RELU);
    }
    y[p.y_off + i] = SFLOAT(v);
}
