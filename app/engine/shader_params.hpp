#pragma once
// Push constants and specialization constants, one typed struct per shader family. Each Push
// struct must match the `layout(push_constant)` block of its shader member for member (4-byte
// scalars and arrays of them, so the std430 offsets are the C++ ones), and each Spec struct
// lists the shader's specialization constants in constant_id order (constant_id i is the i-th
// 4-byte member; booleans are VkBool32). tests/shader_interface_test.cpp reads the compiled
// SPIR-V and fails on any difference in names, offsets or sizes.
#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace rmvk {

// A size or index as a push-constant or specialization word.
inline uint32_t u32(int64_t v) {
    return static_cast<uint32_t>(v);
}

// Vulkan guarantees at least this many bytes of push constants (maxPushConstantsSize).
constexpr uint32_t kMaxPushBytes = 128;

// shaders/conv2d.comp and shaders/conv2d_direct.comp (one layout for both). Element offsets
// (x_off .. r_off) locate, inside each bound range, channel 0 of the first image of this
// dispatch (X in RGBA texels when X4, W in vec4 texels when packed). Channel windows let a conv
// read channels [x_channel, x_channel + c) of a wider input and write channels
// [y_channel, y_channel + ocg * groups) of a wider output (adding the residual's channels from
// r_channel); the image strides are the distances between consecutive images of each tensor.
struct ConvPush {
    uint32_t x_off, w_off, b_off, y_off, r_off;
    uint32_t n;        // images in this dispatch
    uint32_t c, h, w;  // input channels the conv reads (all groups), height, width
    uint32_t x_image_stride, x_channel;
    uint32_t oh, ow;
    uint32_t y_image_stride, y_channel;
    uint32_t r_image_stride, r_channel;
    uint32_t cg;   // input channels per group
    uint32_t ocg;  // output channels computed per group in this dispatch
    uint32_t group_first;
    int32_t pad_top, pad_left;
    uint32_t has_bias;
    uint32_t act_stride;  // clamp: the conv's output channels (bias buffer: bias, lo, hi)
    uint32_t relu;        // no clamp: ReLU after the bias (and residual)
};
static_assert(sizeof(ConvPush) <= kMaxPushBytes);

// A conv epilogue's activation (depthwise's `act` specialization constant; the other conv
// kernels take a clamp as a specialization constant and ReLU as a push constant).
enum class ConvAct : uint32_t { None = 0, Relu = 1, Clamp = 2 };

// shaders/conv2d.comp and conv2d_direct.comp: constant_id 0..14.
struct ConvSpec {
    uint32_t workgroup_size;
    uint32_t tm, tn, tk, rm, rn;  // tile: output channels x pixels, depth; per invocation
    uint32_t clamp;               // a per-channel clamp (bias buffer: bias, lo, hi)
    uint32_t kh, kw, sh, sw, dh, dw;
    uint32_t pointwise;
    uint32_t residual;
};

// shaders/conv2d.comp: the shared constants, then constant_id 15.
struct TiledConvSpec {
    ConvSpec base;
    uint32_t split_k;  // workgroups along z per output tile, each a slice of K (1: no split)
};

// shaders/conv2d_splitk.comp: sums split_k partials ([split][channel][column]) into y.
struct ConvSplitKPush {
    uint32_t p_off, b_off, r_off, y_off;
    uint32_t splits;
    uint32_t channels;  // output channels of the dispatch
    uint32_t n, ohw;
    uint32_t y_image_stride, y_channel;
    uint32_t r_image_stride, r_channel;
    uint32_t has_bias;
    uint32_t act_stride;  // as ConvPush's
    uint32_t relu;
};
static_assert(sizeof(ConvSplitKPush) <= kMaxPushBytes);
struct ConvSplitKSpec {
    uint32_t clamp;
    uint32_t residual;
};

// shaders/conv2d_direct.comp: conv2d's constants, then constant_id 15..20.
struct DirectConvSpec {
    ConvSpec base;
    uint32_t x4;  // pointwise input read 4 pixels per RGBA texel
    uint32_t cu;  // input channels per loop iteration
    uint32_t sg;  // subgroup size
    uint32_t y4;  // outputs (and residual) 4 per vec4
    uint32_t xr4;
    uint32_t rows;  // row layout: RN neighbouring pixels of one output row per invocation
};

// shaders/depthwise.comp: whole tensors, one invocation per output element.
struct DepthwisePush {
    uint32_t x_off, w_off, b_off, y_off, r_off;
    uint32_t count;  // output elements
    uint32_t c, h, w, oh, ow;
    uint32_t dh, dw;
    int32_t pad_top, pad_left;
    uint32_t has_bias;
};
static_assert(sizeof(DepthwisePush) <= kMaxPushBytes);
struct DepthwiseSpec {
    uint32_t kh, kw, sh, sw;
    uint32_t act;  // ConvAct
    uint32_t residual;
};

// shaders/winograd_input.comp: tiles of channels [x_channel, x_channel + c) of x, numbered
// (image, tile row, tile column) and padded to tiles_padded (a multiple of 4) per V row.
struct WinogradInputPush {
    uint32_t x_off, v_off;  // v_off in vec4s
    uint32_t c, h, w;
    uint32_t x_image_stride, x_channel;
    uint32_t tiles_h, tiles_w, tiles, tiles_padded;
    int32_t pad_top, pad_left;
};
static_assert(sizeof(WinogradInputPush) <= kMaxPushBytes);
struct WinogradInputSpec {
    uint32_t m;       // F(m, 3)
    uint32_t packed;  // V as the GEMM's packed weights (output channels across lanes)
};

