#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// MaxPool / AveragePool over NCHW planes, one invocation per output element. Matches
// rm::cpu::max_pool / average_pool: a max window entirely in padding gives 0; the average
// divides by the valid count, or with count_include_pad by the window clipped to the padded
// input (ceil_mode windows may run past the bottom/right padding).
layout(local_size_x = 256) in;
layout(constant_id = 0) const bool AVERAGE = false;
layout(constant_id = 1) const uint KH = 3;  // window size, specialised so the loops unroll
layout(constant_id = 2) const uint KW = 3;
layout(binding = 0) uniform samplerBuffer X;  // a gather on CPU devices, not a per-lane loop
layout(std430, binding = 1) writeonly buffer Y {
    SFLOAT y[];
};
// Must match PoolPush and PoolSpec in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    uint x_off, y_off;
    uint planes, h, w, oh, ow;
    uint kh, kw, sh, sw, dh, dw;
    int pad_top, pad_left, pad_bottom, pad_right;
    uint count_include_pad;
}
p;

void main() {
    uint i = flat_group_id() * 256 + gl_LocalInvocationID.x;
    uint ohw = p.oh * p.ow;
    if (i >= p.planes * ohw) return;
    uint plane = i / ohw, pix = i % ohw;
    int y0 = int(pix / p.ow) * int(p.sh) - p.pad_top;
    int x0 = int(pix % p.ow) * int(p.sw) - p.pad_left;
    uint base = p.x_off + plane * p.h * p.w;
    float best = minus_inf(), sum = 0.0;
    uint count = 0, padded = 0;
    // Branch-free: every tap fetches (at a clamped index) and padding taps are selected away.
    [[unroll]] for (uint ky = 0; ky < KH; ++ky) {
        int iy = y0 + int(ky * p.dh);
        [[unroll]] for (uint kx = 0; kx < KW; ++kx) {
            int ix = x0 + int(kx * p.dw);
            padded += iy < int(p.h) + p.pad_bottom && ix < int(p.w) + p.pad_right ? 1 : 0;
            bool inside = iy >= 0 && iy < int(p.h) && ix >= 0 && ix < int(p.w);
            float v = texelFetch(X, int(base) + (inside ? iy * int(p.w) + ix : 0)).r;
            best = inside ? max_keep_nan(best, v) : best;
            sum += inside ? v : 0.0;
            count += inside ? 1 : 0;
        }
    }
    float r;
    if (AVERAGE) {
        uint divisor = p.count_include_pad != 0 ? padded : count;
        r = divisor == 0 ? 0.0 : sum / float(divisor);
    } else {
        r = count == 0 ? 0.0 : best;
    }
    y[p.y_off + i] = SFLOAT(r);
}
