#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "common.glsl"
// Convolution for CPU devices (lavapipe): no shared memory and no barriers. Each invocation
// keeps RM output channels x RN pixels in registers. X and W are read through texel buffers:
// lavapipe turns a texelFetch into a called function with a gather, while every storage-buffer
// or shared load becomes a per-lane loop with branches (about ten times slower).
// Weights are packed [group][ceil(ocg / RM)][K][RM / 4] vec4 texels, zero-padded: the weights
// one iteration needs are consecutive texels, which the lanes of a subgroup fetch together
// (each a different one) and then shuffle out, instead of every lane fetching each of them.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TM = 8;    // output channels per workgroup (= RM)
layout(constant_id = 2) const uint TN = 256;  // pixels per workgroup
layout(constant_id = 3) const uint TK = 1;
layout(constant_id = 4) const uint RM = 8;  // a multiple of 4, the packing's row count
layout(constant_id = 5) const uint RN = 4;
// The epilogue's clamp of channel oc to [lo, hi], read from the bias binding at oc + act_stride
// and oc + 2 * act_stride; without it, ReLU where p.relu (a push constant: a conv with its ReLU
// and one without share a pipeline).
layout(constant_id = 6) const bool CLAMP = false;
layout(constant_id = 7) const uint KH = 3;
layout(constant_id = 8) const uint KW = 3;
layout(constant_id = 9) const uint SH = 1;
layout(constant_id = 10) const uint SW = 1;
layout(constant_id = 11) const uint DH = 1;
layout(constant_id = 12) const uint DW = 1;
layout(constant_id = 13) const bool POINTWISE = false;
layout(constant_id = 14) const
    bool RESIDUAL = false;  // y = relu(conv + bias + r): a fused residual Add
// Pointwise with H*W a multiple of RN (itself a multiple of 4): X is viewed as RGBA texels,
// each invocation takes RN consecutive pixels of one plane, and one fetch brings four of them;
// x_off is then in texels.
layout(constant_id = 15) const bool X4 = false;
layout(constant_id = 16) const uint CU = 1;  // input channels per loop iteration
layout(constant_id = 17) const uint SG = 8;  // subgroup size (at most the device's)
// RN slots that are RN consecutive, 16-byte aligned outputs (X4, or ROWS with a width that is
// a multiple of 4; RN a multiple of 4): stored (and the residual read) 4 per vec4, a quarter
// of the per-lane store loops lavapipe makes for storage buffers.
layout(constant_id = 18) const bool Y4 = false;
// ROWS without left padding on rows of 4k floats (e.g. a 1x1 stride-2 projection): an input
// row segment starts on a texel boundary and is read 4 floats per RGBA fetch (x_off stays in
// floats).
layout(constant_id = 19) const bool XR4 = false;
// Set by the host when !POINTWISE and (KW > 1 or SW > 1): glslang turns && and || of spec
// constants into branches, which do not dominate every later use.
layout(constant_id = 20) const bool ROWS = false;

layout(binding = 0) uniform samplerBuffer X;   // R32F, or RGBA32F when X4
layout(binding = 1) uniform samplerBuffer W4;  // RGBA32F
layout(binding = 2) uniform samplerBuffer Bias;
layout(std430, binding = 3) writeonly buffer Y {
    SFLOAT y[];
};
layout(std430, binding = 3) writeonly buffer Y4v {
    SVEC4 y4[];
};  // the same buffer, by vec4
// The fused residual (bound to Y when !RESIDUAL): R32F, or RGBA32F with Y4.
layout(binding = 4) uniform samplerBuffer R;

// Must match ConvPush (and DirectConvSpec) in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    uint x_off, w_off, b_off, y_off, r_off;
    uint n, c, h, w;
    uint x_image_stride, x_channel;  // x: elements between images, first channel read
    uint oh, ow;
    uint y_image_stride, y_channel;  // y: elements between images, first channel written
    uint r_image_stride, r_channel;
    uint cg, ocg, group_first;
    int pad_top, pad_left;
    uint has_bias;
    uint act_stride;  // CLAMP: output channels of the conv (bias, lo, hi planes)
    uint relu;
}
p;

// Which output pixels this invocation computes, slot j = 0..RN-1:
//  - ROWS (KW > 1 or SW > 1): RN neighbouring pixels of one output row, so that the input values
//    they share are fetched once per row of the kernel window ((RN-1)*SW + (KW-1)*DW + 1 fetches
//    instead of RN*KW); lanes enumerate (image, output row, block of RN columns).
//  - X4: RN consecutive pixels (one RGBA fetch per 4).
//  - otherwise pixels strided by the lane count.
const uint lanes = TN / RN;
const uint NXR = (RN - 1) * SW + (KW - 1) * DW + 1;  // input columns one kernel row needs (ROWS)
const uint NXT = (NXR + 3) / 4;                      // RGBA texels holding them (XR4)

