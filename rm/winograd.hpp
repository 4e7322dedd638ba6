#pragma once
// Winograd convolution F(m x m, 3 x 3) (Lavin & Gray 2015) for m = 2 or 4: the reference (CPU
// twin) of the engine's Winograd path, and its error bound.
//
// Each output tile Y (m x m) of one output channel is
//     Y = A^T [ sum_c (G g_c G^T) . (B^T d_c B) ] A
// over the input channels c, with g_c the 3x3 kernel and d_c the (m+2) x (m+2) input tile of
// channel c (zeros outside the padded input), and "." the element-wise product. The
// (m+2)^2 element-wise products summed over c are (m+2)^2 independent matrix products
// U[xi] (OC x C) . V[xi] (C x tiles): the batched GEMM that does the work, with 36/16 = 2.25
// (F(4,3)) or 16/4 = 4 (F(2,3)) multiplications per output per channel instead of 9.
//
// Error bound (fp32, unit roundoff u = 2^-24, gamma_k = k u / (1 - k u)): every term of the
// sum above passes through at most k roundings (the weight transform is done in double and
// rounded once; each 1-D pass of a transform rounds a term at most once per non-zero
// coefficient of its row; the product once; the sum over channels at most C times; bias and
// residual once each), so for every output
//     |computed - exact| <= gamma_k * ( A^T|[sum_c |G||g_c||G^T| . |B^T||d_c||B|]|A| + |bias| +
//                                       |residual| )   (|M| taken element-wise)
// with k = C + 22 for F(4,3) and k = C + 14 for F(2,3). The transforms amplify: the bracket is
// larger than sum |w||x| (on random data 7-13x for F(2,3), 30-600x for F(4,3), whose B^T and
// A^T hold 4, 5 and 8), which is why F(4,3) is less exact than direct convolution. Measured on
// random inputs in [-1, 1] (tests/winograd_test.cpp, C up to 300): max |error| / max |y| of
// 2e-7 to 7e-7 for F(2,3) and 4e-7 to 3e-6 for F(4,3), against about 1e-7 for the direct conv.
#include <vector>

#include "rm/graph.hpp"

namespace rm::winograd {

// The transform matrices of F(m, 3), row-major: B^T (t x t), G (t x 3), A^T (m x t), t = m + 2.
struct Transform {
    int m = 0, t = 0;
    std::vector<double> bt, g, at;
    int roundings(int64_t channels) const;  // k of the error bound above
};
const Transform& transform(int m);  // m = 2 or 4; throws rm::Error otherwise

// Whether a conv with these attributes and weights [oc, c / group, kh, kw] has a Winograd form:
// 3x3, stride 1, dilation 1, one group.
bool applies(const Attrs& a, const Shape& weight_shape);

// U[xi][oc][c] = (G g G^T)[xi] for weights [oc, c, 3, 3], computed in double and rounded once:
// shape [t * t, oc, c].
Tensor transform_weights(const Tensor& w, int m);

}  // namespace rm::winograd

namespace rm::cpu {

// conv2d (rm/cpu_ops.hpp) by Winograd F(m, 3), in fp32, the engine's algorithm step by step
// (transformed weights from rm::winograd::transform_weights, sums over channels in order).
// Needs rm::winograd::applies.
Tensor winograd_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Attrs& a, int m);
// The per-output bound above on |winograd_conv2d(...) (+ residual) - exact|.
Tensor winograd_error_bound(const Tensor& x, const Tensor& w, const Tensor* bias,
                            const Tensor* residual, const Attrs& a, int m);

}  // namespace rm::cpu
