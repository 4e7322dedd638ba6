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
using MicroKernel = void (*)(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc);

void kernel_portable(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc) {
    float acc[kMr][kNr] = {};
    for (int64_t k = 0; k < kc; ++k, ++a, b += kNr)
        for (int64_t i = 0; i < kMr; ++i)
            for (int64_t j = 0; j < kNr; ++j) acc[i][j] += a[i * lda] * b[j];
    for (int64_t i = 0; i < kMr; ++i)
        for (int64_t j = 0; j < kNr; ++j) c[i * ldc + j] += acc[i][j];
}

#ifdef RMVK_HAVE_X86
__attribute__((target("avx2,fma"))) void kernel_avx2(int64_t kc, const float* a, int64_t lda, const float* b,
                                                      float* c, int64_t ldc) {
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda, *a4 = a + 4 * lda, *a5 = a + 5 * lda;
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
    int64_t batch, cin, h, w;     // input
    int64_t cout, oh, ow;         // output
    int64_t group, cin_g, cout_g; // per group
    int64_t kh, kw, sh, sw, dh, dw, pt, pl;
    int64_t k() const { return cin_g * kh * kw; }
    int64_t n() const { return oh * ow; }
    bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && oh == h && ow == w; }
};

ConvGeometry geometry(const Tensor& x, const Tensor& w, const Attrs& a) {
    if (x.shape.size() != 4 || w.shape.size() != 4)
        throw Error("conv2d needs a 4-D input and weight, got " + to_string(x.shape) + " and " + to_string(w.shape));
    if (!a.auto_pad.empty() && a.auto_pad != "NOTSET")
        throw Error("conv2d: auto_pad " + a.auto_pad + " must be resolved into pads first (infer_shapes does)");
    ConvGeometry g{};
    g.batch = x.shape[0], g.cin = x.shape[1], g.h = x.shape[2], g.w = x.shape[3];
    g.group = a.group, g.cout = w.shape[0], g.kh = w.shape[2], g.kw = w.shape[3];
    if (g.group <= 0 || g.cin % g.group || g.cout % g.group || w.shape[1] * g.group != g.cin)
        throw Error("conv2d: weight " + to_string(w.shape) + " with group " + std::to_string(g.group) +
                    " does not fit input " + to_string(x.shape));
    g.cin_g = g.cin / g.group, g.cout_g = g.cout / g.group;
    g.sh = a.strides[0], g.sw = a.strides[1], g.dh = a.dilations[0], g.dw = a.dilations[1];
    g.pt = a.pads[0], g.pl = a.pads[1];
    g.oh = (g.h + a.pads[0] + a.pads[2] - (g.kh - 1) * g.dh - 1) / g.sh + 1;
    g.ow = (g.w + a.pads[1] + a.pads[3] - (g.kw - 1) * g.dw - 1) / g.sw + 1;
    if (g.oh <= 0 || g.ow <= 0) throw Error("conv2d: kernel larger than the padded input " + to_string(x.shape));
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

// Writes im2col columns [q*16, q*16+16) of one (image, group) as a panel K deep and 16 wide.
void pack_b_panel(const float* x, const ConvGeometry& g, int64_t q, float* dst) {
    int64_t n = g.n(), first = q * kNr, cols = std::min(kNr, n - first);
    if (g.pointwise()) {
        for (int64_t c = 0; c < g.cin_g; ++c, dst += kNr) {
            const float* src = x + c * n + first;
            std::copy(src, src + cols, dst);
            std::fill(dst + cols, dst + kNr, 0.0f);
        }
        return;
    }
    // Top-left input pixel of each column's window; columns past the end read nothing.
    int64_t iy0[kNr], ix0[kNr];
    for (int64_t j = 0; j < kNr; ++j) {
        int64_t col = first + j;
        iy0[j] = j < cols ? (col / g.ow) * g.sh - g.pt : -(int64_t(1) << 40);
        ix0[j] = j < cols ? (col % g.ow) * g.sw - g.pl : 0;
    }
    int64_t plane = g.h * g.w, taps = g.kh * g.kw;
    // Which pixels a kernel tap reads does not depend on the channel: work it out once per tap,
    // then copy that pattern for every channel (a plain copy when the 16 reads are contiguous).
    for (int64_t ky = 0; ky < g.kh; ++ky)
        for (int64_t kx = 0; kx < g.kw; ++kx) {
            int64_t offset[kNr];
            bool inside[kNr], contiguous = true;
            for (int64_t j = 0; j < kNr; ++j) {
                int64_t iy = iy0[j] + ky * g.dh, ix = ix0[j] + kx * g.dw;
                inside[j] = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
                offset[j] = inside[j] ? iy * g.w + ix : 0;
                contiguous = contiguous && inside[j] && offset[j] == offset[0] + j;
            }
            float* out = dst + (ky * g.kw + kx) * kNr;
            if (contiguous) {
                for (int64_t c = 0; c < g.cin_g; ++c, out += taps * kNr)
                    std::memcpy(out, x + c * plane + offset[0], kNr * sizeof(float));  // inlined: fixed size
                continue;
            }
            for (int64_t c = 0; c < g.cin_g; ++c, out += taps * kNr) {
                const float* src = x + c * plane;
                for (int64_t j = 0; j < kNr; ++j) out[j] = inside[j] ? src[offset[j]] : 0.0f;
            }
        }
}

// One output tile: rows [tm*96, ..) x columns [tn*128, ..) of C[M_g, N], over the whole depth.
void compute_tile(MicroKernel kernel, const ConvGeometry& g, const float* w, const float* w_edge,
                  const float* b_pack, float* c, int64_t tm, int64_t tn) {
    int64_t k = g.k(), n = g.n();
    int64_t m_panels = (g.cout_g + kMr - 1) / kMr, n_panels = (n + kNr - 1) / kNr;
    int64_t p_end = std::min(m_panels, (tm + 1) * kTileMPanels);
    int64_t q_end = std::min(n_panels, (tn + 1) * kTileNPanels);
    for (int64_t k0 = 0; k0 < k; k0 += kKc) {
        int64_t kc = std::min(kKc, k - k0);
        for (int64_t q = tn * kTileNPanels; q < q_end; ++q) {
            const float* bp = b_pack + q * k * kNr + k0 * kNr;
            int64_t cols = std::min(kNr, n - q * kNr);
            for (int64_t p = tm * kTileMPanels; p < p_end; ++p) {
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

// Convolution of one (image, group): y_rows[M_g, N] = bias + W_g x im2col(x_group).
void conv_one(MicroKernel kernel, const ConvGeometry& g, const float* x_group, const float* w_group,
              const float* bias, float* y_rows, int threads) {
    int64_t n = g.n(), k = g.k();
    for (int64_t m = 0; m < g.cout_g; ++m) std::fill(y_rows + m * n, y_rows + (m + 1) * n, bias ? bias[m] : 0.0f);
    int64_t n_panels = (n + kNr - 1) / kNr, m_panels = (g.cout_g + kMr - 1) / kMr;
    // Every element is written by pack_b_panel, so skip zero-initialization.
    std::unique_ptr<float[]> b_pack(new float[static_cast<size_t>(n_panels * kNr * k)]);
    std::vector<float> w_edge = edge_rows(w_group, g);
    parallel_for(n_panels, threads, [&](int64_t q) { pack_b_panel(x_group, g, q, b_pack.get() + q * k * kNr); });
    int64_t tiles_m = (m_panels + kTileMPanels - 1) / kTileMPanels;
    int64_t tiles_n = (n_panels + kTileNPanels - 1) / kTileNPanels;
    parallel_for(tiles_m * tiles_n, threads, [&](int64_t t) {
        compute_tile(kernel, g, w_group, w_edge.data(), b_pack.get(), y_rows, t / tiles_n, t % tiles_n);
    });
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Attrs& a, int threads) {
    ConvGeometry g = geometry(x, w, a);
    MicroKernel kernel = pick_kernel();
    Tensor y({g.batch, g.cout, g.oh, g.ow});
    int workers = resolve_threads(threads);
    auto run = [&](int64_t job, int inner_threads) {
        int64_t image = job / g.group, gi = job % g.group;
        const float* xg = x.ptr() + (image * g.cin + gi * g.cin_g) * g.h * g.w;
        float* yg = y.ptr() + (image * g.cout + gi * g.cout_g) * g.n();
        const float* bg = bias ? bias->ptr() + gi * g.cout_g : nullptr;
        conv_one(kernel, g, xg, w.ptr() + gi * g.cout_g * g.k(), bg, yg, inner_threads);
    };
    int64_t jobs = g.batch * g.group;
    // Many small groups (depthwise, grouped convs, batches): one thread per job. Otherwise
    // the threads share each job's matrix product.
    if (g.group > 1 && jobs >= workers)
        parallel_for(jobs, workers, [&](int64_t j) { run(j, 1); });
    else
        for (int64_t j = 0; j < jobs; ++j) run(j, workers);
    return y;
}

}  // namespace rm::cpu
