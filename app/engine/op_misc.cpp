// Planning of the light operators: pools, element-wise ops, Gemm/MatMul, Softmax.
#include <algorithm>

#include "app/engine/kernel_plan.hpp"

namespace rmvk {
namespace {

uint64_t count_of(const TensorRef& t) {
    return static_cast<uint64_t>(rm::element_count(t.shape));
}

void require_fits(KernelPlanner& planner, const TensorRef& t, const char* what) {
    if (count_of(t) > planner.max_elements())
        throw VulkanError(std::string(what) + " tensor " + rm::to_string(t.shape) +
                          " exceeds the device's largest buffer binding");
}

// Elements [first, first + count) dispatched 256 per workgroup over eltwise.comp.
Dispatch eltwise_dispatch(KernelPlanner& planner, const ComputePipeline& pipe, const TensorRef& a,
                          uint64_t a_first, uint64_t a_count, const TensorRef& b, uint64_t b_first,
                          uint64_t b_count, const TensorRef& y, uint64_t first, uint64_t count) {
    Dispatch d;
    d.pipeline = &pipe;
    uint32_t ao, bo, yo;
    d.ranges.push_back(planner.bind(a, a_first, a_count, ao));
    d.ranges.push_back(planner.bind(b, b_first, b_count, bo));
    d.ranges.push_back(planner.bind(y, first, count, yo));
    EltwisePush push{};
    push.a_off = ao;
    push.b_off = bo;
    push.y_off = yo;
    push.count = static_cast<uint32_t>(count);
    push.first = static_cast<uint32_t>(first);
    d.push = push;
    KernelPlanner::grid_1d((count + 255) / 256, d.groups);
    return d;
}

const ComputePipeline& eltwise_pipeline(KernelPlanner& planner, const EltwiseSpec& spec) {
    return planner.pipeline("eltwise", 3, sizeof(EltwisePush), spec_words(spec));
}

}  // namespace

std::vector<Dispatch> plan_pool(KernelPlanner& planner, const TensorRef& x, const TensorRef& y,
                                const rm::Attrs& a, bool average) {
    int64_t planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3], oh = y.shape[2],
            ow = y.shape[3];
    uint64_t per_plane = static_cast<uint64_t>(std::max(h * w, oh * ow));
    int64_t chunk = static_cast<int64_t>(planner.max_elements() / std::max<uint64_t>(per_plane, 1));
    if (chunk == 0)
        throw VulkanError("pool input plane exceeds the device's largest buffer binding");
    PoolSpec spec{average, u32(a.kernel[0]), u32(a.kernel[1])};
    const ComputePipeline& pipe =
        planner.pipeline("pool2d", 2, sizeof(PoolPush), spec_words(spec), 0b01u);
    std::vector<Dispatch> out;
    for (int64_t p0 = 0; p0 < planes; p0 += chunk) {
        int64_t np = std::min(chunk, planes - p0);
        Dispatch d;
        d.pipeline = &pipe;
        uint32_t xo, yo;
        d.ranges.push_back(planner.bind(x, p0 * h * w, np * h * w, xo));
        d.ranges.push_back(planner.bind(y, p0 * oh * ow, np * oh * ow, yo));
        d.push = PoolPush{xo,
                          yo,
                          u32(np),
                          u32(h),
                          u32(w),
                          u32(oh),
                          u32(ow),
                          u32(a.kernel[0]),
                          u32(a.kernel[1]),
                          u32(a.strides[0]),
                          u32(a.strides[1]),
                          u32(a.dilations[0]),
                          u32(a.dilations[1]),
                          static_cast<int32_t>(a.pads[0]),
                          static_cast<int32_t>(a.pads[1]),
                          static_cast<int32_t>(a.pads[2]),
                          static_cast<int32_t>(a.pads[3]),
                          a.count_include_pad};
        KernelPlanner::grid_1d((np * oh * ow + 255) / 256, d.groups);
        out.push_back(std::move(d));
    }
    return out;
}

