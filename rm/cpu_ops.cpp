// The reference meaning of every operator except Conv (rm/cpu_conv.cpp). Written for clarity
// first; they are memory-bound and take a small share of a network's time.
#include "rm/cpu_ops.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "rm/batchnorm.hpp"
#include "rm/error.hpp"
#include "rm/nan_math.hpp"

namespace rm::cpu {

namespace {

Shape broadcast_shape(const Shape& a, const Shape& b) {
    Shape out(std::max(a.size(), b.size()));
    for (size_t i = 0; i < out.size(); ++i) {
        int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
        int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
        if (da != db && da != 1 && db != 1)
            throw Error("shapes " + to_string(a) + " and " + to_string(b) + " cannot be broadcast");
        out[i] = da == 1 ? db : da;
    }
    return out;
}

// Strides of `s` seen through broadcasting to `out` (0 where s has size 1 or lacks the axis).
std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out) {
    std::vector<int64_t> strides(out.size(), 0);
    int64_t stride = 1;
    for (size_t i = s.size(); i-- > 0;) {
        size_t o = i + (out.size() - s.size());
        strides[o] = s[i] == 1 ? 0 : stride;
        stride *= s[i];
    }
    return strides;
}

struct PoolGeometry {
    int64_t n, c, h, w, oh, ow;
};

PoolGeometry pool_geometry(const Tensor& x, const Attrs& a) {
    if (x.shape.size() != 4 || a.kernel.size() != 2)
        throw Error("pooling needs a 4-D input and a 2-D kernel, got " + to_string(x.shape));
    if (!a.auto_pad.empty() && a.auto_pad != "NOTSET")
        throw Error("pooling: auto_pad " + a.auto_pad +
                    " must be resolved into pads first (infer_shapes does)");
    auto out = [&](int64_t in, int i) {
        int64_t eff = (a.kernel[i] - 1) * a.dilations[i] + 1;
        int64_t span = in + a.pads[i] + a.pads[i + 2] - eff;
        int64_t o = span / a.strides[i] + 1;
        if (a.ceil_mode && span % a.strides[i] != 0) {
            ++o;
            if ((o - 1) * a.strides[i] >= in + a.pads[i]) --o;
        }
        return o;
    };
    return {x.shape[0], x.shape[1], x.shape[2], x.shape[3], out(x.shape[2], 0), out(x.shape[3], 1)};
}

template <typename Reduce>
Tensor pool(const Tensor& x, const Attrs& a, Reduce reduce) {
    PoolGeometry g = pool_geometry(x, a);
    Tensor y({g.n, g.c, g.oh, g.ow});
    for (int64_t p = 0; p < g.n * g.c; ++p) {
        const float* src = x.ptr() + p * g.h * g.w;
        float* dst = y.ptr() + p * g.oh * g.ow;
        for (int64_t oy = 0; oy < g.oh; ++oy)
            for (int64_t ox = 0; ox < g.ow; ++ox)
                dst[oy * g.ow + ox] =
                    reduce(src, g, oy * a.strides[0] - a.pads[0], ox * a.strides[1] - a.pads[1]);
    }
    return y;
}

}  // namespace

Tensor batchnorm(const Tensor& x, const Tensor& scale, const Tensor& b, const Tensor& mean,
                 const Tensor& var, float epsilon) {
    Tensor y(x.shape);
    int64_t n = x.shape[0], c = x.shape[1];
    int64_t inner = c == 0 ? 0 : x.size() / (n * c);
    const BnAffine a = bn_affine(scale, b, mean, var, epsilon, c, "BatchNormalization");
    for (int64_t ch = 0; ch < c; ++ch) {
        for (int64_t i = 0; i < n; ++i) {
            const float* src = x.ptr() + (i * c + ch) * inner;
            float* dst = y.ptr() + (i * c + ch) * inner;
            for (int64_t j = 0; j < inner; ++j)
                dst[j] = static_cast<float>(src[j] * a.scale[ch] + a.shift[ch]);
        }
    }
    return y;
}

