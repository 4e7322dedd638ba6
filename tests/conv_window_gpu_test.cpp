// Conv channel windows (the dense block of a wider layer): both conv kernels read a channel
// sub-range of a batch-2 tensor, write into a channel sub-range of another and add a channel
// sub-range of a third, against rm::cpu::conv2d on the sliced tensors. Channels outside the
// output window must keep their contents.
#include <cstring>

#include "app/engine/context_impl.hpp"
#include "app/engine/kernel_plan.hpp"
#include "gpu_test_util.hpp"
#include "rm/cpu_ops.hpp"

using namespace rmvk;
using namespace rmvk::test;

namespace {

// A tensor in a host-visible buffer (the kernels read it in place), `first` elements in.
struct HostTensor {
    std::unique_ptr<Buffer> buffer;
    TensorRef ref;
};

HostTensor host_tensor(Context::Impl& ctx, const rm::Tensor& t, uint64_t first = 0) {
    HostTensor h;
    h.buffer = std::make_unique<Buffer>(ctx, (t.size() + first) * 4, MemoryKind::Staging);
    std::memcpy(h.buffer->floats() + first, t.ptr(), t.size() * 4);
    h.ref = {h.buffer.get(), first, t.shape};
    return h;
}

rm::Tensor read_back(const HostTensor& h) {
    rm::Tensor t(h.ref.shape);
    std::memcpy(t.ptr(), h.buffer->floats() + h.ref.first, t.size() * 4);
    return t;
}

// Channels [c0, c0 + count) of an NCHW tensor.
rm::Tensor channels(const rm::Tensor& t, int64_t c0, int64_t count) {
    const int64_t n = t.shape[0], c = t.shape[1], plane = t.shape[2] * t.shape[3];
    rm::Tensor out({n, count, t.shape[2], t.shape[3]});
    for (int64_t i = 0; i < n; ++i)
        std::memcpy(out.ptr() + i * count * plane, t.ptr() + (i * c + c0) * plane,
                    count * plane * 4);
    return out;
}

void put_channels(rm::Tensor& dst, const rm::Tensor& src, int64_t c0) {
    const int64_t n = dst.shape[0], c = dst.shape[1], count = src.shape[1],
                  plane = dst.shape[2] * dst.shape[3];
    for (int64_t i = 0; i < n; ++i)
        std::memcpy(dst.ptr() + (i * c + c0) * plane, src.ptr() + i * count * plane,
                    count * plane * 4);
}

struct WindowCase {
    const char* name;
    int64_t h, w, kh, stride, pad, group;
    int64_t x_channels, x_channel, c;  // input tensor channels, window start, window size
    int64_t y_channels, y_channel, oc;
    int64_t r_channels, r_channel;  // 0 channels: no residual
    uint64_t x_first;               // the input's element offset in its buffer
    bool winograd = false;          // through the Winograd kernels
};

// Returns the number of dispatches planned.
size_t run_window_case(GpuEnv& env, const WindowCase& k, int orientation = 0) {
    const std::string name = k.name;
    CAPTURE(name);
    Context::Impl& ctx = env.context->impl();
    const int64_t n = 2;
    rm::Attrs a;
    a.kernel = {k.kh, k.kh};
    a.strides = {k.stride, k.stride};
    a.pads = {k.pad, k.pad, k.pad, k.pad};
    a.group = k.group;
    const int64_t oh = (k.h + 2 * k.pad - k.kh) / k.stride + 1,
                  ow = (k.w + 2 * k.pad - k.kh) / k.stride + 1;
    rm::Tensor x = random_tensor({n, k.x_channels, k.h, k.w}, 11);
    rm::Tensor w = random_tensor({k.oc, k.c / k.group, k.kh, k.kh}, 12);
    rm::Tensor b = random_tensor({k.oc}, 13);
    rm::Tensor y0 = random_tensor({n, k.y_channels, oh, ow}, 14, 5.0f, 6.0f);
    rm::Tensor r = random_tensor({n, std::max<int64_t>(k.r_channels, 1), oh, ow}, 15);

    rm::Tensor want = rm::cpu::conv2d(channels(x, k.x_channel, k.c), w, &b, a);
    if (k.r_channels) want = rm::cpu::add(want, channels(r, k.r_channel, k.oc));
    want = rm::cpu::relu(want);
    rm::Tensor want_y = y0;
    put_channels(want_y, want, k.y_channel);

    ConvProblem problem;
    problem.x = x.shape;
    problem.y = y0.shape;
    if (k.r_channels) problem.residual = r.shape;
    problem.bias = true;
    problem.relu = true;
    problem.attrs = &a;
    problem.x_first = k.x_first;
    problem.in_channels = k.c;
    problem.x_channel = k.x_channel;
    problem.out_channels = k.oc;
    problem.y_channel = k.y_channel;
    problem.residual_channel = k.r_channel;
    DeviceCaps caps = device_caps(ctx);
    caps.winograd = k.winograd ? DeviceCaps::Winograd::On : DeviceCaps::Winograd::Off;
    caps.winograd_orientation = orientation;  // the GEMM with tiles or channels across lanes
    ConvPlan plan = plan_conv(problem, caps);
    CHECK((plan.weights.winograd_m != 0) == k.winograd);
    HostTensor xd = host_tensor(ctx, x, k.x_first),
               wd = host_tensor(ctx, conv_device_weights(w, k.group, plan.weights)),
               bd = host_tensor(ctx, b), yd = host_tensor(ctx, y0), rd = host_tensor(ctx, r);
    rm::Tensor scratch_v({int64_t(std::max<uint64_t>(plan.winograd_input_elements, 1))}),
        scratch_m({int64_t(std::max<uint64_t>(plan.winograd_product_elements, 1))});
    HostTensor vd = host_tensor(ctx, scratch_v), md = host_tensor(ctx, scratch_m);
    std::array<VkBuffer, kConvOperands> buffers{};
    buffers[size_t(ConvOperand::WinogradInput)] = vd.buffer->handle();
    buffers[size_t(ConvOperand::WinogradProduct)] = md.buffer->handle();
    buffers[size_t(ConvOperand::X)] = xd.buffer->handle();
    buffers[size_t(ConvOperand::W)] = wd.buffer->handle();
    buffers[size_t(ConvOperand::Bias)] = bd.buffer->handle();
    buffers[size_t(ConvOperand::Y)] = yd.buffer->handle();
    buffers[size_t(ConvOperand::Residual)] = rd.buffer->handle();
    std::vector<Dispatch> dispatches = realize_conv_plan(ctx, plan, buffers);
    DescriptorArena arena(ctx, static_cast<uint32_t>(dispatches.size()),
                          static_cast<uint32_t>(dispatches.size() * 5));
    ctx.submit_and_wait([&](VkCommandBuffer cmd) {
        for (const auto& d : dispatches) {
            if (d.after_previous) compute_barrier(cmd);
            record_dispatch(cmd, *d.pipeline, arena.make_set(*d.pipeline, d.ranges), d.push.data(),
                            d.push.size(), d.groups[0], d.groups[1], d.groups[2]);
        }
        compute_barrier(cmd);
    });
    rm::Tensor got = read_back(yd);
    CHECK(max_relative_error(channels(got, k.y_channel, k.oc), want) <= kTolerance);
    // Everything outside the window is untouched, bit for bit.
    rm::Tensor outside = got;
    put_channels(outside, want, k.y_channel);
    CHECK(std::memcmp(outside.ptr(), want_y.ptr(), want_y.size() * 4) == 0);
    return dispatches.size();
}

const WindowCase kWindowCases[] = {
    {"3x3 pad 1, odd sizes", 9, 11, 3, 1, 1, 1, 11, 3, 5, 13, 4, 6, 9, 2, 0},
    {"3x3, rows of 8 pixels", 6, 16, 3, 1, 1, 1, 9, 4, 5, 20, 16, 4, 4, 0, 0},
    {"3x3 stride 2, no residual", 9, 8, 3, 2, 1, 1, 7, 1, 6, 10, 3, 7, 0, 0, 0},
    {"1x1 pointwise, planes of 4k floats", 6, 8, 1, 1, 0, 1, 12, 4, 8, 21, 5, 13, 15, 1, 0},
    {"1x1 pointwise, input at an odd offset", 6, 8, 1, 1, 0, 1, 12, 4, 8, 21, 5, 13, 15, 1, 3},
    {"1x1 stride 2, rows of 4k floats", 7, 12, 1, 2, 0, 1, 10, 2, 7, 9, 1, 5, 5, 0, 0},
    {"3x3 groups 2", 7, 7, 3, 1, 1, 2, 10, 2, 6, 12, 6, 4, 6, 1, 0},
    {"Winograd, odd sizes", 9, 11, 3, 1, 1, 1, 11, 3, 5, 13, 4, 6, 9, 2, 0, true},
    {"Winograd, rows of 8 pixels", 6, 16, 3, 1, 1, 1, 9, 4, 5, 20, 16, 4, 4, 0, 0, true},
    {"Winograd, output channels of 4k", 7, 8, 3, 1, 1, 1, 10, 1, 6, 21, 5, 8, 15, 3, 0, true},
};

}  // namespace

TEST_CASE("both conv kernels read and write channel windows of batch-2 tensors") {
    auto env = make_gpu_env();
    if (!env) return;
    for (int variant : {1, 2}) {
        CAPTURE(variant);
        env->context->impl().conv_variant = variant;
        for (const auto& k : kWindowCases)
            for (int orientation : {1, 2})
                if (orientation == 1 || k.winograd) run_window_case(*env, k, orientation);
    }
    check_validation_clean(*env);
}

TEST_CASE("channel windows survive the slicing into bindings of 4 KiB") {
    auto env = make_gpu_env();
    if (!env) return;
    // Output channels and images each need several dispatches; every slice keeps the window.
    env->context->impl().max_binding_override = 4096;
    for (int variant : {1, 2}) {
        CAPTURE(variant);
        env->context->impl().conv_variant = variant;
        CHECK(run_window_case(*env,
                              {"sliced 3x3", 5, 6, 3, 1, 1, 1, 9, 2, 4, 40, 3, 32, 36, 4, 0}) > 1);
        CHECK(run_window_case(*env,
                              {"sliced 1x1", 4, 4, 1, 1, 0, 1, 9, 2, 4, 40, 3, 32, 36, 4, 0}) > 1);
    }
    check_validation_clean(*env);
}