std::vector<Dispatch> plan_global_avg_pool(KernelPlanner& planner, const TensorRef& x,
                                           const TensorRef& y) {
    int64_t planes = x.shape[0] * x.shape[1];
    uint64_t inner = planes ? count_of(x) / planes : 0;
    int64_t chunk = static_cast<int64_t>(planner.max_elements() / std::max<uint64_t>(inner, 1));
    if (chunk == 0)
        throw VulkanError("GlobalAveragePool plane exceeds the device's largest buffer binding");
    const ComputePipeline& pipe =
        planner.pipeline("global_avg_pool", 2, sizeof(GlobalAvgPoolPush), {}, 0b01u);
    std::vector<Dispatch> out;
    for (int64_t p0 = 0; p0 < planes; p0 += chunk) {
        int64_t np = std::min(chunk, planes - p0);
        Dispatch d;
        d.pipeline = &pipe;
        uint32_t xo, yo;
        d.ranges.push_back(planner.bind(x, p0 * inner, np * inner, xo));
        d.ranges.push_back(planner.bind(y, p0, np, yo));
        d.push = GlobalAvgPoolPush{xo, yo, u32(np), static_cast<uint32_t>(inner)};
        KernelPlanner::grid_1d((np + 63) / 64, d.groups);
        out.push_back(std::move(d));
    }
    return out;
}

std::vector<Dispatch> plan_relu(KernelPlanner& planner, const TensorRef& x, const TensorRef& y) {
    const ComputePipeline& pipe = eltwise_pipeline(planner, {0, false, true});
    std::vector<Dispatch> out;
    uint64_t total = count_of(y), chunk = planner.max_elements();
    for (uint64_t f = 0; f < total; f += chunk) {
        uint64_t cnt = std::min(chunk, total - f);
        out.push_back(eltwise_dispatch(planner, pipe, x, f, cnt, x, f, 1, y, f, cnt));
    }
    return out;
}

std::vector<Dispatch> plan_binary(KernelPlanner& planner, BinaryOp op, const TensorRef& a_in,
                                  const TensorRef& b_in, const TensorRef& y, bool relu) {
    // Add, Mul, Max and Min commute: the operand with the output's shape goes first, so it can
    // be sliced.
    const bool swap = op != BinaryOp::PRelu && b_in.shape == y.shape && a_in.shape != y.shape;
    const TensorRef& a = swap ? b_in : a_in;
    const TensorRef& b = swap ? a_in : b_in;
    const bool same = a.shape == b.shape && a.shape == y.shape;
    const bool a_full = a.shape == y.shape;
    const ComputePipeline& pipe =
        eltwise_pipeline(planner, {1, relu, same, static_cast<uint32_t>(op), a_full});
    std::vector<Dispatch> out;
    uint64_t total = count_of(y);
    if (same) {
        uint64_t chunk = planner.max_elements();
        for (uint64_t f = 0; f < total; f += chunk) {
            uint64_t cnt = std::min(chunk, total - f);
            out.push_back(eltwise_dispatch(planner, pipe, a, f, cnt, b, f, cnt, y, f, cnt));
        }
        return out;
    }
    // Broadcasting: the broadcast operand bound whole (a too unless it has the output's shape,
    // then it is sliced with the output); up to 4 dimensions.
    if (y.shape.size() > 4)
        throw VulkanError("element-wise ops with broadcasting support at most 4 dimensions");
    if (!a_full) require_fits(planner, a, "broadcast element-wise");
    require_fits(planner, b, "broadcast element-wise");
    auto strides = [&](const rm::Shape& s) {
        std::vector<uint32_t> st(4, 0);
        uint64_t stride = 1;
        for (size_t i = s.size(); i-- > 0;) {
            size_t o = i + (4 - s.size());
            st[o] = s[i] == 1 ? 0 : static_cast<uint32_t>(stride);
            stride *= static_cast<uint64_t>(s[i]);
        }
        return st;
    };
    rm::Shape dims = y.shape;
    while (dims.size() < 4) dims.insert(dims.begin(), 1);
    auto sa = strides(a.shape), sb = strides(b.shape);
    uint64_t chunk = planner.max_elements();
    for (uint64_t f = 0; f < total; f += chunk) {
        uint64_t cnt = std::min(chunk, total - f);
        Dispatch d =
            a_full
                ? eltwise_dispatch(planner, pipe, a, f, cnt, b, 0, count_of(b), y, f, cnt)
                : eltwise_dispatch(planner, pipe, a, 0, count_of(a), b, 0, count_of(b), y, f, cnt);
        EltwisePush push = d.push.as<EltwisePush>();
        for (int i = 0; i < 4; ++i) {
            push.dims[i] = u32(dims[i]);
            push.a_stride[i] = sa[i];
            push.b_stride[i] = sb[i];
        }
        d.push = push;
        out.push_back(std::move(d));
    }
    return out;
}

