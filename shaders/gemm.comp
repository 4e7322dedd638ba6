#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Gemm / MatMul: Y[m, n] = alpha * sum_k A[m, k] * B[k, n] + beta * C[m, n] (C broadcast by
// strides), A and B optionally transposed; batched MatMul via per-batch strides (z).
// One invocation per output element, 16x16 tiles; the fully connected layers are small.
// A and B are texel buffers (a gather on CPU devices instead of a per-lane loop); with V4
// (B transposed, A not, K a multiple of 4, 16-byte aligned rows) they are read 4 at a time.
layout(local_size_x = 16, local_size_y = 16) in;
layout(constant_id = 0) const bool V4 = false;
layout(binding = 0) uniform samplerBuffer A;  // R32F, or RGBA32F with V4
layout(binding = 1) uniform samplerBuffer B;
layout(std430, binding = 2) readonly buffer C {
    SFLOAT c[];
};
layout(std430, binding = 3) writeonly buffer Y {
    SFLOAT y[];
};
// Must match GemmPush and GemmSpec in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    uint a_off, b_off, c_off, y_off;
    uint m, n, k;
    uint trans_a, trans_b;
    uint has_c, c_stride_m, c_stride_n;
    float alpha, beta;
    uint a_batch_stride, b_batch_stride, y_batch_stride;
}
p;

void main() {
    uint col = gl_GlobalInvocationID.x, row = gl_GlobalInvocationID.y, bz = gl_WorkGroupID.z;
    if (row >= p.m || col >= p.n) return;
    uint ab = p.a_off + bz * p.a_batch_stride, bb = p.b_off + bz * p.b_batch_stride;
    float s = 0.0;
    if (V4) {
        const uint ar = (ab + row * p.k) / 4, br = (bb + col * p.k) / 4;
        vec4 s4 = vec4(0.0);
        for (uint q = 0; q < p.k / 4; ++q)
            s4 = fma(texelFetch(A, int(ar + q)), texelFetch(B, int(br + q)), s4);
        s = (s4.x + s4.y) + (s4.z + s4.w);
    } else {
        for (uint q = 0; q < p.k; ++q) {
            float av =
                texelFetch(A, int(p.trans_a != 0 ? ab + q * p.m + row : ab + row * p.k + q)).r;
            float bv =
                texelFetch(B, int(p.trans_b != 0 ? bb + col * p.k + q : bb + q * p.n + col)).r;
            s = fma(av, bv, s);
        }
    }
    float v = p.alpha * s;
    if (p.has_c != 0) v += p.beta * float(c[p.c_off + row * p.c_stride_m + col * p.c_stride_n]);
    y[p.y_off + bz * p.y_batch_stride + row * p.n + col] = SFLOAT(v);
}
