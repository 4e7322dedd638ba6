#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Peak arithmetic probe: 4 independent vec4 FMA chains per invocation, 8 steps per loop
// iteration, so the compiler cannot fold them and a pipelined FMA unit always has independent
// work. Sized for CPU devices too: on lavapipe a vec4 is 4 vector registers, so 16 live ones
// (AVX2 has 16), and each loop-carried write is masked once per iteration, not once per FMA.
// Multiplier and addend come from push constants (unknown at compile time) and keep the
// values bounded (no inf/denormals).
// Work per invocation: iterations * kSteps * 4 chains * 4 lanes FMAs. The iteration count is a
// push constant so the probe grows the work, never the dispatch or its buffer.
layout(local_size_x_id = 0) in;
const uint kSteps = 8;
layout(std430, binding = 0) writeonly buffer Y {
    vec4 y[];
};
// Must match PeakFmaPush and PeakFmaSpec in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    float mul;
    float add;
    uint iterations;
}
p;

void main() {
    uint i = gl_GlobalInvocationID.x;
    vec4 m = vec4(p.mul);
    vec4 a = vec4(p.add);
    vec4 x0 = vec4(float(i & 255u) * 1e-3) + vec4(0.0, 0.1, 0.2, 0.3);
    vec4 x1 = x0 + 0.01, x2 = x0 + 0.02, x3 = x0 + 0.03;
    for (uint k = 0; k < p.iterations; ++k) {
        [[unroll]] for (uint s = 0; s < kSteps; ++s) {
            x0 = fma(x0, m, a);
            x1 = fma(x1, m, a);
            x2 = fma(x2, m, a);
            x3 = fma(x3, m, a);
        }
    }
    // One store keeps every chain alive.
    y[i] = (x0 + x1) + (x2 + x3);
}
