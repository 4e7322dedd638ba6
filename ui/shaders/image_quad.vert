#version 450
// Textured quads as instances (no vertex buffer for corners): every feature-map tile of a grid,
// or an input image, drawn in one instanced draw inside an ImGui draw callback. One draw per
// grid instead of one per tile: a software rasteriser pays for every draw and state change.
layout(location = 0) in vec4 in_rect;  // x0, y0, x1, y1 in normalised device coordinates
layout(location = 1) in vec4 in_uv;    // u0, v0, u1, v1
layout(location = 0) out vec2 out_uv;
void main() {
    vec2 corner = vec2(gl_VertexIndex & 1, gl_VertexIndex >> 1);
    gl_Position = vec4(mix(in_rect.xy, in_rect.zw, corner), 0.0, 1.0);
    out_uv = mix(in_uv.xy, in_uv.zw, corner);
}
