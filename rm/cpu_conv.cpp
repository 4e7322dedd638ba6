// Reference 2-D convolution, fast enough to run whole ResNets on a laptop CPU: every (image,
// group) is one matrix product W[M, K] x im2col(X)[K, Ho*Wo], computed by a cache-blocked sgemm
// with a 6x16 register-blocked micro-kernel (AVX2+FMA when the CPU has it, portable C++
// otherwise). Accumulation is fp32; the summation order does not depend on the thread count.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "rm/cpu_ops.hpp"
#include "rm/error.hpp"
#include "rm/thread_pool.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RMVK_HAVE_X86 1
#endif

namespace rm::cpu {

namespace {

constexpr int64_t kMr = 6;            // micro-tile rows (output channels)
constexpr int64_t kNr = 16;           // micro-tile columns (output pixels)
constexpr int64_t kKc = 256;          // depth slice: one packed B slice (16 KiB) stays in L1
constexpr int64_t kTileMPanels = 16;  // 96 rows of packed A (96 KiB per slice) stay in L2
constexpr int64_t kTileNPanels = 8;   // 128 columns per task

// c[6 x 16] (row stride ldc) += a (6 rows x kc, row stride lda) * b (kc x 16, packed).
// A is read in place from the weight tensor (six sequential streams): packing it would cost a
// pass over all weights on every run.
using MicroKernel = void (*)(int64_t kc, const float* a, int64_t lda, const float* b, float* c,
                             int64_t ldc);

void kernel_portable(int64_t kc, const float* a, int64_t lda, const float* b, float* c,
                     int64_t ldc) {
    float acc[kMr][kNr] = {};
    for (int64_t k = 0; k < kc; ++k, ++a, b += kNr)
        for (int64_t i = 0; i < kMr; ++i)
            for (int64_t j = 0; j < kNr; ++j) acc[i][j] += a[i * lda] * b[j];
    for (int64_t i = 0; i < kMr; ++i)
        for (int64_t j = 0; j < kNr; ++j) c[i * ldc + j] += acc[i][j];
}

#ifdef RMVK_HAVE_X86
__attribute__((target("avx2,fma"))) void kernel_avx2(int64_t kc, const float* a, int64_t lda,
                                                     const float* b, float* c, int64_t ldc) {
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda, *a4 = a + 4 * lda,
                *a5 = a + 5 * lda;
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps();
    __m256 c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps();
    __m256 c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; ++k, b += kNr) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 av = _mm256_broadcast_ss(a0 + k);
        c00 = _mm256_fmadd_ps(av, b0, c00);
        c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a1 + k);
        c10 = _mm256_fmadd_ps(av, b0, c10);
        c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a2 + k);
        c20 = _mm256_fmadd_ps(av, b0, c20);
        c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a3 + k);
        c30 = _mm256_fmadd_ps(av, b0, c30);
        c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a4 + k);
        c40 = _mm256_fmadd_ps(av, b0, c40);
        c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a5 + k);
        c50 = _mm256_fmadd_ps(av, b0, c50);
        c51 = _mm256_fmadd_ps(av, b1, c51);
    }
    // Written out: a lambda would not inherit the target attribute the intrinsics need.
    _mm256_storeu_ps(c + 0 * ldc, _mm256_add_ps(_mm256_loadu_ps(c + 0 * ldc), c00));
    _mm256_storeu_ps(c + 0 * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(c + 0 * ldc + 8), c01));
    _mm256_storeu_ps(c + 1 * ldc, _mm256_add_ps(_mm256_loadu_ps(c + 1 * ldc), c10));
    _mm256_storeu_ps(c + 1 * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(c + 1 * ldc + 8), c11));
    _mm256_storeu_ps(c + 2 * ldc, _mm256_add_ps(_mm256_loadu_ps(c + 2 * ldc), c20));
    _mm256_storeu_ps(c + 2 * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(c + 2 * ldc + 8), c21));
    _mm256_storeu_ps(c + 3 * ldc, _mm256_add_ps(_mm256_loadu_ps(c + 3 * ldc), c30));
    _mm256_storeu_ps(c + 3 * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(c + 3 * ldc + 8), c31));
    _mm256_storeu_ps(c + 4 * ldc, _mm256_add_ps(_mm256_loadu_ps(c + 4 * ldc), c40));
    _mm256_storeu_ps(c + 4 * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(c + 4 * ldc + 8), c41));
    _mm256_storeu_ps(c + 5 * ldc, _mm256_add_ps(_mm256_loadu_ps(c + 5 * ldc), c50));
    _mm256_storeu_ps(c + 5 * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(c + 5 * ldc + 8), c51));
}
#endif

