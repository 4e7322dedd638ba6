#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "winograd.glsl"
// Winograd input transform: V[xi][c][tile] = (B^T d B)[xi] for every (M+2) x (M+2) input tile d
// of channel c (zeros outside the input). Tiles are numbered (image, tile row, tile column)
// over the whole batch, padded to tiles_padded; each invocation transforms 4 consecutive tiles
// of one channel and stores each xi as one vec4, in the layout the batched GEMM
// (conv2d_direct) reads: as its pointwise input, 4 tiles per RGBA texel, or with PACKED as its
// packed weights (rows of 16 tiles), when the GEMM puts output channels across lanes.
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint M = 4;  // F(M, 3): 2 or 4
layout(constant_id = 1) const bool PACKED = false;

layout(binding = 0) uniform samplerBuffer X;
layout(std430, binding = 1) writeonly buffer V {
    SVEC4 v[];
};

// Must match WinogradInputPush and WinogradInputSpec in app/engine/shader_params.hpp.
layout(push_constant) uniform P {
    uint x_off, v_off;  // v_off in vec4s
    uint c, h, w;
    uint x_image_stride, x_channel;
    uint tiles_h, tiles_w;
    uint tiles;         // images * tiles_h * tiles_w
    uint tiles_padded;  // a multiple of 4 (16 when PACKED): the V row length
    int pad_top, pad_left;
}
p;

const uint T = M + 2;

void main() {
    // One invocation per (channel, 4 tiles). Integer division is a loop over the lanes on CPU
    // devices: a few per invocation, none per tile.
    const uint quads = p.tiles_padded / 4;
    const uint at = flat_group_id() * 64 + gl_LocalInvocationID.x;
    if (at >= p.c * quads) return;
    // Consecutive invocations store consecutive vec4s: (channel, quad) unpacked, (quad / 4,
    // channel, quad % 4) packed.
    const uint ch = PACKED ? (at / 4) % p.c : at / quads;
    const uint quad = PACKED ? (at / (4 * p.c)) * 4 + at % 4 : at % quads;
    const uint per_image = p.tiles_h * p.tiles_w, first = quad * 4;
    const uint images = p.tiles / per_image;
    uint img = first / per_image, ty = (first % per_image) / p.tiles_w, tx = first % p.tiles_w;
    int row0[4], col0[4];
    uint plane[4];
    bool real[4];
    [[unroll]] for (uint k = 0; k < 4; ++k) {
        real[k] = first + k < p.tiles;
        row0[k] = int(ty * M) - p.pad_top;
        col0[k] = int(tx * M) - p.pad_left;
        plane[k] =
            p.x_off + min(img, images - 1) * p.x_image_stride + (p.x_channel + ch) * p.h * p.w;
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
    // d[i][j]: component k from tile k. Fetches are unconditional (at a clamped index) and
    // selected, as in conv2d_direct.
    vec4 d[6][6];
    [[unroll]] for (uint i = 0; i < T; ++i) [[unroll]] for (uint j = 0; j < T; ++j) {
        vec4 val;
        [[unroll]] for (uint k = 0; k < 4; ++k) {
            int y = row0[k] + int(i), x = col0[k] + int(j);
            bool inside = real[k] && y >= 0 && y < int(p.h) && x >= 0 && x < int(p.w);
            float f = texelFetch(X, int(plane[k]) + (inside ? y * int(p.w) + x : 0)).r;
            val[k] = inside ? f : 0.0;
        }
        d[i][j] = val;
    }
    // B^T d (columns), then (B^T d) B (rows).
    [[unroll]] for (uint j = 0; j < T; ++j) {
        vec4 col[6];
        [[unroll]] for (uint i = 0; i < T; ++i) col[i] = d[i][j];
        if (M == 2)
            input_transform_2(col);
        else
            input_transform_4(col);
        [[unroll]] for (uint i = 0; i < T; ++i) d[i][j] = col[i];
    }
    // Unpacked: V[xi][c][tile]. Packed: [xi][tile / 16][c][tile % 16], as pack_conv_weights.
    // Either way the vec4 of this invocation is number `at` within its xi.
    const uint xi_stride = p.c * quads;
    [[unroll]] for (uint i = 0; i < T; ++i) {
        vec4 row[6] = d[i];
        if (M == 2)
            input_transform_2(row);
        else
            input_transform_4(row);
        [[unroll]] for (uint j = 0; j < T; ++j) v[p.v_off + (i * T + j) * xi_stride + at] =
            SVEC4(row[j]);
    }
}