Tensor relu(const Tensor& x) {
    Tensor y(x.shape);
    const float* src = x.ptr();
    float* dst = y.ptr();
    for (int64_t i = 0; i < x.size(); ++i) dst[i] = relu_keep_nan(src[i]);
    return y;
}

namespace {

// y = f(a, b) element-wise (then ReLU), b (or a) broadcast numpy-style.
template <typename F>
Tensor binary(const Tensor& a, const Tensor& b, bool fused_relu, F f) {
    Shape out = broadcast_shape(a.shape, b.shape);
    Tensor y(out);
    const float lo = fused_relu ? 0.0f : -std::numeric_limits<float>::infinity();
    if (a.shape == b.shape) {
        for (int64_t i = 0; i < y.size(); ++i)
            y.data[i] = max_keep_nan(f(a.data[i], b.data[i]), lo);
        return y;
    }
    std::vector<int64_t> sa = broadcast_strides(a.shape, out), sb = broadcast_strides(b.shape, out);
    std::vector<int64_t> index(out.size(), 0);
    int64_t ia = 0, ib = 0;
    for (int64_t i = 0; i < y.size(); ++i) {
        y.data[i] = max_keep_nan(f(a.data[ia], b.data[ib]), lo);
        // Odometer increment of the multi-index, keeping both source offsets in step.
        for (size_t d = out.size(); d-- > 0;) {
            ++index[d];
            ia += sa[d];
            ib += sb[d];
            if (index[d] < out[d]) break;
            ia -= sa[d] * out[d];
            ib -= sb[d] * out[d];
            index[d] = 0;
        }
    }
    return y;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, bool fused_relu) {
    return binary(a, b, fused_relu, [](float u, float v) { return u + v; });
}

Tensor mul(const Tensor& a, const Tensor& b, bool fused_relu) {
    return binary(a, b, fused_relu, [](float u, float v) { return u * v; });
}

// NaN in either operand gives NaN (torch.maximum / torch.minimum; std::max would drop it).
Tensor max(const Tensor& a, const Tensor& b) {
    return binary(a, b, false, [](float u, float v) {
        return std::isnan(u) || std::isnan(v) ? std::numeric_limits<float>::quiet_NaN()
                                              : std::max(u, v);
    });
}

Tensor min(const Tensor& a, const Tensor& b) {
    return binary(a, b, false, [](float u, float v) {
        return std::isnan(u) || std::isnan(v) ? std::numeric_limits<float>::quiet_NaN()
                                              : std::min(u, v);
    });
}

Tensor prelu(const Tensor& x, const Tensor& slope) {
    if (broadcast_shape(x.shape, slope.shape) != x.shape)
        throw Error("PRelu: slope " + to_string(slope.shape) + " does not broadcast to " +
                    to_string(x.shape));
    return binary(x, slope, false, [](float u, float s) { return u < 0.0f ? u * s : u; });
}

float clamp_keep_nan(float v, float lo, float hi) {
    return std::isnan(v) ? v : std::min(std::max(v, lo), hi);
}

Tensor clip(const Tensor& x, float lo, float hi) {
    Tensor y(x.shape);
    for (int64_t i = 0; i < x.size(); ++i) y.data[i] = clamp_keep_nan(x.data[i], lo, hi);
    return y;
}

Tensor channel_clamp(const Tensor& x, const std::vector<float>& lo, const std::vector<float>& hi) {
    const int64_t channels = x.shape.size() > 1 ? x.shape[1] : 1;
    if (static_cast<int64_t>(lo.size()) != channels || static_cast<int64_t>(hi.size()) != channels)
        throw Error("channel clamp: " + std::to_string(lo.size()) + " bounds for " +
                    std::to_string(channels) + " channels");
    const int64_t inner = channels ? x.size() / std::max<int64_t>(x.shape[0] * channels, 1) : 0;
    Tensor y(x.shape);
    for (int64_t i = 0; i < x.size(); ++i) {
        const auto c = static_cast<size_t>((i / std::max<int64_t>(inner, 1)) % channels);
        y.data[i] = clamp_keep_nan(x.data[i], lo[c], hi[c]);
    }
    return y;
}

Tensor reduce_mean_spatial(const Tensor& x, bool keepdims) {
    Tensor y = global_average_pool(x);
    if (!keepdims) y.shape = {x.shape[0], x.shape[1]};
    return y;
}

Tensor max_pool(const Tensor& x, const Attrs& a) {
    return pool(x, a, [&](const float* src, const PoolGeometry& g, int64_t y0, int64_t x0) {
        float best = -std::numeric_limits<float>::infinity();
        bool any = false;
        for (int64_t ky = 0; ky < a.kernel[0]; ++ky) {
            int64_t iy = y0 + ky * a.dilations[0];
            if (iy < 0 || iy >= g.h) continue;
            for (int64_t kx = 0; kx < a.kernel[1]; ++kx) {
                int64_t ix = x0 + kx * a.dilations[1];
                if (ix < 0 || ix >= g.w) continue;
                best = max_keep_nan(best, src[iy * g.w + ix]);
                any = true;
            }
        }
        return any ? best : 0.0f;  // a window entirely in padding has no maximum; 0 keeps it finite
    });
}

Tensor average_pool(const Tensor& x, const Attrs& a) {
    return pool(x, a, [&](const float* src, const PoolGeometry& g, int64_t y0, int64_t x0) {
        double sum = 0;
        int64_t count = 0, padded_count = 0;
        for (int64_t ky = 0; ky < a.kernel[0]; ++ky) {
            int64_t iy = y0 + ky * a.dilations[0];
            if (iy >= g.h + a.pads[2]) continue;  // beyond the bottom padding (ceil_mode)
            for (int64_t kx = 0; kx < a.kernel[1]; ++kx) {
                int64_t ix = x0 + kx * a.dilations[1];
                if (ix >= g.w + a.pads[3]) continue;
                ++padded_count;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                sum += src[iy * g.w + ix];
                ++count;
            }
        }
        int64_t divisor = a.count_include_pad ? padded_count : count;
        return divisor == 0 ? 0.0f : static_cast<float>(sum / divisor);
    });
}

Tensor global_average_pool(const Tensor& x) {
    Shape out = x.shape;
    for (size_t i = 2; i < out.size(); ++i) out[i] = 1;
    Tensor y(out);
    int64_t planes = out[0] * out[1];
    int64_t inner = planes == 0 ? 0 : x.size() / planes;
    for (int64_t p = 0; p < planes; ++p) {
        double sum = 0;
        for (int64_t j = 0; j < inner; ++j) sum += x.data[p * inner + j];
        y.data[p] = static_cast<float>(sum / inner);
    }
    return y;
}

Tensor flatten(const Tensor& x, int64_t axis) {
    int64_t rank = static_cast<int64_t>(x.shape.size());
    if (axis < 0) axis += rank;
    int64_t outer = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x.shape[i];
    return Tensor({outer, outer == 0 ? 0 : x.size() / outer}, x.data);
}

Tensor reshape(const Tensor& x, const std::vector<int64_t>& target) {
    Shape out = target;
    int64_t known = 1, infer_at = -1;
    for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] == 0 && i < x.shape.size()) out[i] = x.shape[i];
        if (out[i] == -1)
            infer_at = static_cast<int64_t>(i);
        else
            known *= out[i];
    }
    if (infer_at >= 0) out[infer_at] = known == 0 ? 0 : x.size() / known;
    return Tensor(out, x.data);  // throws when the element counts differ
}

