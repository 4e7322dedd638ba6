#version 450
// A textured quad from push constants only (no vertex buffer): the feature-map and input
// images drawn inside ImGui windows through a draw callback.
layout(push_constant) uniform Quad {
    vec4 rect;  // x0, y0, x1, y1 in normalised device coordinates
    vec4 uv;    // u0, v0, u1, v1
} quad;
layout(location = 0) out vec2 out_uv;
void main() {
    vec2 corner = vec2(gl_VertexIndex & 1, gl_VertexIndex >> 1);
    gl_Position = vec4(mix(quad.rect.xy, quad.rect.zw, corner), 0.0, 1.0);
    out_uv = mix(quad.uv.xy, quad.uv.zw, corner);
}
