#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Convolution as implicit GEMM: Y[oc, pixel] = sum_k W[oc, k] * im2col(X)[k, pixel] + bias,
// k = (ci, kh, kw) within the group, pixel = (n, oh, ow). Each workgroup computes a TM x TN
// output tile, staging TK-deep slices of W and im2col(X) in shared memory; each invocation
// keeps an RM x RN block of accumulators in registers. Kernel geometry is specialised so that
// the im2col index arithmetic divides by constants.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TM = 64;  // output channels per tile
layout(constant_id = 2) const uint TN = 64;  // pixels per tile
layout(constant_id = 3) const uint TK = 16;  // reduction depth per shared-memory stage
layout(constant_id = 4) const uint RM = 4;   // output channels per invocation
layout(constant_id = 5) const uint RN = 4;   // pixels per invocation
// The epilogue's activation: 0 none, 1 ReLU, 2 clamp channel oc to [lo, hi], read from the
// bias binding at oc + act_stride and oc + 2 * act_stride.
layout(constant_id = 6) const uint ACT = 0;
layout(constant_id = 7) const uint KH = 3;
layout(constant_id = 8) const uint KW = 3;
layout(constant_id = 9) const uint SH = 1;
layout(constant_id = 10) const uint SW = 1;
layout(constant_id = 11) const uint DH = 1;
layout(constant_id = 12) const uint DW = 1;
layout(constant_id = 13) const bool POINTWISE = false;  // 1x1, stride 1, no padding: no im2col
layout(constant_id = 14) const
    bool RESIDUAL = false;  // y = relu(conv + bias + r): a fused residual Add
// Split-K: SPLIT_K workgroups along z share one output tile, each summing a slice of K, and
// write raw partial sums to Y as [split][channel][column]; conv2d_splitk.comp adds them up
// with bias, residual and ReLU. Gives small layers (batch 1, 7x7 maps) enough workgroups.
layout(constant_id = 15) const uint SPLIT_K = 1;

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
layout(std430, binding = 3) writeonly buffer Yp {
    float y_partial[];
};  // the same binding: split-K partial sums stay fp32 whatever the storage type
layout(std430, binding = 4) readonly buffer R {
    SFLOAT r[];
};  // bound to Y when !RESIDUAL

// Must match ConvPush (and ConvSpec) in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    uint x_off, w_off, b_off, y_off, r_off;
    uint n;                          // images in this dispatch
    uint c, h, w;                    // input channels read (all groups), height, width
    uint x_image_stride, x_channel;  // x: elements between images, first channel read
    uint oh, ow;
    uint y_image_stride, y_channel;  // y: elements between images, first channel written
    uint r_image_stride, r_channel;
    uint cg;   // input channels per group
    uint ocg;  // output channels computed per group in this dispatch
    uint group_first;
    int pad_top, pad_left;
    uint has_bias;
    uint act_stride;  // ACT == 2: output channels of the conv (bias, lo, hi planes)
}
p;

const uint WG = (TM / RM) * (TN / RN);
shared float As[TK][TM];
shared float Bs[TK][TN];

