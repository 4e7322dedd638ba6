#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// One run of the output channels of a structured conv that are not plain dense blocks: Dirac
// copies and scaled copies of input channels, identity merges added to a block's output, zero
// rows (their bias). Output channel out_begin + c becomes
//   relu(start + scale * x[in_begin + c] at the pixel the centre tap reads + residual)
// with start 0, the bias, or what the block convs stored. A copy costs a load and a store per
// pixel, not a multiply-accumulate over every input channel.
layout(local_size_x = 256) in;
layout(constant_id = 0) const bool RELU = false;
layout(constant_id = 1) const bool RESIDUAL = false;
// Output pixel p reads input pixel p (stride 1, the centre tap on its own pixel, same size):
// no index arithmetic per pixel, the common case (1x1 and padded 3x3 convs).
layout(constant_id = 2) const bool SAME_GRID = false;
layout(std430, binding = 0) readonly buffer X {
    SFLOAT x[];
};
layout(std430, binding = 1) readonly buffer B {
    SFLOAT b[];
};
layout(std430, binding = 2) buffer Y {
    SFLOAT y[];
};
layout(std430, binding = 3) readonly buffer R {
    SFLOAT r[];
};
// Must match ConvStructPush in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    uint x_off, b_off, y_off, r_off;
    uint out_begin, in_begin, has_input, start;  // start: 0 zero, 1 bias, 2 stored
    float scale;
    uint h, w, x_image_stride;
    uint oh, ow, y_image_stride, r_image_stride;
    uint sh, sw;
    int top, left;  // input pixel of output (0, 0) under the centre tap (may be outside)
}
p;

// Grid: x = pixels, y = channels of the run, z = images.
void main() {
    uint pixel = gl_WorkGroupID.x * 256 + gl_LocalInvocationID.x;
    uint ohw = p.oh * p.ow;
    if (pixel >= ohw) return;
    uint c = gl_WorkGroupID.y, image = gl_WorkGroupID.z, o = p.out_begin + c;
    uint yi = p.y_off + image * p.y_image_stride + o * ohw + pixel;
    float v = p.start == 2u ? float(y[yi]) : p.start == 1u ? float(b[p.b_off + o]) : 0.0;
    if (p.has_input != 0u) {
        uint xi = p.x_off + image * p.x_image_stride + (p.in_begin + c) * p.h * p.w;
        if (SAME_GRID) {
            v += p.scale * float(x[xi + pixel]);
        } else {
            uint oy = pixel / p.ow, ox = pixel % p.ow;
            int iy = int(oy * p.sh) + p.top, ix = int(ox * p.sw) + p.left;
            if (iy >= 0 && iy < int(p.h) && ix >= 0 && ix < int(p.w))
                v += p.scale * float(x[xi + uint(iy) * p.w + uint(ix)]);
        }
    }
    if (RESIDUAL) v += float(r[p.r_off + image * p.r_image_stride + o * ohw + pixel]);
    y[yi] = SFLOAT(apply_relu(v, RELU));
}