namespace {
// x with per-channel parameters (batchnorm's triples, clamp's pairs) over eltwise.comp.
std::vector<Dispatch> plan_per_channel(KernelPlanner& planner, const ComputePipeline& pipe,
                                       const TensorRef& x, const TensorRef& params,
                                       const TensorRef& y, bool one_channel) {
    int64_t channels = one_channel ? 1 : x.shape.size() > 1 ? x.shape[1] : 1;
    uint64_t total = count_of(x);
    uint64_t inner = total / static_cast<uint64_t>(std::max<int64_t>(x.shape[0] * channels, 1));
    std::vector<Dispatch> out;
    uint64_t chunk = planner.max_elements();
    for (uint64_t f = 0; f < total; f += chunk) {
        uint64_t cnt = std::min(chunk, total - f);
        Dispatch d =
            eltwise_dispatch(planner, pipe, x, f, cnt, params, 0, count_of(params), y, f, cnt);
        EltwisePush push = d.push.as<EltwisePush>();
        push.channels = u32(channels);
        push.inner = static_cast<uint32_t>(std::max<uint64_t>(inner, 1));
        d.push = push;
        out.push_back(std::move(d));
    }
    return out;
}
}  // namespace

std::vector<Dispatch> plan_clamp(KernelPlanner& planner, const TensorRef& x,
                                 const TensorRef& params, const TensorRef& y) {
    return plan_per_channel(planner, eltwise_pipeline(planner, {3, false, true}), x, params, y,
                            count_of(params) == 2);
}

std::vector<Dispatch> plan_batchnorm(KernelPlanner& planner, const TensorRef& x,
                                     const TensorRef& params, const TensorRef& y, bool relu) {
    return plan_per_channel(planner, eltwise_pipeline(planner, {2, relu, true}), x, params, y,
                            false);
}

namespace {

Dispatch gemm_dispatch(KernelPlanner& planner, const TensorRef& a, const TensorRef& b,
                       const TensorRef* c, const TensorRef& y, uint32_t m, uint32_t n, uint32_t k,
                       bool ta, bool tb, float alpha, float beta, uint32_t c_sm, uint32_t c_sn,
                       uint32_t batches, uint32_t a_bs, uint32_t b_bs) {
    const bool v4 = !ta && tb && k % 4 == 0 && a.first % 4 == 0 && b.first % 4 == 0 &&
                    a_bs % 4 == 0 && b_bs % 4 == 0;
    // A few rows (batch-1 fully connected layers): gemv.comp, a workgroup per output element.
    const bool gemv = m <= kGemvMaxRows && n <= 65535;
    const ComputePipeline& pipe =
        planner.pipeline(gemv ? "gemv" : "gemm", 4, sizeof(GemmPush), spec_words(GemmSpec{v4}),
                         0b11u, v4 ? 0b11u : 0u);
    require_fits(planner, a, "Gemm/MatMul");
    require_fits(planner, b, "Gemm/MatMul");
    require_fits(planner, y, "Gemm/MatMul");
    Dispatch d;
    d.pipeline = &pipe;
    uint32_t ao, bo, co, yo;
    d.ranges.push_back(planner.bind(a, 0, count_of(a), ao, v4 ? 16 : 4));
    d.ranges.push_back(planner.bind(b, 0, count_of(b), bo, v4 ? 16 : 4));
    if (c) {
        require_fits(planner, *c, "Gemm");
        d.ranges.push_back(planner.bind(*c, 0, count_of(*c), co));
    } else {
        d.ranges.push_back(planner.bind(a, 0, 1, co));
    }
    d.ranges.push_back(planner.bind(y, 0, count_of(y), yo));
    d.push = GemmPush{ao,           bo,   c ? co : 0, yo,    m,    n,    k,    ta,   tb,
                      c != nullptr, c_sm, c_sn,       alpha, beta, a_bs, b_bs, m * n};
    d.groups[0] = gemv ? n : (n + 15) / 16;
    d.groups[1] = gemv ? m : (m + 15) / 16;
    d.groups[2] = batches;
    return d;
}

}  // namespace