void main() {
    const uint lid = gl_LocalInvocationID.x;
    const uint tx =
        lid % (TN / RN);  // pixel direction: neighbouring invocations, neighbouring pixels
    const uint ty = lid / (TN / RN);
    const uint zg = gl_WorkGroupID.z / SPLIT_K;  // group within the dispatch
    const uint split = gl_WorkGroupID.z % SPLIT_K;
    const uint group = p.group_first + zg;
    const uint ocl0 = gl_WorkGroupID.y * TM;  // within this group's slice
    const uint col0 = gl_WorkGroupID.x * TN;
    const uint ohw = p.oh * p.ow;
    const uint cols = p.n * ohw;
    const uint K = p.cg * KH * KW;
    const uint hw = p.h * p.w;
    // Row of W for local output channel m: weights of this dispatch start at w_off.
    const uint w_row0 = p.w_off + (zg * p.ocg + ocl0) * K;
    // This workgroup's slice of K, in whole TK steps.
    const uint k_slice = ((K + SPLIT_K - 1) / SPLIT_K + TK - 1) / TK * TK;
    const uint k_begin = split * k_slice;
    const uint k_end = min(K, k_begin + k_slice);

    // The im2col column this invocation loads is fixed for the whole K loop: decompose it once.
    // Loader layout for B: idx = lid + WG*r, kk = idx / TN, nn = idx % TN.
    const uint nn = lid % TN;
    const uint kk0 = lid / TN;
    const uint col = col0 + nn;
    const bool col_ok = col < cols;
    const uint img = col_ok ? col / ohw : 0;
    const uint pix = col_ok ? col % ohw : 0;
    const int ih0 = int(pix / p.ow) * int(SH) - p.pad_top;
    const int iw0 = int(pix % p.ow) * int(SW) - p.pad_left;
    const uint x_base = p.x_off + img * p.x_image_stride + (p.x_channel + group * p.cg) * hw;

    float acc[RM][RN];
    [[unroll]] for (uint i = 0; i < RM; ++i) [[unroll]] for (uint j = 0; j < RN; ++j) acc[i][j] =
        0.0;

    for (uint k0 = k_begin; k0 < k_end; k0 += TK) {
        // Stage W[ocl0.., k0..] (row-major in k, so consecutive invocations read consecutive k).
        [[unroll]] for (uint idx = lid; idx < TK * TM; idx += WG) {
            uint m = idx / TK, kk = idx % TK;
            float v = 0.0;
            if (ocl0 + m < p.ocg && k0 + kk < k_end) v = float(w[w_row0 + m * K + k0 + kk]);
            As[kk][m] = v;
        }
        // Stage im2col(X)[k0.., col0..].
        [[unroll]] for (uint kk = kk0; kk < TK; kk += WG / TN) {
            uint k = k0 + kk;
            float v = 0.0;
            if (col_ok && k < k_end) {
                if (POINTWISE) {
                    v = float(x[x_base + k * hw + pix]);
                } else {
                    uint ci = k / (KH * KW), r = k % (KH * KW);
                    int ih = ih0 + int((r / KW) * DH), iw = iw0 + int((r % KW) * DW);
                    if (ih >= 0 && ih < int(p.h) && iw >= 0 && iw < int(p.w))
                        v = float(x[x_base + ci * hw + uint(ih) * p.w + uint(iw)]);
                }
            }
            Bs[kk][nn] = v;
        }
        barrier();
        [[unroll]] for (uint kk = 0; kk < TK; ++kk) {
            float a[RM], b[RN];
            [[unroll]] for (uint i = 0; i < RM; ++i) a[i] = As[kk][ty * RM + i];
            [[unroll]] for (uint j = 0; j < RN; ++j) b[j] = Bs[kk][tx + j * (TN / RN)];
            [[unroll]] for (uint i = 0; i < RM; ++i) [[unroll]] for (uint j = 0; j < RN; ++j)
                acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
        barrier();
    }

    [[unroll]] for (uint i = 0; i < RM; ++i) {
        uint ocl = ocl0 + ty * RM + i;
        if (ocl >= p.ocg) continue;
        uint oc = zg * p.ocg + ocl;  // relative to the dispatch's first
        if (SPLIT_K > 1) {
            const uint channels = p.ocg * (gl_NumWorkGroups.z / SPLIT_K);
            [[unroll]] for (uint j = 0; j < RN; ++j) {
                uint c2 = col0 + tx + j * (TN / RN);
                if (c2 < cols) y_partial[p.y_off + (split * channels + oc) * cols + c2] = acc[i][j];
            }
            continue;
        }
        float bv = p.has_bias != 0 ? float(bias[p.b_off + oc]) : 0.0;
        float lo = ACT == 2 ? float(bias[p.b_off + oc + p.act_stride]) : 0.0;
        float hi = ACT == 2 ? float(bias[p.b_off + oc + 2 * p.act_stride]) : 0.0;
        [[unroll]] for (uint j = 0; j < RN; ++j) {
            uint c2 = col0 + tx + j * (TN / RN);
            if (c2 >= cols) continue;
            uint im = c2 / ohw, px = c2 % ohw;
            float v = acc[i][j] + bv;
            if (RESIDUAL)
                v += float(r[p.r_off + im * p.r_image_stride + (p.r_channel + oc) * ohw + px]);
            y[p.y_off + im * p.y_image_stride + (p.y_channel + oc) * ohw + px] =
                SFLOAT(apply_act(v, ACT, lo, hi));
        }
    }
}