MicroKernel pick_kernel() {
#ifdef RMVK_HAVE_X86
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kernel_avx2;
#endif
    return kernel_portable;
}

struct ConvGeometry {
    int64_t batch, cin, h, w;      // input
    int64_t cout, oh, ow;          // output
    int64_t group, cin_g, cout_g;  // per group
    int64_t kh, kw, sh, sw, dh, dw, pt, pl;
    int64_t k() const { return cin_g * kh * kw; }
    int64_t n() const { return oh * ow; }
    bool pointwise() const {
        return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && oh == h && ow == w;
    }
};

// The geometry of a conv over `cin` channels of x (all of them, or a structured block's range).
ConvGeometry geometry(const Tensor& x, int64_t cin, const Shape& w, const Attrs& a) {
    if (x.shape.size() != 4 || w.size() != 4)
        throw Error("conv2d needs a 4-D input and weight, got " + to_string(x.shape) + " and " +
                    to_string(w));
    if (!a.auto_pad.empty() && a.auto_pad != "NOTSET")
        throw Error("conv2d: auto_pad " + a.auto_pad +
                    " must be resolved into pads first (infer_shapes does)");
    ConvGeometry g{};
    g.batch = x.shape[0], g.cin = cin, g.h = x.shape[2], g.w = x.shape[3];
    g.group = a.group, g.cout = w[0], g.kh = w[2], g.kw = w[3];
    if (g.group <= 0 || g.cin % g.group || g.cout % g.group || w[1] * g.group != g.cin)
        throw Error("conv2d: weight " + to_string(w) + " with group " + std::to_string(g.group) +
                    " does not fit input " + to_string(x.shape));
    g.cin_g = g.cin / g.group, g.cout_g = g.cout / g.group;
    g.sh = a.strides[0], g.sw = a.strides[1], g.dh = a.dilations[0], g.dw = a.dilations[1];
    g.pt = a.pads[0], g.pl = a.pads[1];
    g.oh = (g.h + a.pads[0] + a.pads[2] - (g.kh - 1) * g.dh - 1) / g.sh + 1;
    g.ow = (g.w + a.pads[1] + a.pads[3] - (g.kw - 1) * g.dw - 1) / g.sw + 1;
    if (g.oh <= 0 || g.ow <= 0)
        throw Error("conv2d: kernel larger than the padded input " + to_string(x.shape));
    return g;
}

// The last, partial panel of W's rows for one group, zero-padded to kMr rows (row stride K),
// so the micro-kernel never reads past the weights.
std::vector<float> edge_rows(const float* w, const ConvGeometry& g) {
    int64_t k = g.k(), full = g.cout_g / kMr * kMr;
    std::vector<float> out(static_cast<size_t>(kMr * k), 0.0f);
    std::copy(w + full * k, w + g.cout_g * k, out.begin());
    return out;
}

// Where each of a panel's 16 im2col columns reads, per kernel tap (the same for every channel).
struct PanelTaps {
    std::vector<int64_t> offset;   // taps x 16 offsets into a channel plane; -1 reads padding (0)
    std::vector<char> contiguous;  // per tap: the 16 reads are one contiguous run
};

PanelTaps panel_taps(const ConvGeometry& g, int64_t q) {
    int64_t n = g.n(), first = q * kNr, cols = std::min(kNr, n - first), taps = g.kh * g.kw;
    PanelTaps t{std::vector<int64_t>(static_cast<size_t>(taps * kNr)),
                std::vector<char>(static_cast<size_t>(taps))};
    for (int64_t ky = 0; ky < g.kh; ++ky)
        for (int64_t kx = 0; kx < g.kw; ++kx) {
            int64_t tap = ky * g.kw + kx;
            int64_t* offset = t.offset.data() + tap * kNr;
            bool contiguous = true;
            for (int64_t j = 0; j < kNr; ++j) {
                int64_t col = first + j;
                int64_t iy = (col / g.ow) * g.sh - g.pt + ky * g.dh,
                        ix = (col % g.ow) * g.sw - g.pl + kx * g.dw;
                bool inside = j < cols && iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
                offset[j] = inside ? iy * g.w + ix : -1;
                contiguous = contiguous && inside && offset[j] == offset[0] + j;
            }
            t.contiguous[tap] = contiguous;
        }
    return t;
}

