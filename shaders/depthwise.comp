#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Depthwise convolution (group == input channels == output channels): one invocation per
// output element, KH x KW taps of its own channel, then bias, the fused residual and the
// activation as in conv2d.comp. The tiled GEMM kernel would give each group a tile of output
// channels with one row used; here every lane does useful work.
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint KH = 3;
layout(constant_id = 1) const uint KW = 3;
layout(constant_id = 2) const uint SH = 1;
layout(constant_id = 3) const uint SW = 1;
layout(constant_id = 4) const uint ACT = 0;  // 0 none, 1 ReLU, 2 clamp (lo, hi in Bias)
layout(constant_id = 5) const bool RESIDUAL = false;

layout(std430, binding = 0) readonly buffer X {
    SFLOAT x[];
};
layout(std430, binding = 1) readonly buffer Wt {
    SFLOAT w[];
};
layout(std430, binding = 2) readonly buffer B {
    SFLOAT bias[];
};
layout(std430, binding = 3) writeonly buffer Y {
    SFLOAT y[];
};
layout(std430, binding = 4) readonly buffer R {
    SFLOAT r[];
};  // bound to Y when !RESIDUAL

// Must match DepthwisePush in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    uint x_off, w_off, b_off, y_off, r_off;
    uint count;  // output elements (n * c * oh * ow)
    uint c, h, w, oh, ow;
    uint dh, dw;
    int pad_top, pad_left;
    uint has_bias;
}
p;

void main() {
    const uint i = flat_group_id() * 256 + gl_LocalInvocationID.x;
    if (i >= p.count) return;
    const uint ox = i % p.ow, oy = (i / p.ow) % p.oh, plane = i / (p.ow * p.oh);
    const uint ch = plane % p.c;
    const int y0 = int(oy * SH) - p.pad_top, x0 = int(ox * SW) - p.pad_left;
    const uint xbase = p.x_off + plane * p.h * p.w, wbase = p.w_off + ch * KH * KW;
    float acc = 0.0;
    [[unroll]] for (uint ky = 0; ky < KH; ++ky) {
        const int iy = y0 + int(ky * p.dh);
        if (iy < 0 || iy >= int(p.h)) continue;
        [[unroll]] for (uint kx = 0; kx < KW; ++kx) {
            const int ix = x0 + int(kx * p.dw);
            if (ix < 0 || ix >= int(p.w)) continue;
            acc = fma(float(w[wbase + ky * KW + kx]), float(x[xbase + uint(iy) * p.w + uint(ix)]),
                      acc);
        }
    }
    float v = acc + (p.has_bias != 0 ? float(bias[p.b_off + ch]) : 0.0);
    if (RESIDUAL) v += float(r[p.r_off + i]);
    const float lo = ACT == 2 ? float(bias[p.b_off + ch + p.c]) : 0.0;
    const float hi = ACT == 2 ? float(bias[p.b_off + ch + 2 * p.c]) : 0.0;
    y[p.y_off + i] = SFLOAT(apply_act(v, ACT, lo, hi));
}
