#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Convolution as implicit GEMM: Y[oc, pixel] = sum_k W[oc, k] * im2col(X)[k, pixel] + bias,
// k = (ci, kh, kw) within the group, pixel = (n, oh, ow). Each workgroup computes a TM x TN
// output tile, staging TK-deep slices of W and im2col(X) in shared memory; each invocation
// keeps an RM x RN block of accumulators in registers. The shared tiles are double-buffered:
// while the invocations multiply one slice, the next is already loaded into registers, and it
// is stored to the other buffer afterwards, so a K step needs one barrier. Kernel geometry is
// specialised, and the im2col position (ci, kh, kw) of each loaded row is advanced by constant
// steps rather than divided out of k.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TM = 64;  // output channels per tile (a multiple of 4)
layout(constant_id = 2) const uint TN = 64;  // pixels per tile
layout(constant_id = 3) const uint TK = 16;  // reduction depth per shared-memory stage
layout(constant_id = 4) const uint RM = 8;   // output channels per invocation
layout(constant_id = 5) const uint RN = 4;   // pixels per invocation
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
// Packed at upload (rmvk::pack_conv_weights with 4 rows): [group][ceil(ocg / 4)][K][4], the
// weights of 4 consecutive output channels for one k in one vec4. Offset w_off in vec4s.
layout(std430, binding = 1) readonly buffer Wt {
    SVEC4 w4[];
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
    uint act_stride;  // CLAMP: output channels of the conv (bias, lo, hi planes)
    uint relu;
}
p;

const uint WG = (TM / RM) * (TN / RN);
const uint TM4 = TM / 4;
// Rows padded by one vec4 (4 banks): the weight tile is stored a vec4 per (k, 4 channels) with
// k varying fastest across invocations, so row k of each quarter-warp starts 4 banks on from
// row k - 1 and the 16-byte stores of 8 invocations cover all 32 banks once. The im2col tile
// is stored along its rows and read as vec4s.
const uint A_ROW = TM4 + 1;
const uint B_ROW = (TN + 3) / 4 + 1;
shared vec4 As[2][TK][A_ROW];
shared vec4 Bs[2][TK][B_ROW];

// Loader layout. W: item idx = lid + WG * r is the vec4 of channels 4 * (idx / TK).. at depth
// idx % TK (consecutive invocations read consecutive vec4s). im2col(X): each invocation loads
// column lid % TN at depths lid / TN + B_STEP * j.
const uint A_ITEMS = TK * TM4;
const uint A_PER = (A_ITEMS + WG - 1) / WG;
const uint B_STEP = WG / TN;
const uint B_PER = (TK + B_STEP - 1) / B_STEP;
vec4 a_reg[A_PER];
float b_reg[B_PER];

// Which of the tile's rows and columns an invocation accumulates: with RM (RN) a multiple of
// 4, groups of 4 adjacent ones that neighbouring invocations read as neighbouring vec4s;
// otherwise single ones strided across the invocations.
uint tile_row(uint ty, uint i) {
    return RM % 4 == 0 ? ((i / 4) * (TM / RM) + ty) * 4 + i % 4 : ty * RM + i;
}
uint tile_col(uint tx, uint j) {
    return RN % 4 == 0 ? ((j / 4) * (TN / RN) + tx) * 4 + j % 4 : j * (TN / RN) + tx;
}