// Writes rows [k0, k0 + kc) of im2col panel q (16 columns) of one (image, group), kc x 16.
void pack_b_slice(const float* x, const ConvGeometry& g, int64_t q, const PanelTaps& t, int64_t k0,
                  int64_t kc, float* dst) {
    int64_t n = g.n(), first = q * kNr, cols = std::min(kNr, n - first);
    if (g.pointwise()) {
        for (int64_t k = k0; k < k0 + kc; ++k, dst += kNr) {
            const float* src = x + k * n + first;
            std::copy(src, src + cols, dst);
            std::fill(dst + cols, dst + kNr, 0.0f);
        }
        return;
    }
    int64_t taps = g.kh * g.kw, plane = g.h * g.w, c = k0 / taps, tap = k0 % taps;
    for (int64_t i = 0; i < kc; ++i, dst += kNr) {
        const float* src = x + c * plane;
        const int64_t* offset = t.offset.data() + tap * kNr;
        if (t.contiguous[tap]) {
            std::memcpy(dst, src + offset[0], kNr * sizeof(float));  // fixed size: inlined
        } else {
            for (int64_t j = 0; j < kNr; ++j) dst[j] = offset[j] >= 0 ? src[offset[j]] : 0.0f;
        }
        if (++tap == taps) tap = 0, ++c;
    }
}

// One task: output columns of tile tn (up to 128) for row panels [p_begin, p_end). Each depth
// slice of B is packed right before use, so it is still in L2 when the micro-kernels read it.
void compute_task(MicroKernel kernel, const ConvGeometry& g, const float* x, const float* w,
                  const float* w_edge, float* c, int64_t tn, int64_t p_begin, int64_t p_end) {
    int64_t k = g.k(), n = g.n(), n_panels = (n + kNr - 1) / kNr;
    int64_t q0 = tn * kTileNPanels, q_end = std::min(n_panels, q0 + kTileNPanels);
    std::vector<PanelTaps> taps;
    for (int64_t q = q0; q < q_end; ++q)
        taps.push_back(g.pointwise() ? PanelTaps{} : panel_taps(g, q));
    std::unique_ptr<float[]> slice(new float[static_cast<size_t>(kTileNPanels * kKc * kNr)]);
    for (int64_t k0 = 0; k0 < k; k0 += kKc) {
        int64_t kc = std::min(kKc, k - k0);
        for (int64_t q = q0; q < q_end; ++q)
            pack_b_slice(x, g, q, taps[q - q0], k0, kc, slice.get() + (q - q0) * kc * kNr);
        for (int64_t pb = p_begin; pb < p_end; pb += kTileMPanels) {
            int64_t pe = std::min(p_end, pb + kTileMPanels);
            for (int64_t q = q0; q < q_end; ++q) {
                const float* bp = slice.get() + (q - q0) * kc * kNr;
                int64_t cols = std::min(kNr, n - q * kNr);
                for (int64_t p = pb; p < pe; ++p) {
                    int64_t rows = std::min(kMr, g.cout_g - p * kMr);
                    const float* ap = (rows == kMr ? w + p * kMr * k : w_edge) + k0;
                    float* cp = c + p * kMr * n + q * kNr;
                    if (rows == kMr && cols == kNr) {
                        kernel(kc, ap, k, bp, cp, n);
                        continue;
                    }
                    float edge[kMr * kNr] = {};
                    kernel(kc, ap, k, bp, edge, kNr);
                    for (int64_t i = 0; i < rows; ++i)
                        for (int64_t j = 0; j < cols; ++j) cp[i * n + j] += edge[i * kNr + j];
                }
            }
        }
    }
}

// Convolution of one (image, group): y_rows[M_g, N] = bias + W_g x im2col(x_group), or
// y_rows += W_g x im2col(x_group) when `fill` is false.
void conv_one(MicroKernel kernel, const ConvGeometry& g, const float* x_group, const float* w_group,
              const float* bias, bool fill, float* y_rows, int threads) {
    int64_t n = g.n();
    if (fill)
        for (int64_t m = 0; m < g.cout_g; ++m)
            std::fill(y_rows + m * n, y_rows + (m + 1) * n, bias ? bias[m] : 0.0f);
    int64_t n_panels = (n + kNr - 1) / kNr, m_panels = (g.cout_g + kMr - 1) / kMr;
    std::vector<float> w_edge = edge_rows(w_group, g);
    int64_t tiles_n = (n_panels + kTileNPanels - 1) / kTileNPanels;
    // Few column tiles (small feature maps): also split the rows, each task packing its own B.
    int64_t workers = resolve_threads(threads), m_chunks = 1;
    if (workers > 1 && tiles_n < 2 * workers)
        m_chunks = std::min(m_panels, (2 * workers + tiles_n - 1) / tiles_n);
    int64_t chunk = (m_panels + m_chunks - 1) / m_chunks;
    m_chunks = (m_panels + chunk - 1) / chunk;
    parallel_for(tiles_n * m_chunks, threads, [&](int64_t t) {
        int64_t tn = t % tiles_n, p_begin = (t / tiles_n) * chunk;
        compute_task(kernel, g, x_group, w_group, w_edge.data(), y_rows, tn, p_begin,
                     std::min(m_panels, p_begin + chunk));
    });
}

