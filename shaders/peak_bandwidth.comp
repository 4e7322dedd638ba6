#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Streaming copy y = x in vec4 units: one read and one write of every byte, each invocation
// striding over the buffer so any dispatch size covers it.
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer X { vec4 x[]; };
layout(std430, binding = 1) writeonly buffer Y { vec4 y[]; };
layout(push_constant) uniform P { uint n; } p;  // vec4 count

void main() {
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) y[i] = x[i];
}
