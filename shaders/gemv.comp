#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Gemm / MatMul with few rows (batch-1 fully connected layers): gemm.comp's Y = alpha * A B +
// beta * C, but one workgroup of 64 invocations per output element, each summing every 64th
// term of K, then a tree in shared memory. gemm.comp gives such a layer one row of 16 busy
// invocations per 256-invocation workgroup; here every invocation works. Same push constants
// and specialization constants as gemm.comp (GemmPush, GemmSpec); groups (n, m, batches).
layout(local_size_x = 64) in;
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

shared float partial[64];

void main() {
    const uint col = gl_WorkGroupID.x, row = gl_WorkGroupID.y, bz = gl_WorkGroupID.z;
    const uint lid = gl_LocalInvocationID.x;
    const uint ab = p.a_off + bz * p.a_batch_stride, bb = p.b_off + bz * p.b_batch_stride;
    float s = 0.0;
    if (V4) {
        const uint ar = (ab + row * p.k) / 4, br = (bb + col * p.k) / 4;
        vec4 s4 = vec4(0.0);
        for (uint q = lid; q < p.k / 4; q += 64)
            s4 = fma(texelFetch(A, int(ar + q)), texelFetch(B, int(br + q)), s4);
        s = (s4.x + s4.y) + (s4.z + s4.w);
    } else {
        for (uint q = lid; q < p.k; q += 64) {
            float av =
                texelFetch(A, int(p.trans_a != 0 ? ab + q * p.m + row : ab + row * p.k + q)).r;
            float bv =
                texelFetch(B, int(p.trans_b != 0 ? bb + col * p.k + q : bb + q * p.n + col)).r;
            s = fma(av, bv, s);
        }
    }
    partial[lid] = s;
    barrier();
    [[unroll]] for (uint half_width = 32; half_width > 0; half_width /= 2) {
        if (lid < half_width) partial[lid] += partial[lid + half_width];
        barrier();
    }
    if (lid != 0) return;
    float v = p.alpha * partial[0];
    if (p.has_c != 0) v += p.beta * float(c[p.c_off + row * p.c_stride_m + col * p.c_stride_n]);
    y[p.y_off + bz * p.y_batch_stride + row * p.n + col] = SFLOAT(v);
}
