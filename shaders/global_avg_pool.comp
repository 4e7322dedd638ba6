#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// GlobalAveragePool: one invocation per plane, reading through a texel buffer, four partial
// sums per loop iteration. The planes a network pools globally are small (7x7 in a ResNet),
// and this needs no shared memory or barriers (which CPU devices pay dearly for).
layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer X;
layout(std430, binding = 1) writeonly buffer Y {
    SFLOAT y[];
};
// Must match GlobalAvgPoolPush in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    uint x_off, y_off, planes, inner;
}
p;

void main() {
    uint plane = flat_group_id() * 64 + gl_LocalInvocationID.x;
    if (plane >= p.planes) return;
    int base = int(p.x_off + plane * p.inner), n = int(p.inner);
    vec4 s = vec4(0.0);
    int j = 0;
    for (; j + 4 <= n; j += 4)
        s += vec4(texelFetch(X, base + j).r, texelFetch(X, base + j + 1).r,
                  texelFetch(X, base + j + 2).r, texelFetch(X, base + j + 3).r);
    for (; j < n; ++j) s.x += texelFetch(X, base + j).r;
    y[p.y_off + plane] = SFLOAT(((s.x + s.y) + (s.z + s.w)) / float(p.inner));
}
