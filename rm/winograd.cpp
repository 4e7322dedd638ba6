// Winograd F(m, 3): transform matrices, weight transform, the fp32 reference convolution and
// its error bound (rm/winograd.hpp). Written for clarity: it checks the engine on small shapes.
#include "rm/winograd.hpp"

#include <cmath>

#include "rm/error.hpp"

namespace rm::winograd {

namespace {

// Lavin & Gray's matrices (interpolation points 0, +-1 for F(2,3); 0, +-1, +-2 for F(4,3)).
Transform make_f2() {
    Transform f;
    f.m = 2;
    f.t = 4;
    f.bt = {1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 0, -1};
    f.g = {1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1};
    f.at = {1, 1, 1, 0, 0, 1, -1, -1};
    return f;
}

Transform make_f4() {
    Transform f;
    f.m = 4;
    f.t = 6;
    f.bt = {4, 0,  -5, 0, 1, 0, 0, -4, -4, 1,  1, 0, 0, 4, -4, -1, 1, 0,
            0, -2, -1, 2, 1, 0, 0, 2,  -1, -2, 1, 0, 0, 4, 0,  -5, 0, 1};
    f.g = {1.0 / 4,  0,        0,       -1.0 / 6, -1.0 / 6,  -1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6,
           1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 24, -1.0 / 12, 1.0 / 6,  0,        0,       1};
    f.at = {1, 1, 1, 1, 1, 0, 0, 1, -1, 2, -2, 0, 0, 1, 1, 4, 4, 0, 0, 1, -1, 8, -8, 1};
    return f;
}

// U[xi][oc][c] = (G g G^T)[xi], in double, rounded once.
Tensor transform_weights_by(const Tensor& w, const std::vector<double>& g_mat, int64_t t) {
    if (w.shape.size() != 4 || w.shape[2] != 3 || w.shape[3] != 3)
        throw Error("Winograd needs 3x3 weights, got " + to_string(w.shape));
    const int64_t oc = w.shape[0], c = w.shape[1];
    Tensor u({t * t, oc, c});
    for (int64_t o = 0; o < oc; ++o)
        for (int64_t ci = 0; ci < c; ++ci) {
            const float* g = w.ptr() + (o * c + ci) * 9;
            double gg[6][3] = {};  // G g
            for (int64_t a = 0; a < t; ++a)
                for (int j = 0; j < 3; ++j)
                    for (int i = 0; i < 3; ++i) gg[a][j] += g_mat[a * 3 + i] * g[i * 3 + j];
            for (int64_t a = 0; a < t; ++a)
                for (int64_t b = 0; b < t; ++b) {
                    double s = 0;  // (G g G^T)[a][b]
                    for (int j = 0; j < 3; ++j) s += gg[a][j] * g_mat[b * 3 + j];
                    u.data[((a * t + b) * oc + o) * c + ci] = static_cast<float>(s);
                }
        }
    return u;
}

int max_row_nonzeros(const std::vector<double>& m, int rows, int cols) {
    int most = 0;
    for (int r = 0; r < rows; ++r) {
        int nz = 0;
        for (int c = 0; c < cols; ++c) nz += m[r * cols + c] != 0;
        most = std::max(most, nz);
    }
    return most;
}

}  // namespace

int Transform::roundings(int64_t channels) const {
    // Input transform (two passes), weight rounding, product, channel sum, output transform
    // (two passes), bias, residual.
    return 2 * max_row_nonzeros(bt, t, t) + 1 + 1 + static_cast<int>(channels) +
           2 * max_row_nonzeros(at, m, t) + 2;
}

const Transform& transform(int m) {
    static const Transform f2 = make_f2(), f4 = make_f4();
    if (m == 2) return f2;
    if (m == 4) return f4;
    throw Error("Winograd F(" + std::to_string(m) + ",3) is not implemented (F(2,3), F(4,3) are)");
}

bool applies(const Attrs& a, const Shape& weight_shape) {
    return weight_shape.size() == 4 && weight_shape[2] == 3 && weight_shape[3] == 3 &&
           a.group == 1 && a.strides.size() == 2 && a.strides[0] == 1 && a.strides[1] == 1 &&
           a.dilations.size() == 2 && a.dilations[0] == 1 && a.dilations[1] == 1;
}

Tensor transform_weights(const Tensor& w, int m) {
    const Transform& f = transform(m);
    return transform_weights_by(w, f.g, f.t);
}

}  // namespace rm::winograd