// shaders/winograd_output.comp: writes channels [y_channel, y_channel + oc) of y.
struct WinogradOutputPush {
    uint32_t m_off, b_off, y_off, r_off;  // m_off in RGBA texels
    uint32_t oc, oh, ow;
    uint32_t y_image_stride, y_channel;
    uint32_t r_image_stride, r_channel;
    uint32_t tiles_h, tiles_w, tiles, tiles_padded;
    uint32_t has_bias;
    uint32_t act_stride;  // as ConvPush's
    uint32_t relu;
};
static_assert(sizeof(WinogradOutputPush) <= kMaxPushBytes);
struct WinogradOutputSpec {
    uint32_t m;
    uint32_t clamp;
    uint32_t residual;
    uint32_t y4;          // rows of a tile stored as vec4s (F(4,3), aligned rows of 4k floats)
    uint32_t transposed;  // products as [xi][tile][oc] (output channels across lanes)
};

// shaders/conv_struct.comp: one run of the copy / merge / zero rows of a structured conv
// (conv_struct_plan.hpp). top and left: the input pixel the centre tap reads for output pixel
// (0, 0). start: 0 zero, 1 the bias, 2 what the block convs stored.
struct ConvStructPush {
    uint32_t x_off, b_off, y_off, r_off;
    uint32_t out_begin, in_begin, has_input, start;
    float scale;
    uint32_t h, w, x_image_stride;
    uint32_t oh, ow, y_image_stride, r_image_stride;
    uint32_t sh, sw;
    int32_t top, left;
};
static_assert(sizeof(ConvStructPush) <= kMaxPushBytes);
struct ConvStructSpec {
    uint32_t relu;
    uint32_t residual;
    uint32_t same_grid;  // stride 1, centre on its own pixel, same size: pixel p reads pixel p
};

// shaders/pool2d.comp
struct PoolPush {
    uint32_t x_off, y_off;
    uint32_t planes, h, w, oh, ow;
    uint32_t kh, kw, sh, sw, dh, dw;
    int32_t pad_top, pad_left, pad_bottom, pad_right;
    uint32_t count_include_pad;
};
static_assert(sizeof(PoolPush) <= kMaxPushBytes);
struct PoolSpec {
    uint32_t average;
    uint32_t kh, kw;
};

// shaders/global_avg_pool.comp (no specialization constants)
struct GlobalAvgPoolPush {
    uint32_t x_off, y_off, planes, inner;
};
static_assert(sizeof(GlobalAvgPoolPush) <= kMaxPushBytes);

// shaders/eltwise.comp
struct EltwisePush {
    uint32_t a_off, b_off, y_off;
    uint32_t count;  // elements in this dispatch
    uint32_t first;  // index of the first element in the whole tensor
    uint32_t dims[4];
    uint32_t a_stride[4];
    uint32_t b_stride[4];
    uint32_t channels, inner;
};
static_assert(sizeof(EltwisePush) <= kMaxPushBytes);
struct EltwiseSpec {
    uint32_t mode;  // 0: relu, 1: binary op, 2: batchnorm, 3: per-channel clamp
    uint32_t relu;
    uint32_t same_shape;
    uint32_t op = 0;      // binary: rmvk::BinaryOp
    uint32_t a_full = 1;  // binary: a has the output's shape (sliced with it)
};

// shaders/gemm.comp
struct GemmPush {
    uint32_t a_off, b_off, c_off, y_off;
    uint32_t m, n, k;
    uint32_t trans_a, trans_b;
    uint32_t has_c, c_stride_m, c_stride_n;
    float alpha, beta;
    uint32_t a_batch_stride, b_batch_stride, y_batch_stride;
};
static_assert(sizeof(GemmPush) <= kMaxPushBytes);
struct GemmSpec {
    uint32_t v4;
};

// shaders/softmax.comp (no specialization constants)
struct SoftmaxPush {
    uint32_t x_off, y_off, outer, dim, inner;
};
static_assert(sizeof(SoftmaxPush) <= kMaxPushBytes);

// shaders/peak_fma.comp
struct PeakFmaPush {
    float mul, add;
    uint32_t iterations;
};
static_assert(sizeof(PeakFmaPush) <= kMaxPushBytes);
struct PeakFmaSpec {
    uint32_t workgroup_size;
};

// shaders/peak_bandwidth.comp
struct PeakBandwidthPush {
    uint32_t n;  // vec4 count
};
static_assert(sizeof(PeakBandwidthPush) <= kMaxPushBytes);
struct PeakBandwidthSpec {
    uint32_t workgroup_size;
};

// The bytes of one Push struct, held by value in a Dispatch.
class PushConstants {
  public:
    PushConstants() = default;
    template <class Push>
    PushConstants(const Push& push) : size_(sizeof(Push)) {  // NOLINT: implicit by design
        static_assert(std::is_trivially_copyable_v<Push> && sizeof(Push) % 4 == 0);
        static_assert(sizeof(Push) <= kMaxPushBytes);
        std::memcpy(words_.data(), &push, sizeof(Push));
    }
    const void* data() const { return words_.data(); }
    uint32_t size() const { return size_; }
    // The struct back (tests, planners that adjust a field); Push must be the stored type.
    template <class Push>
    Push as() const {
        Push p;
        std::memcpy(&p, words_.data(), sizeof(Push));
        return p;
    }

  private:
    std::array<uint32_t, kMaxPushBytes / 4> words_{};
    uint32_t size_ = 0;
};

// A Spec struct as the 4-byte words a pipeline is specialised with (constant_id = index).
template <class Spec>
std::vector<uint32_t> spec_words(const Spec& spec) {
    static_assert(std::is_trivially_copyable_v<Spec> && sizeof(Spec) % 4 == 0);
    std::vector<uint32_t> words(sizeof(Spec) / 4);
    std::memcpy(words.data(), &spec, sizeof(Spec));
    return words;
}

}  // namespace rmvk