void main() {
    const uint group = p.group_first + gl_WorkGroupID.z;
    const uint ocl0 = gl_WorkGroupID.y * RM;
    const uint ohw = p.oh * p.ow;
    const uint K = p.cg * KH * KW;
    const uint hw = p.h * p.w;
    const uint row_groups = (p.ocg + RM - 1) / RM;
    const uint lane = gl_WorkGroupID.x * lanes + gl_LocalInvocationID.x;

    // Per slot: stored or not, and the output (and residual) offset of the dispatch's first
    // channel.
    bool ok[RN];
    uint out_at[RN], res_at[RN];
    // Input addressing: per slot for the strided and X4 layouts, per lane for ROWS.
    uint xb[RN];
    int ih0[RN], iw0[RN];
    const uint xblocks = (p.ow + RN - 1) / RN;
    const uint row = lane / xblocks, ox0 = (lane % xblocks) * RN;  // ROWS
    const uint row_img = min(row / p.oh, p.n - 1), oy = row % p.oh;
    // Integer division is a scalar loop over the lanes on CPU devices: ROWS and X4 divide
    // once per invocation, the strided layout once per slot.
    const uint col0 = gl_WorkGroupID.x * TN + gl_LocalInvocationID.x * RN;  // X4
    const bool ok0 = col0 < p.n * ohw;
    const uint img0 = ok0 ? col0 / ohw : 0, pix0 = ok0 ? col0 % ohw : 0;
    [[unroll]] for (uint j = 0; j < RN; ++j) {
        uint img, pix;
        if (ROWS) {
            ok[j] = row < p.n * p.oh && ox0 + j < p.ow;
            img = row_img;
            pix = oy * p.ow + min(ox0 + j, p.ow - 1);
            ih0[j] = int(oy * SH) - p.pad_top;
            iw0[j] = int((ox0 + j) * SW) - p.pad_left;
        } else if (X4) {
            ok[j] = ok0;  // the 4 pixels of a lane share a plane (H*W % RN == 0)
            img = img0;
            pix = pix0 + j;
            ih0[j] = 0;  // pointwise: unused
            iw0[j] = 0;
        } else {
            uint col = gl_WorkGroupID.x * TN + gl_LocalInvocationID.x + j * lanes;
            ok[j] = col < p.n * ohw;
            img = ok[j] ? col / ohw : 0;
            pix = ok[j] ? col % ohw : 0;
            ih0[j] = int(pix / p.ow) * int(SH) - p.pad_top;
            iw0[j] = int(pix % p.ow) * int(SW) - p.pad_left;
        }
        out_at[j] = img * p.y_image_stride + p.y_channel * ohw + pix;
        res_at[j] = img * p.r_image_stride + p.r_channel * ohw + pix;
        const uint x_plane = img * p.x_image_stride + (p.x_channel + group * p.cg) * hw;
        xb[j] = X4 ? p.x_off + (x_plane + pix) / 4 : p.x_off + x_plane + (POINTWISE ? pix : 0);
    }
    // This workgroup's packed weights: K rows of RM / 4 texels.
    const uint w_first =
        p.w_off + (gl_WorkGroupID.z * row_groups + gl_WorkGroupID.y) * K * (RM / 4);
    const uint w_last = w_first + K * (RM / 4) - 1;

    float acc[RM][RN];
    [[unroll]] for (uint i = 0; i < RM; ++i) [[unroll]] for (uint j = 0; j < RN; ++j) acc[i][j] =
        0.0;

    // CU input channels per iteration: every fetch first, then each accumulator takes its
    // CU*KH*KW products in a row. lavapipe masks each write of a loop-carried value, and the
    // accumulators live on the stack: this way each is loaded, masked and stored once per
    // iteration instead of once per product. Channels past the end contribute zeros.
    // Fetches are unconditional (at a clamped, valid index) followed by a select: a
    // conditional fetch would put control flow inside the loop.
    const uint KK = CU * KH * KW;
    for (uint ci0 = 0; ci0 < p.cg; ci0 += CU) {
        float b[KK][RN];
        // The KK * RM / 4 weight texels of this iteration, SG per fetch (lane l takes every
        // SG-th from l); texels past the group's end (unused channels) are clamped.
        const uint NF = (KK * (RM / 4) + SG - 1) / SG;
        vec4 fetched[NF];
        const uint w_chunk = w_first + ci0 * (KH * KW) * (RM / 4) + gl_SubgroupInvocationID;
        [[unroll]] for (uint m = 0; m < NF; ++m) fetched[m] =
            texelFetch(W4, int(min(w_chunk + m * SG, w_last)));
        [[unroll]] for (uint u = 0; u < CU; ++u) {
            const uint ci = min(ci0 + u, p.cg - 1);
            const bool real = ci0 + u < p.cg;
            if (ROWS) {
                [[unroll]] for (uint kh = 0; kh < KH; ++kh) {
                    int ih = ih0[0] + int(kh * DH);
                    bool row_in = real && ih >= 0 && ih < int(p.h);
                    float xr[NXR];
                    if (XR4) {
                        const int at =
                            (int(xb[0] + ci * hw) + (row_in ? ih * int(p.w) : 0) + iw0[0]) / 4;
                        const int last = textureSize(X) - 1;
                        vec4 t4[NXT];
                        [[unroll]] for (uint q = 0; q < NXT; ++q) t4[q] =
                            texelFetch(X, min(at + int(q), last));
                        [[unroll]] for (uint t = 0; t < NXR; ++t) {
                            bool inside = row_in && iw0[0] + int(t) < int(p.w);
                            xr[t] = inside ? t4[t / 4][t % 4] : 0.0;
                        }
                    } else [[unroll]]
                        for (uint t = 0; t < NXR; ++t) {
                            int iw = iw0[0] + int(t);
                            bool inside = row_in && iw >= 0 && iw < int(p.w);
                            float v = texelFetch(X, int(xb[0] + ci * hw) +
                                                        (inside ? ih * int(p.w) + iw : 0))
                                          .r;
                            xr[t] = inside ? v : 0.0;
                        }
                    [[unroll]] for (uint kw = 0; kw < KW; ++kw)
                        [[unroll]] for (uint j = 0; j < RN; ++j)
                            b[u * (KH * KW) + kh * KW + kw][j] = xr[j * SW + kw * DW];
                }
            } else [[unroll]]
                for (uint r = 0; r < KH * KW; ++r) {
                    const uint kk = u * (KH * KW) + r;
                    if (X4) {
                        [[unroll]] for (uint q = 0; q < RN / 4; ++q) {
                            vec4 v = texelFetch(X, int(xb[0] + ci * (hw / 4) + q));
                            v = real ? v : vec4(0.0);
                            b[kk][4 * q] = v.x;
                            b[kk][4 * q + 1] = v.y;
                            b[kk][4 * q + 2] = v.z;
                            b[kk][4 * q + 3] = v.w;
                        }
                    } else [[unroll]]
                        for (uint j = 0; j < RN; ++j) {
                            if (POINTWISE) {
                                float v = texelFetch(X, int(xb[j] + ci * hw)).r;
                                b[kk][j] = real ? v : 0.0;
                            } else {
                                int ih = ih0[j] + int((r / KW) * DH),
                                    iw = iw0[j] + int((r % KW) * DW);
                                bool inside =
                                    real && ih >= 0 && ih < int(p.h) && iw >= 0 && iw < int(p.w);
                                int at = int(xb[j] + ci * hw) + (inside ? ih * int(p.w) + iw : 0);
                                float v = texelFetch(X, at).r;
                                b[kk][j] = inside ? v : 0.0;
                            }
                        }
                }
        }
        vec4 a[KK][RM / 4];
        [[unroll]] for (uint kk = 0; kk < KK; ++kk) [[unroll]] for (uint q = 0; q < RM / 4; ++q) {
            const uint t = kk * (RM / 4) + q;
            a[kk][q] = subgroupShuffle(fetched[t / SG], t % SG);
        }
        [[unroll]] for (uint q = 0; q < RM / 4; ++q) {
            [[unroll]] for (uint j = 0; j < RN; ++j) {
                vec4 s =
                    vec4(acc[4 * q][j], acc[4 * q + 1][j], acc[4 * q + 2][j], acc[4 * q + 3][j]);
                [[unroll]] for (uint kk = 0; kk < KK; ++kk) s = fma(a[kk][q], vec4(b[kk][j]), s);
                acc[4 * q][j] = s.x;
                acc[4 * q + 1][j] = s.y;
                acc[4 * q + 2][j] = s.z;
                acc[4 * q + 3][j] = s.w;
            }
        }
    }

    [[unroll]] for (uint i = 0; i < RM; ++i) {
        uint ocl = ocl0 + i;
        if (ocl >= p.ocg) continue;
        uint oc = gl_WorkGroupID.z * p.ocg + ocl;  // relative to the dispatch's first
        float bv = p.has_bias != 0 ? texelFetch(Bias, int(p.b_off + oc)).r : 0.0;
        float lo = CLAMP ? texelFetch(Bias, int(p.b_off + oc + p.act_stride)).r : 0.0;
        float hi = CLAMP ? texelFetch(Bias, int(p.b_off + oc + 2 * p.act_stride)).r : 0.0;
        if (Y4) {
            [[unroll]] for (uint q = 0; q < RN / 4; ++q) {
                if (!ok[4 * q]) continue;  // 4 slots are all stored or none (width % 4 == 0)
                vec4 v =
                    vec4(acc[i][4 * q], acc[i][4 * q + 1], acc[i][4 * q + 2], acc[i][4 * q + 3]) +
                    bv;
                if (RESIDUAL) v += texelFetch(R, int((p.r_off + res_at[0] + oc * ohw) / 4 + q));
                y4[(p.y_off + out_at[0] + oc * ohw) / 4 + q] =
                    SVEC4(apply_act(v, CLAMP ? 2u : p.relu, lo, hi));
            }
            continue;
        }
        [[unroll]] for (uint j = 0; j < RN; ++j) {
            if (!ok[j]) continue;
            float v = acc[i][j] + bv;
            if (RESIDUAL) v += texelFetch(R, int(p.r_off + res_at[j] + oc * ohw)).r;
            y[p.y_off + out_at[j] + oc * ohw] = SFLOAT(apply_act(v, CLAMP ? 2u : p.relu, lo, hi));
        }
    }
}
