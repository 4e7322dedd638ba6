#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "winograd.glsl"
// Winograd output transform with the conv's epilogue: y = relu(A^T Mt A + bias + residual) for
// every M x M output tile, from the batched GEMM's products. Each invocation finishes 4 tiles
// of one output channel (Mt[xi][oc][tile], 4 tiles per RGBA texel), or with TRANSPOSED one tile
// of 4 output channels (Mt[xi][tile][oc], 4 channels per texel: the GEMM with output channels
// across lanes).
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint M = 4;          // F(M, 3): 2 or 4
layout(constant_id = 1) const bool CLAMP = false;  // as conv2d.comp's (else ReLU where p.relu)
layout(constant_id = 2) const bool RESIDUAL = false;
// F(4,3) on outputs whose rows are 4k floats, 16-byte aligned: a tile row is one vec4 store
// (and one RGBA residual fetch) instead of four.
layout(constant_id = 3) const bool Y4 = false;
layout(constant_id = 4) const bool TRANSPOSED = false;

layout(binding = 0) uniform samplerBuffer Mt;  // RGBA32F
layout(binding = 1) uniform samplerBuffer Bias;
layout(std430, binding = 2) writeonly buffer Y {
    SFLOAT y[];
};
layout(std430, binding = 2) writeonly buffer Y4v {
    SVEC4 y4[];
};                                            // the same buffer, by vec4
layout(binding = 3) uniform samplerBuffer R;  // bound to Mt when !RESIDUAL; RGBA32F with Y4

// Must match WinogradOutputPush and WinogradOutputSpec in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    uint m_off, b_off, y_off, r_off;  // m_off in texels
    uint oc, oh, ow;
    uint y_image_stride, y_channel;
    uint r_image_stride, r_channel;
    uint tiles_h, tiles_w, tiles, tiles_padded;
    uint has_bias;
    uint act_stride;
    uint relu;
}
p;

const uint T = M + 2;

void main() {
    // (channel, 4 tiles) or (tile, 4 channels, oc % 4 == 0).
    const uint quads = (p.tiles + 3) / 4, channel_quads = p.oc / 4;
    const uint at = flat_group_id() * 64 + gl_LocalInvocationID.x;
    if (at >= (TRANSPOSED ? p.tiles * channel_quads : p.oc * quads)) return;
    const uint ch = TRANSPOSED ? (at % channel_quads) * 4 : at / quads;
    const uint first = TRANSPOSED ? at / channel_quads : (at % quads) * 4;
    // Texel of xi = 0; xi steps by oc * tiles_padded / 4 texels in both layouts.
    const uint texel = p.m_off + (TRANSPOSED ? first * channel_quads + ch / 4
                                             : ch * (p.tiles_padded / 4) + first / 4);
    const uint xi_stride = p.oc * (p.tiles_padded / 4);
    vec4 m[6][6];
    [[unroll]] for (uint i = 0; i < T; ++i) [[unroll]] for (uint j = 0; j < T; ++j) m[i][j] =
        texelFetch(Mt, int(texel + (i * T + j) * xi_stride));
    // A^T m (columns), then (A^T m) A (rows): o[i][j] for i, j < M.
    [[unroll]] for (uint j = 0; j < T; ++j) {
        vec4 col[6];
        [[unroll]] for (uint i = 0; i < T; ++i) col[i] = m[i][j];
        if (M == 2)
            output_transform_2(col);
        else
            output_transform_4(col);
        [[unroll]] for (uint i = 0; i < M; ++i) m[i][j] = col[i];
    }
    [[unroll]] for (uint i = 0; i < M; ++i) {
        vec4 row[6] = m[i];
        if (M == 2)
            output_transform_2(row);
        else
            output_transform_4(row);
        m[i] = row;
    }

    const uint per_image = p.tiles_h * p.tiles_w;
    uint img = first / per_image, ty = (first % per_image) / p.tiles_w, tx = first % p.tiles_w;
    const uint ohw = p.oh * p.ow;
    [[unroll]] for (uint k = 0; k < 4; ++k) {
        // Component k: tile first + k of channel ch, or tile first of channel ch + k.
        const uint c = TRANSPOSED ? ch + k : ch;
        if (TRANSPOSED || first + k < p.tiles) {
            const float bv = p.has_bias != 0 ? texelFetch(Bias, int(p.b_off + c)).r : 0.0;
            const float lo = CLAMP ? texelFetch(Bias, int(p.b_off + c + p.act_stride)).r : 0.0;
            const float hi = CLAMP ? texelFetch(Bias, int(p.b_off + c + 2 * p.act_stride)).r : 0.0;
            const uint y_at = img * p.y_image_stride + (p.y_channel + c) * ohw;
            const uint r_at = img * p.r_image_stride + (p.r_channel + c) * ohw;
            [[unroll]] for (uint i = 0; i < M; ++i) {
                const uint oy = ty * M + i;
                if (oy >= p.oh) continue;
                const uint at = oy * p.ow + tx * M;
                if (Y4) {  // M == 4, whole tiles across (ow % 4 == 0)
                    vec4 v = vec4(m[i][0][k], m[i][1][k], m[i][2][k], m[i][3][k]) + bv;
                    if (RESIDUAL) v += texelFetch(R, int((p.r_off + r_at + at) / 4));
                    y4[(p.y_off + y_at + at) / 4] =
                        SVEC4(apply_act(v, CLAMP ? 2u : p.relu, lo, hi));
                    continue;
                }
                [[unroll]] for (uint j = 0; j < M; ++j) {
                    if (tx * M + j >= p.ow) continue;
                    float v = m[i][j][k] + bv;
                    if (RESIDUAL) v += texelFetch(R, int(p.r_off + r_at + at + j)).r;
                    y[p.y_off + y_at + at + j] = SFLOAT(apply_act(v, CLAMP ? 2u : p.relu, lo, hi));
                }
            }
        }
        if (!TRANSPOSED) {
            ++tx;
            if (tx == p.tiles_w) {
                tx = 0;
                ++ty;
                if (ty == p.tiles_h) {
                    ty = 0;
                    ++img;
                }
            }
        }
    }
}