// The im2col position (input plane offset, kh, kw) of depth k + d from that of k; d is a
// constant, so the divisions fold away.
void advance(inout uint plane, inout uint kh, inout uint kw, uint d, uint hw) {
    kw += d % KW;
    kh += (d / KW) % KH;
    plane += (d / (KH * KW)) * hw;
    if (kw >= KW) {
        kw -= KW;
        ++kh;
    }
    if (kh >= KH) {
        kh -= KH;
        plane += hw;
    }
}

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
    // This workgroup's slice of K, in whole TK steps.
    const uint k_slice = ((K + SPLIT_K - 1) / SPLIT_K + TK - 1) / TK * TK;
    const uint k_begin = split * k_slice;
    const uint k_end = min(K, k_begin + k_slice);

    // W: the vec4 rows of this tile start at row group ocl0 / 4 of this group's packed block.
    const uint w_base = p.w_off + (zg * ((p.ocg + 3) / 4) + ocl0 / 4) * K;
    uint a_src[A_PER], a_kk[A_PER];
    bool a_ok[A_PER];
    [[unroll]] for (uint r = 0; r < A_PER; ++r) {
        const uint idx = lid + WG * r;
        a_kk[r] = idx % TK;
        a_src[r] = (idx / TK) * K + a_kk[r];
        a_ok[r] = idx < A_ITEMS && ocl0 + 4 * (idx / TK) < p.ocg;
    }

    // im2col(X): the column this invocation loads is fixed for the whole K loop.
    const uint nn = lid % TN;
    const uint kk0 = lid / TN;
    const uint col = col0 + nn;
    const bool col_ok = col < cols;
    const uint img = col_ok ? col / ohw : 0;
    const uint pix = col_ok ? col % ohw : 0;
    const int ih0 = int(pix / p.ow) * int(SH) - p.pad_top;
    const int iw0 = int(pix % p.ow) * int(SW) - p.pad_left;
    const uint x_base = p.x_off + img * p.x_image_stride + (p.x_channel + group * p.cg) * hw;
    // The im2col position of depth k_begin + kk0, divided out once; then advanced.
    const uint kfirst = k_begin + kk0;
    uint s_plane = (kfirst / (KH * KW)) * hw;
    uint s_kh = (kfirst % (KH * KW)) / KW;
    uint s_kw = kfirst % KW;

    // Global loads of the slice at depth k0 into registers (s_*: the position of k0 + kk0).
    // Out-of-range rows, columns and depths load zeros.
#define LOAD_SLICE(k0)                                                                        \
    {                                                                                         \
        [[unroll]] for (uint r = 0; r < A_PER; ++r) a_reg[r] =                                \
            a_ok[r] && (k0) + a_kk[r] < k_end ? vec4(w4[w_base + a_src[r] + (k0)]) : vec4(0); \
        uint plane = s_plane, kh = s_kh, kw = s_kw;                                           \
        [[unroll]] for (uint j = 0; j < B_PER; ++j) {                                         \
            const uint kk = kk0 + j * B_STEP;                                                 \
            float v = 0.0;                                                                    \
            if (col_ok && (B_PER * B_STEP == TK || kk < TK) && (k0) + kk < k_end) {           \
                if (POINTWISE) {                                                              \
                    v = float(x[x_base + plane + pix]);                                       \
                } else {                                                                      \
                    const int ih = ih0 + int(kh * DH), iw = iw0 + int(kw * DW);               \
                    if (ih >= 0 && ih < int(p.h) && iw >= 0 && iw < int(p.w))                 \
                        v = float(x[x_base + plane + uint(ih) * p.w + uint(iw)]);             \
                }                                                                             \
            }                                                                                 \
            b_reg[j] = v;                                                                     \
            advance(plane, kh, kw, B_STEP, hw);                                               \
        }                                                                                     \
    }
