// Winograd F(2,3) and F(4,3) transforms (rm/winograd.hpp has the matrices and the error bound)
// on vec4s whose four components belong to four different tiles, so that one invocation
// transforms four tiles with vector arithmetic. Factored so that every term is rounded at most
// once per non-zero coefficient of its row, as the bound assumes.
#ifndef RMVK_WINOGRAD_GLSL
#define RMVK_WINOGRAD_GLSL

// B^T d for the 4 (F(2,3)) or 6 (F(4,3)) values of one tile column or row.
void input_transform_2(inout vec4 d[6]) {
    vec4 r0 = d[0] - d[2], r1 = d[1] + d[2], r2 = d[2] - d[1], r3 = d[1] - d[3];
    d[0] = r0;
    d[1] = r1;
    d[2] = r2;
    d[3] = r3;
}

void input_transform_4(inout vec4 d[6]) {
    vec4 a = d[4] - d[2], b = d[3] - d[1];
    vec4 r0 = fma(vec4(-5.0), d[2], 4.0 * d[0]) + d[4];
    vec4 r1 = (d[3] + d[4]) - 4.0 * (d[1] + d[2]);
    vec4 r2 = (d[4] - d[3]) + 4.0 * (d[1] - d[2]);
    vec4 r3 = a + 2.0 * b;
    vec4 r4 = a - 2.0 * b;
    vec4 r5 = fma(vec4(-5.0), d[3], 4.0 * d[1]) + d[5];
    d[0] = r0;
    d[1] = r1;
    d[2] = r2;
    d[3] = r3;
    d[4] = r4;
    d[5] = r5;
}

// A^T m for the 4 or 6 values of one column or row: 2 or 4 outputs.
void output_transform_2(inout vec4 m[6]) {
    vec4 o0 = m[0] + m[1] + m[2], o1 = m[1] - m[2] - m[3];
    m[0] = o0;
    m[1] = o1;
}

void output_transform_4(inout vec4 m[6]) {
    vec4 a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], d = m[3] - m[4];
    vec4 o0 = m[0] + a + c;
    vec4 o1 = b + 2.0 * d;
    vec4 o2 = a + 4.0 * c;
    vec4 o3 = b + 8.0 * d + m[5];
    m[0] = o0;
    m[1] = o1;
    m[2] = o2;
    m[3] = o3;
}

#endif
