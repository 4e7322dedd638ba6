#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Second pass of a split-K conv: conv2d.comp with SPLIT_K > 1 leaves SPLIT_K partial sums per
// output ([split][channel][column], column = image * OH * OW + pixel); this adds them up and
// applies what conv2d.comp's own epilogue does: bias, the fused residual Add and ReLU, in one
// pass. One invocation per output element.
layout(local_size_x = 64) in;
layout(constant_id = 0) const bool CLAMP = false;  // as conv2d.comp's (else ReLU where p.relu)
layout(constant_id = 1) const bool RESIDUAL = false;

layout(std430, binding = 0) readonly buffer Partials {
    float part[];
};  // fp32 whatever the storage type (conv2d.comp's y_partial)
layout(std430, binding = 1) readonly buffer B {
    SFLOAT bias[];
};
layout(std430, binding = 2) readonly buffer R {
    SFLOAT r[];
};  // bound to Partials when !RESIDUAL
layout(std430, binding = 3) writeonly buffer Y {
    SFLOAT y[];
};

// Must match ConvSplitKPush (and ConvSplitKSpec) in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    uint p_off, b_off, r_off, y_off;
    uint splits;
    uint channels;  // output channels of the dispatch (all its groups)
    uint n, ohw;    // images and output pixels per image
    uint y_image_stride, y_channel;
    uint r_image_stride, r_channel;
    uint has_bias;
    uint act_stride;  // CLAMP: lo and hi of channel oc at oc + act_stride, oc + 2 * act_stride
    uint relu;
}
p;

void main() {
    const uint e = flat_group_id() * 64 + gl_LocalInvocationID.x;
    const uint cols = p.n * p.ohw;
    if (e >= p.channels * cols) return;
    const uint oc = e / cols, col = e % cols;
    float acc = 0.0;
    for (uint s = 0; s < p.splits; ++s) acc += part[p.p_off + (s * p.channels + oc) * cols + col];
    const uint im = col / p.ohw, px = col % p.ohw;
    float v = acc + (p.has_bias != 0 ? float(bias[p.b_off + oc]) : 0.0);
    if (RESIDUAL) v += float(r[p.r_off + im * p.r_image_stride + (p.r_channel + oc) * p.ohw + px]);
    float lo = CLAMP ? float(bias[p.b_off + oc + p.act_stride]) : 0.0;
    float hi = CLAMP ? float(bias[p.b_off + oc + 2 * p.act_stride]) : 0.0;
    y[p.y_off + im * p.y_image_stride + (p.y_channel + oc) * p.ohw + px] =
        SFLOAT(apply_act(v, CLAMP ? 2u : p.relu, lo, hi));
}
