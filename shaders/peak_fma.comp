#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Peak arithmetic probe: 8 independent vec4 FMA chains per invocation, so the compiler cannot
// fold them and a pipelined FMA unit always has independent work. Multiplier and addend come
// from push constants (unknown at compile time) and keep the values bounded (no inf/denormals).
// Work per invocation: kIterations * 8 chains * 4 lanes FMAs.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint kIterations = 256;
layout(std430, binding = 0) writeonly buffer Y { vec4 y[]; };
layout(push_constant) uniform P { float mul; float add; } p;

void main() {
    uint i = gl_GlobalInvocationID.x;
    vec4 m = vec4(p.mul);
    vec4 a = vec4(p.add);
    vec4 x0 = vec4(float(i & 255u) * 1e-3) + vec4(0.0, 0.1, 0.2, 0.3);
    vec4 x1 = x0 + 0.01, x2 = x0 + 0.02, x3 = x0 + 0.03;
    vec4 x4 = x0 + 0.04, x5 = x0 + 0.05, x6 = x0 + 0.06, x7 = x0 + 0.07;
    for (uint k = 0; k < kIterations; ++k) {
        x0 = fma(x0, m, a); x1 = fma(x1, m, a); x2 = fma(x2, m, a); x3 = fma(x3, m, a);
        x4 = fma(x4, m, a); x5 = fma(x5, m, a); x6 = fma(x6, m, a); x7 = fma(x7, m, a);
    }
    // One store keeps every chain alive.
    y[i] = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));
}
