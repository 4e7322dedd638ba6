#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// The output channels of a structured conv that are not plain dense blocks: Dirac copies and
// scaled copies of an input channel, identity merges added to a block's output, zero rows (the
// bias), all in one pass after the block convs. Each listed row o computes
//   y[o] = relu(start + sum over its entries of scale * x[in] at the pixel the centre tap
//          reads + residual[o])
// where start is the value the block convs stored (HAS_BLOCK rows) or the row's bias. A copy
// costs one load and one store per pixel, not a multiply-accumulate over every input channel.
layout(local_size_x = 256) in;
layout(constant_id = 0) const bool RELU = false;
layout(constant_id = 1) const bool RESIDUAL = false;
layout(std430, binding = 0) readonly buffer X {
    float x[];
};
// rows records of 4 words (output channel, first entry, entry count, flags | bias bits at
// table[4 * rows + row]), then entries of 2 words (input channel, scale bits).
layout(std430, binding = 1) readonly buffer T {
    uint table[];
};
layout(std430, binding = 2) buffer Y {
    float y[];
};
layout(std430, binding = 3) readonly buffer R {
    float r[];
};
// Must match ConvStructPush in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    uint x_off, t_off, y_off, r_off;
    uint n, rows;
    uint h, w, x_image_stride;
    uint oh, ow, y_image_stride, r_image_stride;
    uint sh, sw;
    int top, left;  // input pixel of output (0, 0) under the centre tap (may be outside)
}
p;

void main() {
    uint i = flat_group_id() * 256 + gl_LocalInvocationID.x;
    uint ohw = p.oh * p.ow;
    if (i >= p.n * p.rows * ohw) return;
    uint pixel = i % ohw, row = (i / ohw) % p.rows, image = i / (ohw * p.rows);
    uint rec = p.t_off + 4 * row;
    uint o = table[rec], first = table[rec + 1], count = table[rec + 2], flags = table[rec + 3];
    uint oy = pixel / p.ow, ox = pixel % p.ow;
    uint yi = p.y_off + image * p.y_image_stride + o * ohw + pixel;
    float v = (flags & 1u) != 0u ? y[yi] : uintBitsToFloat(table[p.t_off + 4 * p.rows + row]);
    int iy = int(oy * p.sh) + p.top, ix = int(ox * p.sw) + p.left;
    if (iy >= 0 && iy < int(p.h) && ix >= 0 && ix < int(p.w)) {
        uint xi = p.x_off + image * p.x_image_stride + uint(iy) * p.w + uint(ix);
        for (uint e = 0; e < count; ++e) {
            uint ent = p.t_off + first + 2 * e;
            v += uintBitsToFloat(table[ent + 1]) * x[xi + table[ent] * p.h * p.w];
        }
    }
    if (RESIDUAL) v += r[p.r_off + image * p.r_image_stride + o * ohw + pixel];
    y[yi] = apply_relu(v, RELU);
}
