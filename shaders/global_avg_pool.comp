#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// GlobalAveragePool: one workgroup per plane, a tree reduction in shared memory.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint x_off, y_off, planes, inner; } p;
shared float partial[64];

void main() {
    uint plane = flat_group_id();
    if (plane >= p.planes) return;  // uniform per workgroup, so no barrier is skipped by some only
    uint lid = gl_LocalInvocationID.x;
    float s = 0.0;
    for (uint j = lid; j < p.inner; j += 64) s += x[p.x_off + plane * p.inner + j];
    partial[lid] = s;
    barrier();
    [[unroll]] for (uint half_ = 32; half_ > 0; half_ >>= 1) {
        if (lid < half_) partial[lid] += partial[lid + half_];
        barrier();
    }
    if (lid == 0) y[p.y_off + plane] = partial[0] / float(p.inner);
}