Tensor gemm(const Tensor& a, const Tensor& b, const Tensor* c, const Attrs& attrs) {
    int64_t m = attrs.trans_a ? a.shape[1] : a.shape[0],
            k = attrs.trans_a ? a.shape[0] : a.shape[1];
    int64_t n = attrs.trans_b ? b.shape[0] : b.shape[1];
    Tensor y({m, n});
    std::vector<int64_t> cs = c ? broadcast_strides(c->shape, {m, n}) : std::vector<int64_t>{0, 0};
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            double sum = 0;
            for (int64_t p = 0; p < k; ++p) {
                float av = attrs.trans_a ? a.data[p * m + i] : a.data[i * k + p];
                float bv = attrs.trans_b ? b.data[j * k + p] : b.data[p * n + j];
                sum += static_cast<double>(av) * bv;
            }
            double bias =
                c ? attrs.beta * static_cast<double>(c->data[i * cs[0] + j * cs[1]]) : 0.0;
            y.data[i * n + j] = static_cast<float>(attrs.alpha * sum + bias);
        }
    return y;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
    Shape sa = a.shape, sb = b.shape;
    bool a_vec = sa.size() == 1, b_vec = sb.size() == 1;
    if (a_vec) sa.insert(sa.begin(), 1);
    if (b_vec) sb.push_back(1);
    int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
    if (sb[sb.size() - 2] != k)
        throw Error("MatMul: inner dimensions differ: " + to_string(a.shape) + " x " +
                    to_string(b.shape));
    Shape batch_a(sa.begin(), sa.end() - 2), batch_b(sb.begin(), sb.end() - 2);
    Shape batch = broadcast_shape(batch_a, batch_b);
    std::vector<int64_t> stride_a = broadcast_strides(batch_a, batch),
                         stride_b = broadcast_strides(batch_b, batch);
    int64_t batches = element_count(batch);
    Shape out = batch;
    if (!a_vec) out.push_back(m);
    if (!b_vec) out.push_back(n);
    Tensor y(out);
    for (int64_t bi = 0; bi < batches; ++bi) {
        // Offsets of this batch entry in a and b (in matrices), from its multi-index.
        int64_t oa = 0, ob = 0, rest = bi;
        for (size_t d = batch.size(); d-- > 0;) {
            int64_t idx = rest % batch[d];
            rest /= batch[d];
            oa += idx * stride_a[d];
            ob += idx * stride_b[d];
        }
        const float* pa = a.ptr() + oa * m * k;
        const float* pb = b.ptr() + ob * k * n;
        float* py = y.ptr() + bi * m * n;
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
                double sum = 0;
                for (int64_t p = 0; p < k; ++p)
                    sum += static_cast<double>(pa[i * k + p]) * pb[p * n + j];
                py[i * n + j] = static_cast<float>(sum);
            }
    }
    return y;
}

Tensor softmax(const Tensor& x, int64_t axis) {
    int64_t rank = static_cast<int64_t>(x.shape.size());
    if (axis < 0) axis += rank;
    int64_t outer = 1, inner = 1, dim = x.shape[axis];
    for (int64_t i = 0; i < axis; ++i) outer *= x.shape[i];
    for (int64_t i = axis + 1; i < rank; ++i) inner *= x.shape[i];
    Tensor y(x.shape);
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t in = 0; in < inner; ++in) {
            const float* src = x.ptr() + o * dim * inner + in;
            float* dst = y.ptr() + o * dim * inner + in;
            float peak = -std::numeric_limits<float>::infinity();
            for (int64_t i = 0; i < dim; ++i) peak = max_keep_nan(peak, src[i * inner]);
            double sum = 0;
            for (int64_t i = 0; i < dim; ++i)
                sum += std::exp(static_cast<double>(src[i * inner]) - peak);
            for (int64_t i = 0; i < dim; ++i)
                dst[i * inner] =
                    static_cast<float>(std::exp(static_cast<double>(src[i * inner]) - peak) / sum);
        }
    return y;
}

}  // namespace rm::cpu