#define STORE_SLICE(buf)                                                                 \
    {                                                                                    \
        [[unroll]] for (uint r = 0; r < A_PER; ++r) if (lid + WG * r < A_ITEMS)          \
            As[buf][a_kk[r]][(lid + WG * r) / TK] = a_reg[r];                            \
        [[unroll]] for (uint j = 0; j < B_PER; ++j) {                                    \
            const uint kk = kk0 + j * B_STEP;                                            \
            if (B_PER * B_STEP == TK || kk < TK) Bs[buf][kk][nn / 4][nn % 4] = b_reg[j]; \
        }                                                                                \
    }

    float acc[RM][RN];
    [[unroll]] for (uint i = 0; i < RM; ++i) [[unroll]] for (uint j = 0; j < RN; ++j) acc[i][j] =
        0.0;

    if (k_begin < k_end) {
        LOAD_SLICE(k_begin);
        STORE_SLICE(0);
    }
    barrier();
    uint buf = 0;
    for (uint k0 = k_begin; k0 < k_end; k0 += TK) {
        const bool more = k0 + TK < k_end;
        if (more) {  // the next slice's loads are in flight while this one is multiplied
            advance(s_plane, s_kh, s_kw, TK, hw);
            LOAD_SLICE(k0 + TK);
        }
        [[unroll]] for (uint kk = 0; kk < TK; ++kk) {
            float a[RM], b[RN];
            if (RM % 4 == 0) {
                [[unroll]] for (uint q = 0; q < RM / 4; ++q) {
                    const vec4 v = As[buf][kk][q * (TM / RM) + ty];
                    a[4 * q] = v.x;
                    a[4 * q + 1] = v.y;
                    a[4 * q + 2] = v.z;
                    a[4 * q + 3] = v.w;
                }
            } else {
                [[unroll]] for (uint i = 0; i < RM; ++i) {
                    const uint m = tile_row(ty, i);
                    a[i] = As[buf][kk][m / 4][m % 4];
                }
            }
            if (RN % 4 == 0) {
                [[unroll]] for (uint q = 0; q < RN / 4; ++q) {
                    const vec4 v = Bs[buf][kk][q * (TN / RN) + tx];
                    b[4 * q] = v.x;
                    b[4 * q + 1] = v.y;
                    b[4 * q + 2] = v.z;
                    b[4 * q + 3] = v.w;
                }
            } else {
                [[unroll]] for (uint j = 0; j < RN; ++j) {
                    const uint c = tile_col(tx, j);
                    b[j] = Bs[buf][kk][c / 4][c % 4];
                }
            }
            [[unroll]] for (uint i = 0; i < RM; ++i) [[unroll]] for (uint j = 0; j < RN; ++j)
                acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
        // The other buffer was last read before the previous barrier: no second barrier.
        if (more) STORE_SLICE(buf ^ 1);
        barrier();
        buf ^= 1;
    }

    // Where each of this invocation's columns lands: image and pixel divided out once per column.
    uint y_at[RN], r_at[RN];
    bool c_ok[RN];
    [[unroll]] for (uint j = 0; j < RN; ++j) {
        const uint c2 = col0 + tile_col(tx, j);
        c_ok[j] = c2 < cols;
        const uint im = c2 / ohw, px = c2 % ohw;
        y_at[j] = SPLIT_K > 1 ? c2 : im * p.y_image_stride + px;
        r_at[j] = im * p.r_image_stride + px;
    }
    [[unroll]] for (uint i = 0; i < RM; ++i) {
        uint ocl = ocl0 + tile_row(ty, i);
        if (ocl >= p.ocg) continue;
        uint oc = zg * p.ocg + ocl;  // relative to the dispatch's first
        if (SPLIT_K > 1) {
            const uint channels = p.ocg * (gl_NumWorkGroups.z / SPLIT_K);
            [[unroll]] for (uint j = 0; j < RN; ++j) if (c_ok[j])
                y_partial[p.y_off + (split * channels + oc) * cols + y_at[j]] = acc[i][j];
            continue;
        }
        float bv = p.has_bias != 0 ? float(bias[p.b_off + oc]) : 0.0;
        float lo = CLAMP ? float(bias[p.b_off + oc + p.act_stride]) : 0.0;
        float hi = CLAMP ? float(bias[p.b_off + oc + 2 * p.act_stride]) : 0.0;
        [[unroll]] for (uint j = 0; j < RN; ++j) {
            if (!c_ok[j]) continue;
            float v = acc[i][j] + bv;
            if (RESIDUAL) v += float(r[p.r_off + (p.r_channel + oc) * ohw + r_at[j]]);
            y[p.y_off + (p.y_channel + oc) * ohw + y_at[j]] =
                SFLOAT(apply_act(v, CLAMP ? 2u : p.relu, lo, hi));
        }
    }
}
