#pragma once
#include "rm/graph.hpp"

namespace rm::cpu {

// The CPU twin of each GPU kernel: single-operator functions the engine tests compare against.
// Shapes are checked by the caller (infer_shapes); bias may be null.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Attrs& a,
              int threads = 0);
// The same conv with a structured weight: bias, then each dense block on its channel ranges,
// then the Dirac entries (scale * the input pixel under the centre tap). The sums are those of
// the dense conv in another order.
Tensor conv2d_structured(const Tensor& x, const ConvStructure& w, const Tensor* bias,
                         const Attrs& a, int threads = 0);
Tensor batchnorm(const Tensor& x, const Tensor& scale, const Tensor& b, const Tensor& mean,
                 const Tensor& var, float epsilon);
Tensor relu(const Tensor& x);
// Binary element-wise ops with numpy broadcasting (a per-channel [C,1,1] constant, a scalar).
Tensor add(const Tensor& a, const Tensor& b, bool fused_relu = false);
Tensor mul(const Tensor& a, const Tensor& b, bool fused_relu = false);
// Max/Min of two operands (broadcast); NaN in either gives NaN, as in PyTorch.
Tensor max(const Tensor& a, const Tensor& b);
Tensor min(const Tensor& a, const Tensor& b);
Tensor prelu(const Tensor& x, const Tensor& slope);  // slope broadcast to x
// min(max(v, lo), hi) that keeps NaN (PyTorch's clamp / hardtanh / relu6).
float clamp_keep_nan(float v, float lo, float hi);
Tensor clip(const Tensor& x, float lo, float hi);
// The per-channel clamp the engine fuses into convs: channel c of x into [lo[c], hi[c]].
Tensor channel_clamp(const Tensor& x, const std::vector<float>& lo, const std::vector<float>& hi);
// ReduceMean over H and W of an NCHW tensor ([N, C] when !keepdims).
Tensor reduce_mean_spatial(const Tensor& x, bool keepdims);
Tensor max_pool(const Tensor& x, const Attrs& a);
Tensor average_pool(const Tensor& x, const Attrs& a);
Tensor global_average_pool(const Tensor& x);
Tensor flatten(const Tensor& x, int64_t axis);
Tensor reshape(const Tensor& x, const std::vector<int64_t>& target);
Tensor gemm(const Tensor& a, const Tensor& b, const Tensor* c, const Attrs& attrs);
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor softmax(const Tensor& x, int64_t axis);

}  // namespace rm::cpu