namespace rm::cpu {

namespace {

struct Tiling {
    int64_t n, c, h, w, oc, oh, ow, tiles_h, tiles_w, pad_top, pad_left;
};

Tiling tiling(const Tensor& x, const Tensor& w, const Attrs& a, int m) {
    if (!winograd::applies(a, w.shape) || x.shape.size() != 4 || x.shape[1] != w.shape[1])
        throw Error("Winograd conv needs a 3x3, stride 1, undilated, ungrouped conv; got weights " +
                    to_string(w.shape) + " for input " + to_string(x.shape));
    Tiling g{};
    g.n = x.shape[0], g.c = x.shape[1], g.h = x.shape[2], g.w = x.shape[3], g.oc = w.shape[0];
    g.oh = g.h + a.pads[0] + a.pads[2] - 2, g.ow = g.w + a.pads[1] + a.pads[3] - 2;
    if (g.oh <= 0 || g.ow <= 0) throw Error("Winograd conv: input smaller than the kernel");
    g.tiles_h = (g.oh + m - 1) / m, g.tiles_w = (g.ow + m - 1) / m;
    g.pad_top = a.pads[0], g.pad_left = a.pads[1];
    return g;
}

// out (rows x cols) = mat (rows x inner) * in (inner x cols) in fp32, as the kernels do it (zero
// coefficients skipped, the others in order). `abs`: |mat| * in (the bound).
void left_multiply(const std::vector<double>& mat, int rows, int inner, int cols, const float* in,
                   float* out, bool abs) {
    for (int r = 0; r < rows; ++r)
        for (int j = 0; j < cols; ++j) {
            float s = 0;
            for (int i = 0; i < inner; ++i) {
                double k = mat[r * inner + i];
                if (k != 0) s += static_cast<float>(abs ? std::fabs(k) : k) * in[i * cols + j];
            }
            out[r * cols + j] = s;
        }
}

// M^T (cols x rows) of `in` (rows x cols).
void transpose(const float* in, int rows, int cols, float* out) {
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) out[c * rows + r] = in[r * cols + c];
}

// The (t x t) transformed input tile B^T d B of one channel (|B^T| |d| |B| when abs).
void input_tile(const winograd::Transform& f, const float* plane, const Tiling& g, int64_t ty,
                int64_t tx, float* v, bool abs) {
    const int t = f.t;
    float d[36], tmp[36], tmp_t[36];
    for (int i = 0; i < t; ++i)
        for (int j = 0; j < t; ++j) {
            int64_t y = ty * f.m - g.pad_top + i, x = tx * f.m - g.pad_left + j;
            float val = y >= 0 && y < g.h && x >= 0 && x < g.w ? plane[y * g.w + x] : 0.0f;
            d[i * t + j] = abs ? std::fabs(val) : val;
        }
    left_multiply(f.bt, t, t, t, d, tmp, abs);  // B^T d
    transpose(tmp, t, t, tmp_t);
    left_multiply(f.bt, t, t, t, tmp_t, d, abs);  // (B^T d B)^T = B^T (B^T d)^T
    transpose(d, t, t, v);
}

// The (m x m) output tile A^T M A (|A^T| M |A| when abs).
void output_tile(const winograd::Transform& f, const float* mt, float* y, bool abs) {
    const int t = f.t, m = f.m;
    float tmp[36], tmp_t[36], out_t[36];
    // A^T M: (m x t); then (A^T M A)^T = A^T (A^T M)^T: (m x m).
    left_multiply(f.at, m, t, t, mt, tmp, abs);
    transpose(tmp, m, t, tmp_t);  // t x m
    left_multiply(f.at, m, t, m, tmp_t, out_t, abs);
    transpose(out_t, m, m, y);
}

// Both the convolution and its bound: the same three steps, on |values| for the bound.
Tensor winograd(const Tensor& x, const Tensor& w, const Tensor* bias, const Attrs& a, int m,
                bool abs) {
    const winograd::Transform& f = winograd::transform(m);
    const Tiling g = tiling(x, w, a, m);
    const int t = f.t, tt = t * t;
    Tensor u = winograd::transform_weights(w, m);
    if (abs) {  // |G| |g| |G^T|
        Tensor aw = w;
        for (auto& v : aw.data) v = std::fabs(v);
        std::vector<double> ag = f.g;
        for (auto& v : ag) v = std::fabs(v);
        u = winograd::transform_weights_by(aw, ag, t);
    }
    Tensor y({g.n, g.oc, g.oh, g.ow});
    std::vector<float> v(static_cast<size_t>(g.c * tt)), mt(static_cast<size_t>(tt));
    float out[16];
    for (int64_t img = 0; img < g.n; ++img)
        for (int64_t ty = 0; ty < g.tiles_h; ++ty)
            for (int64_t tx = 0; tx < g.tiles_w; ++tx) {
                for (int64_t ci = 0; ci < g.c; ++ci)
                    input_tile(f, x.ptr() + (img * g.c + ci) * g.h * g.w, g, ty, tx,
                               v.data() + ci * tt, abs);
                for (int64_t o = 0; o < g.oc; ++o) {
                    for (int xi = 0; xi < tt; ++xi) {
                        float s = 0;
                        const float* ur = u.ptr() + (xi * g.oc + o) * g.c;
                        for (int64_t ci = 0; ci < g.c; ++ci)
                            s = std::fma(abs ? std::fabs(ur[ci]) : ur[ci], v[ci * tt + xi], s);
                        mt[xi] = s;
                    }
                    output_tile(f, mt.data(), out, abs);
                    float b = bias ? bias->data[o] : 0.0f;
                    if (abs) b = std::fabs(b);
                    for (int i = 0; i < m; ++i)
                        for (int j = 0; j < m; ++j) {
                            int64_t oy = ty * m + i, ox = tx * m + j;
                            if (oy < g.oh && ox < g.ow)
                                y.data[((img * g.oc + o) * g.oh + oy) * g.ow + ox] =
                                    out[i * m + j] + b;
                        }
                }
            }
    return y;
}

}  // namespace

Tensor winograd_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Attrs& a,
                       int m) {
    return winograd(x, w, bias, a, m, false);
}

Tensor winograd_error_bound(const Tensor& x, const Tensor& w, const Tensor* bias,
                            const Tensor* residual, const Attrs& a, int m) {
    Tensor e = winograd(x, w, bias, a, m, true);
    const int k = winograd::transform(m).roundings(x.shape.at(1));
    const double u = std::ldexp(1.0, -24), gamma = k * u / (1 - k * u);
    for (int64_t i = 0; i < e.size(); ++i) {
        double r = residual ? std::fabs(residual->data[i]) : 0.0;
        // The bracket itself was summed in fp32: a relative margin of gamma_k covers that too.
        e.data[i] = static_cast<float>(gamma * (e.data[i] + r) * (1 + 2 * gamma));
    }
    return e;
}

}  // namespace rm::cpu
