#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Gemm / MatMul: Y[m, n] = alpha * sum_k A[m, k] * B[k, n] + beta * C[m, n] (C broadcast by
// strides), A and B optionally transposed; batched MatMul via per-batch strides (z).
// One invocation per output element, 16x16 tiles; the fully connected layers are small.
layout(local_size_x = 16, local_size_y = 16) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) readonly buffer C { float c[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint a_off, b_off, c_off, y_off;
    uint m, n, k;
    uint trans_a, trans_b;
    uint has_c, c_stride_m, c_stride_n;
    float alpha, beta;
    uint a_batch_stride, b_batch_stride, y_batch_stride;
} p;

void main() {
    uint col = gl_GlobalInvocationID.x, row = gl_GlobalInvocationID.y, bz = gl_WorkGroupID.z;
    if (row >= p.m || col >= p.n) return;
    uint ab = p.a_off + bz * p.a_batch_stride, bb = p.b_off + bz * p.b_batch_stride;
    float s = 0.0;
    if (p.trans_b != 0 && p.trans_a == 0) {
        for (uint q = 0; q < p.k; ++q) s = fma(a[ab + row * p.k + q], b[bb + col * p.k + q], s);
    } else {
        for (uint q = 0; q < p.k; ++q) {
            float av = p.trans_a != 0 ? a[ab + q * p.m + row] : a[ab + row * p.k + q];
            float bv = p.trans_b != 0 ? b[bb + col * p.k + q] : b[bb + q * p.n + col];
            s = fma(av, bv, s);
        }
    }
    float v = p.alpha * s;
    if (p.has_c != 0) v += p.beta * c[p.c_off + row * p.c_stride_m + col * p.c_stride_n];
    y[p.y_off + bz * p.y_batch_stride + row * p.n + col] = v;
}
