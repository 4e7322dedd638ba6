#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Streaming copy y = x in vec4 units: one read and one write of every byte, each invocation
// striding over the buffer so any dispatch size covers it. The source is an RGBA texel buffer,
// the way rmvk's kernels read on CPU devices (a storage-buffer read is a per-lane loop there).
layout(local_size_x_id = 0) in;
layout(binding = 0) uniform samplerBuffer X;
layout(std430, binding = 1) writeonly buffer Y {
    vec4 y[];
};
// Must match PeakBandwidthPush and PeakBandwidthSpec in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    uint n;
}
p;  // vec4 count

void main() {
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) y[i] = texelFetch(X, int(i));
}
