#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// y = max(x, 0), element-wise (in place allowed).
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; } p;
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i < p.n) y[i] = max(x[i], 0.0);
}