std::vector<Dispatch> plan_gemm(KernelPlanner& planner, const TensorRef& a, const TensorRef& b,
                                const TensorRef* c, const TensorRef& y, const rm::Attrs& attrs) {
    uint32_t m = u32(y.shape[0]), n = u32(y.shape[1]);
    uint32_t k = u32(attrs.trans_a ? a.shape[0] : a.shape[1]);
    uint32_t c_sm = 0, c_sn = 0;
    if (c) {
        // Broadcast C to [m, n] (numpy rules): a size-1 or missing dimension has stride 0.
        const auto& s = c->shape;
        int64_t cn = s.empty() ? 1 : s.back();
        int64_t cm = s.size() >= 2 ? s[s.size() - 2] : 1;
        c_sn = cn == 1 ? 0 : 1;
        c_sm = cm == 1 ? 0 : u32(cn);
    }
    return {gemm_dispatch(planner, a, b, c, y, m, n, k, attrs.trans_a, attrs.trans_b, attrs.alpha,
                          attrs.beta, c_sm, c_sn, 1, 0, 0)};
}

std::vector<Dispatch> plan_matmul(KernelPlanner& planner, const TensorRef& a, const TensorRef& b,
                                  const TensorRef& y) {
    rm::Shape sa = a.shape, sb = b.shape;
    if (sa.size() == 1) sa.insert(sa.begin(), 1);
    if (sb.size() == 1) sb.push_back(1);
    uint32_t m = u32(sa[sa.size() - 2]), k = u32(sa.back()), n = u32(sb.back());
    int64_t batch_a = rm::element_count(rm::Shape(sa.begin(), sa.end() - 2));
    int64_t batch_b = rm::element_count(rm::Shape(sb.begin(), sb.end() - 2));
    int64_t batches = std::max(batch_a, batch_b);
    // Supported: equal batch shapes, or one side a single matrix shared by every batch entry.
    if (batch_a != batches && batch_a != 1)
        throw VulkanError("MatMul broadcasting of this kind is not supported on the GPU");
    if (batch_b != batches && batch_b != 1)
        throw VulkanError("MatMul broadcasting of this kind is not supported on the GPU");
    return {gemm_dispatch(planner, a, b, nullptr, y, m, n, k, false, false, 1.0f, 0.0f, 0, 0,
                          u32(batches), batch_a == 1 ? 0 : m * k, batch_b == 1 ? 0 : k * n)};
}

std::vector<Dispatch> plan_softmax(KernelPlanner& planner, const TensorRef& x, const TensorRef& y,
                                   int64_t axis) {
    int64_t rank = static_cast<int64_t>(x.shape.size());
    if (axis < 0) axis += rank;
    int64_t outer = 1, inner = 1, dim = x.shape[axis];
    for (int64_t i = 0; i < axis; ++i) outer *= x.shape[i];
    for (int64_t i = axis + 1; i < rank; ++i) inner *= x.shape[i];
    require_fits(planner, x, "Softmax");
    const ComputePipeline& pipe = planner.pipeline("softmax", 2, sizeof(SoftmaxPush));
    Dispatch d;
    d.pipeline = &pipe;
    uint32_t xo, yo;
    d.ranges.push_back(planner.bind(x, 0, count_of(x), xo));
    d.ranges.push_back(planner.bind(y, 0, count_of(y), yo));
    d.push = SoftmaxPush{xo, yo, u32(outer), u32(dim), u32(inner)};
    KernelPlanner::grid_1d((outer * inner + 63) / 64, d.groups);
    return {d};
}

}  // namespace rmvk