// y[:, y_c0 + channels of w] = (or +=, without `fill`) conv of x[:, x_c0 + cin channels].
void conv_into(const Tensor& x, int64_t x_c0, int64_t cin, const Tensor& w, const Tensor* bias,
               bool fill, const Attrs& a, Tensor& y, int64_t y_c0, int threads) {
    ConvGeometry g = geometry(x, cin, w.shape, a);
    if (y.shape.size() != 4 || y.shape[0] != g.batch || y.shape[2] != g.oh || y.shape[3] != g.ow ||
        x_c0 < 0 || x_c0 + cin > x.shape[1] || y_c0 < 0 || y_c0 + g.cout > y.shape[1])
        throw Error("conv2d: channels [" + std::to_string(x_c0) + ", " +
                    std::to_string(x_c0 + cin) + ") of " + to_string(x.shape) + " to [" +
                    std::to_string(y_c0) + ", " + std::to_string(y_c0 + g.cout) + ") of " +
                    to_string(y.shape) + " do not fit");
    MicroKernel kernel = pick_kernel();
    int workers = resolve_threads(threads);
    const int64_t x_image = x.shape[1] * g.h * g.w, y_image = y.shape[1] * g.n();
    auto run = [&](int64_t job, int inner_threads) {
        int64_t image = job / g.group, gi = job % g.group;
        const float* xg = x.ptr() + image * x_image + (x_c0 + gi * g.cin_g) * g.h * g.w;
        float* yg = y.ptr() + image * y_image + (y_c0 + gi * g.cout_g) * g.n();
        const float* bg = bias ? bias->ptr() + gi * g.cout_g : nullptr;
        conv_one(kernel, g, xg, w.ptr() + gi * g.cout_g * g.k(), bg, fill, yg, inner_threads);
    };
    int64_t jobs = g.batch * g.group;
    // Many small groups (depthwise, grouped convs, batches): one thread per job. Otherwise
    // the threads share each job's matrix product.
    if (g.group > 1 && jobs >= workers)
        parallel_for(jobs, workers, [&](int64_t j) { run(j, 1); });
    else
        for (int64_t j = 0; j < jobs; ++j) run(j, workers);
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Attrs& a, int threads) {
    ConvGeometry g = geometry(x, x.shape.size() == 4 ? x.shape[1] : 0, w.shape, a);
    Tensor y;
    y.shape = {g.batch, g.cout, g.oh, g.ow};
    y.data.resize(static_cast<size_t>(element_count(y.shape)));  // every value written
    conv_into(x, 0, g.cin, w, bias, true, a, y, 0, threads);
    return y;
}

Tensor conv2d_structured(const Tensor& x, const ConvStructure& s, const Tensor* bias,
                         const Attrs& a, int threads) {
    ConvGeometry g = geometry(x, x.shape.size() == 4 ? x.shape[1] : 0, s.shape, a);
    Tensor y(Shape{g.batch, g.cout, g.oh, g.ow});
    const int64_t n = g.n();
    if (bias)
        for (int64_t image = 0; image < g.batch; ++image)
            for (int64_t o = 0; o < g.cout; ++o)
                std::fill_n(y.ptr() + (image * g.cout + o) * n, n, bias->data[o]);
    for (const auto& b : s.blocks)
        conv_into(x, b.in_begin, b.in_count(), *b.weight, nullptr, false, block_attrs(s, b, a), y,
                  b.out_begin, threads);
    // Dirac entries: scale * the input pixel the centre tap reads.
    const int64_t cy = (g.kh / 2) * g.dh - g.pt, cx = (g.kw / 2) * g.dw - g.pl;
    parallel_for(static_cast<int64_t>(s.diracs.size()), threads, [&](int64_t i) {
        const DiracEntry& d = s.diracs[i];
        for (int64_t image = 0; image < g.batch; ++image) {
            const float* src = x.ptr() + (image * g.cin + d.in) * g.h * g.w;
            float* dst = y.ptr() + (image * g.cout + d.out) * n;
            for (int64_t oy = 0; oy < g.oh; ++oy) {
                const int64_t iy = oy * g.sh + cy;
                if (iy < 0 || iy >= g.h) continue;
                for (int64_t ox = 0; ox < g.ow; ++ox) {
                    const int64_t ix = ox * g.sw + cx;
                    if (ix >= 0 && ix < g.w) dst[oy * g.ow + ox] += d.scale * src[iy * g.w + ix];
                }
            }
        }
    });
    return y;
}

}  // namespace rm::cpu
