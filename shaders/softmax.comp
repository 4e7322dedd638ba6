#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Softmax along one axis: tensor viewed as [outer, dim, inner]; one invocation per (outer, inner).
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X {
    SFLOAT x[];
};
layout(std430, binding = 1) writeonly buffer Y {
    SFLOAT y[];
};
// Must match SoftmaxPush in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    uint x_off, y_off, outer, dim, inner;
}
p;

void main() {
    uint i = flat_group_id() * 64 + gl_LocalInvocationID.x;
    if (i >= p.outer * p.inner) return;
    uint base = (i / p.inner) * p.dim * p.inner + i % p.inner;
    float peak = minus_inf();
    for (uint d = 0; d < p.dim; ++d)
        peak = max_keep_nan(peak, float(x[p.x_off + base + d * p.inner]));
    float sum = 0.0;
    for (uint d = 0; d < p.dim; ++d) sum += exp(float(x[p.x_off + base + d * p.inner]) - peak);
    for (uint d = 0; d < p.dim; ++d)
        y[p.y_off + base + d * p.inner] =
            SFLOAT(exp(float(x[p.x_off + base + d * p.inner]) - peak) / sum);
}
