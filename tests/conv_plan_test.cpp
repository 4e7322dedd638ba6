// The conv planner as a pure function: which kernel it picks and how many dispatches it plans
// for given shapes and device limits, with no device involved.
#include "app/engine/conv_plan.hpp"

#include <doctest/doctest.h>

#include <cstring>

#include "app/vulkan/vulkan_error.hpp"
#include "rm/resnet_builder.hpp"
#include "rm/shape_inference.hpp"

using namespace rmvk;

namespace {

// lavapipe on an AVX2 machine, and a discrete GPU.
DeviceCaps cpu_device(DeviceCaps::Winograd winograd = DeviceCaps::Winograd::Off) {
    DeviceCaps caps;
    caps.winograd = winograd;
    caps.type = "cpu";
    caps.subgroup_shuffle = true;
    caps.subgroup_size = 8;
    caps.max_binding_bytes = 1ull << 31;
    caps.offset_alignment = 16;
    return caps;
}

DeviceCaps gpu_device(DeviceCaps::Winograd winograd = DeviceCaps::Winograd::Off) {
    DeviceCaps caps;
    caps.winograd = winograd;
    caps.type = "discrete";
    caps.subgroup_shuffle = true;
    caps.subgroup_size = 32;
    caps.max_binding_bytes = 1ull << 32;
    caps.offset_alignment = 64;
    return caps;
}

struct Conv {
    rm::Attrs attrs;
    ConvProblem problem;
};

// n x c x h x w -> n x oc, k x k kernel, stride s, padding k / 2.
Conv conv(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc, int64_t k, int64_t s = 1,
          int64_t group = 1) {
    Conv v;
    v.attrs.kernel = {k, k};
    v.attrs.strides = {s, s};
    v.attrs.pads = {k / 2, k / 2, k / 2, k / 2};
    v.attrs.group = group;
    v.problem.x = {n, c, h, w};
    v.problem.y = {n, oc, (h + 2 * (k / 2) - k) / s + 1, (w + 2 * (k / 2) - k) / s + 1};
    v.problem.bias = true;
    return v;
}

ConvPlan plan(Conv& v, const DeviceCaps& caps) {
    v.problem.attrs = &v.attrs;
    ConvPlan p = plan_conv(v.problem, caps);
    // Every binding within the limit and aligned, whatever the plan.
    for (const auto& d : p.dispatches) {
        REQUIRE(d.kernel < p.kernels.size());
        CHECK(d.bindings.size() == p.kernels[d.kernel].bindings);
        CHECK(d.push.size() == p.kernels[d.kernel].push_bytes);
        for (const auto& b : d.bindings) {
            CHECK(b.range <= caps.max_binding_bytes);
            CHECK(b.offset % caps.offset_alignment == 0);
        }
    }
    return p;
}

// A discrete GPU with this many compute units (an RTX 3090 has 82 SMs, an H100 SXM 132).
DeviceCaps gpu_with_units(uint32_t units) {
    DeviceCaps caps = gpu_device();
    caps.compute_units = units;
    caps.max_binding_bytes = (1ull << 32) - 1;
    return caps;
}

TiledConvSpec tiled_spec(const ConvPlan& p) {
    REQUIRE(p.kernels.at(0).spec.size() * 4 == sizeof(TiledConvSpec));
    TiledConvSpec s;
    std::memcpy(&s, p.kernels[0].spec.data(), sizeof s);
    return s;
}

// Workgroups of each dispatch of the tiled conv kernel (the split-K reduce left out).
std::vector<uint64_t> conv_workgroups(const ConvPlan& p) {
    std::vector<uint64_t> out;
    for (const auto& d : p.dispatches)
        if (p.kernels.at(d.kernel).shader == "conv2d")
            out.push_back(uint64_t{d.groups[0]} * d.groups[1] * d.groups[2]);
    return out;
}

DirectConvSpec direct_spec(const ConvPlan& p) {
    REQUIRE(p.kernels.at(0).spec.size() * 4 == sizeof(DirectConvSpec));
    DirectConvSpec s;
    std::memcpy(&s, p.kernels[0].spec.data(), sizeof s);
    return s;
}

}  // namespace

TEST_CASE("a CPU device gets the direct kernel with packed weights; a GPU the tiled one") {
    Conv v = conv(1, 64, 56, 56, 64, 3);
    ConvPlan cpu = plan(v, cpu_device());
    CHECK(cpu.name == "direct rows");
    CHECK(cpu.kernels.at(0).shader == "conv2d_direct");
    CHECK(cpu.weights.packed_rows == 16);
    REQUIRE(cpu.dispatches.size() == 1);
    DirectConvSpec s = direct_spec(cpu);
    CHECK(s.rows == 1);
    CHECK(s.base.rn == 8);  // rows of 56 = 7 blocks of 8 pixels
    CHECK(s.y4 == 1);
    CHECK(s.sg == 8);
    // 56 rows x 7 blocks of 8 pixels = 3136 slots, 512 per workgroup; 64 / 16 channel rows.
    CHECK(cpu.dispatches[0].groups[0] == 7);
    CHECK(cpu.dispatches[0].groups[1] == 4);
    CHECK(cpu.dispatches[0].groups[2] == 1);

    ConvPlan gpu = plan(v, gpu_device());
    CHECK(gpu.name == "tiled");
    CHECK(gpu.kernels.at(0).shader == "conv2d");
    CHECK(gpu.weights.packed_rows == 4);  // vec4s of 4 output channels
    // 8 x 4 outputs per invocation: 128 invocations for the 64 x 64 tile.
    CHECK(tiled_spec(gpu).base.rm == 8);
    CHECK(tiled_spec(gpu).base.rn == 4);
    CHECK(tiled_spec(gpu).base.workgroup_size == 128);
    CHECK(gpu.kernels.at(0).texel_mask == 0);
    REQUIRE(gpu.dispatches.size() == 1);
    CHECK(gpu.dispatches[0].groups[0] == (56 * 56 + 63) / 64);
    CHECK(gpu.dispatches[0].groups[1] == 1);

    // A CPU device without subgroup shuffles cannot run the direct kernel.
    DeviceCaps no_shuffle = cpu_device();
    no_shuffle.subgroup_shuffle = false;
    CHECK(plan(v, no_shuffle).name == "tiled");
    // Forcing a kernel wins over the device type.
    DeviceCaps forced = gpu_device();
    forced.conv_kernel = DeviceCaps::ConvKernel::Direct;
    CHECK(plan(v, forced).name == "direct rows");
}

TEST_CASE("pointwise convs read 4 pixels per texel only when planes start on 16 bytes") {
    Conv v = conv(2, 64, 14, 14, 256, 1);
    ConvPlan p = plan(v, cpu_device());
    CHECK(p.name == "direct");
    CHECK(direct_spec(p).x4 == 1);
    CHECK(direct_spec(p).cu == 8);
    v.problem.x_first = 3;
    CHECK(direct_spec(plan(v, cpu_device())).x4 == 0);
    Conv odd = conv(1, 64, 7, 7, 64, 1);  // 49-pixel planes
    CHECK(direct_spec(plan(odd, cpu_device())).x4 == 0);
}

TEST_CASE("small bindings split a conv over images and output channels") {
    // 4 KiB: one image's input (400 floats) and output (600) fit, two outputs do not.
    DeviceCaps small = cpu_device();
    small.max_binding_bytes = 4096;
    Conv batch = conv(3, 4, 10, 10, 6, 3);
    CHECK(plan(batch, small).dispatches.size() == 3);
    CHECK(plan(batch, cpu_device()).dispatches.size() == 1);

    // 8 KiB (2044 floats): 40 x 81 outputs need slices of 16 channels (whole packed rows).
    small.max_binding_bytes = 8192;
    Conv wide = conv(1, 8, 9, 9, 40, 3);
    ConvPlan p = plan(wide, small);
    REQUIRE(p.dispatches.size() == 3);
    CHECK(p.dispatches[0].push.as<ConvPush>().ocg == 16);
    CHECK(p.dispatches[2].push.as<ConvPush>().ocg == 8);
    // The tiled kernel's unpacked weights split anywhere: 20 x 81 outputs fit.
    DeviceCaps small_gpu = gpu_device();
    small_gpu.max_binding_bytes = 8192;
    CHECK(plan(wide, small_gpu).dispatches.size() == 2);

    // Groups split in whole groups.
    small.max_binding_bytes = 4096;
    Conv grouped = conv(1, 8, 8, 8, 16, 3, 1, 4);
    ConvPlan g = plan(grouped, small);
    CHECK(g.dispatches.size() == 2);
    CHECK(g.dispatches[0].groups[2] == 2);  // two groups per dispatch

    // One image's input larger than any binding cannot be planned.
    Conv huge = conv(1, 64, 20, 20, 8, 3);
    CHECK_THROWS_WITH_AS(plan(huge, small), doctest::Contains("conv input of one image"),
                         VulkanError);
}

TEST_CASE("channel windows move the bindings' limits") {
    DeviceCaps small = cpu_device();
    small.max_binding_bytes = 8192;
    // Writing channels [30, 46) of a 46-channel 9x9 output: (30 + 16) x 81 floats exceed 2044,
    // so the window cannot be planned; from channel 8 it can.
    Conv v = conv(1, 8, 9, 9, 46, 3);
    v.problem.out_channels = 16;
    v.problem.y_channel = 30;
    CHECK_THROWS_WITH_AS(plan(v, small), doctest::Contains("16 output channels exceed"),
                         VulkanError);
    v.problem.y_channel = 8;
    ConvPlan p = plan(v, small);
    REQUIRE(p.dispatches.size() == 1);
    ConvPush push = p.dispatches[0].push.as<ConvPush>();
    CHECK(push.y_channel == 8);
    CHECK(push.y_image_stride == 46 * 81);
    CHECK(push.x_image_stride == 8 * 81);
}

TEST_CASE("Winograd where the cost model says it is faster, by the kind of layer") {
    using W = DeviceCaps::Winograd;
    // ResNet's 3x3 layers: F(4,3) down to 14x14 (output channels across lanes where there are
    // few tiles), F(2,3) at 7x7 (4 tiles of F(4,3) would leave most of the GEMM idle).
    struct Expect {
        int64_t c, hw;
        const char* name;
        bool transposed;
    };
    for (Expect e : {Expect{64, 56, "winograd F(4,3)", true},
                     {128, 28, "winograd F(4,3)", false},
                     {256, 14, "winograd F(4,3)", true},
                     {512, 7, "winograd F(2,3)", true}}) {
        CAPTURE(e.c);
        Conv v = conv(1, e.c, e.hw, e.hw, e.c, 3);
        ConvPlan p = plan(v, cpu_device(W::Auto));
        CHECK(p.name == e.name);
        CHECK(p.weights.winograd_transposed == e.transposed);
        CHECK(p.weights.packed_rows == (e.transposed ? 0u : 16u));
        REQUIRE(p.dispatches.size() == 3);
        CHECK(p.kernels.at(p.dispatches[0].kernel).shader == "winograd_input");
        CHECK(p.kernels.at(p.dispatches[1].kernel).shader == "conv2d_direct");
        CHECK(p.kernels.at(p.dispatches[2].kernel).shader == "winograd_output");
        CHECK_FALSE(p.dispatches[0].after_previous);
        CHECK(p.dispatches[1].after_previous);
        CHECK(p.dispatches[2].after_previous);
        // GEMM groups: one per transformed position.
        CHECK(p.dispatches[1].groups[2] == (e.name[11] == '4' ? 36u : 16u));
        const int64_t m = e.name[11] - '0', tiles = (e.hw + m - 1) / m * ((e.hw + m - 1) / m);
        const int64_t padded =
            (tiles + (e.transposed ? 15 : 3)) / (e.transposed ? 16 : 4) * (e.transposed ? 16 : 4);
        CHECK(p.winograd_input_elements == uint64_t((m + 2) * (m + 2) * e.c * padded));
        CHECK(p.winograd_product_elements == uint64_t((m + 2) * (m + 2) * e.c * padded));
    }
    // Narrow layers and the 3-channel stem stay direct: the transforms would cost more.
    Conv narrow = conv(1, 8, 56, 56, 8, 3);
    CHECK(plan(narrow, cpu_device(W::Auto)).name == "direct rows");
    Conv stem = conv(1, 3, 224, 224, 64, 3);
    CHECK(plan(stem, cpu_device(W::Auto)).name == "direct rows");
    // So do tiny ones, where two more dispatches cost more than the multiplications saved.
    Conv tiny = conv(1, 64, 7, 7, 64, 3);
    CHECK(plan(tiny, cpu_device(W::Auto)).name == "direct rows");
    // Not a Winograd conv: strided, dilated, grouped, 1x1.
    Conv strided = conv(1, 64, 56, 56, 64, 3, 2);
    CHECK(plan(strided, cpu_device(W::On)).name == "direct rows");
    Conv grouped = conv(1, 64, 56, 56, 64, 3, 1, 2);
    CHECK(plan(grouped, cpu_device(W::On)).name == "direct rows");
    Conv dilated = conv(1, 64, 28, 28, 64, 3);
    dilated.attrs.dilations = {2, 2};
    dilated.attrs.pads = {2, 2, 2, 2};
    CHECK(plan(dilated, cpu_device(W::On)).name == "direct rows");
    Conv pointwise = conv(1, 64, 28, 28, 64, 1);
    CHECK(plan(pointwise, cpu_device(W::On)).name == "direct");
    // Off, and GPUs (the cost model is fitted to the CPU kernel), keep the spatial kernels;
    // forcing it on a GPU runs the GEMM on the tiled kernel with weights in rows of 4.
    Conv v = conv(1, 64, 56, 56, 64, 3);
    CHECK(plan(v, cpu_device(W::Off)).name == "direct rows");
    CHECK(plan(v, gpu_device(W::Auto)).name == "tiled");
    ConvPlan forced = plan(v, gpu_device(W::On));
    CHECK(forced.name == "winograd F(4,3)");
    CHECK(forced.kernels.at(forced.dispatches[1].kernel).shader == "conv2d");
    CHECK(forced.weights.packed_rows == 4);
    DeviceCaps f2 = cpu_device(W::On);
    f2.winograd_m = 2;
    CHECK(plan(v, f2).name == "winograd F(2,3)");
    // Transformed tensors that exceed one binding: the spatial plan, whose bindings fit.
    DeviceCaps small = cpu_device(W::On);
    small.max_binding_bytes = 1 << 20;  // V of F(4,3) is 36 x 64 x 196 floats = 1.8 MB
    ConvPlan spatial = plan(v, small);
    CHECK(spatial.name == "direct rows");
    CHECK(spatial.dispatches.size() == 1);
}

TEST_CASE("every ResNet-50 conv at batch 1 gives each of 82 or 132 compute units 2 workgroups") {
    rm::ResNetConfig config;
    config.arch = "resnet50";
    rm::Graph g = rm::build_resnet(config);
    rm::ShapeMap shapes = rm::infer_shapes(g, 1);
    for (uint32_t units : {82u, 132u}) {
        CAPTURE(units);
        const DeviceCaps caps = gpu_with_units(units);
        int convs = 0, split = 0;
        for (const rm::Node& n : g.nodes) {
            if (n.op != rm::Op::Conv) continue;
            CAPTURE(n.name);
            ConvProblem problem;
            problem.x = shapes.at(n.inputs[0]);
            problem.y = shapes.at(n.outputs[0]);
            problem.bias = true;
            problem.attrs = &n.attrs;
            ConvPlan p = plan_conv(problem, caps);
            CHECK(p.kernels.at(0).shader == "conv2d");
            const std::vector<uint64_t> wgs = conv_workgroups(p);
            REQUIRE(wgs.size() == 1);
            CHECK(wgs[0] >= 2 * units);
            ++convs;
            split += tiled_spec(p).split_k > 1;
        }
        CHECK(convs == 53);
        CHECK(split > 0);  // the 7x7 and 14x14 layers need it
    }
    // At batch 32 every layer fills the device without a split, all but layer4's 512-channel
    // convs (8 x 25 tiles of 64x64 < 264) with 64x64 tiles.
    shapes = rm::infer_shapes(g, 32);
    int wide = 0, all = 0;
    for (const rm::Node& n : g.nodes) {
        if (n.op != rm::Op::Conv) continue;
        ConvProblem problem;
        problem.x = shapes.at(n.inputs[0]);
        problem.y = shapes.at(n.outputs[0]);
        problem.attrs = &n.attrs;
        TiledConvSpec s = tiled_spec(plan_conv(problem, gpu_with_units(132)));
        CHECK(s.base.tm * s.base.tn >= 32 * 64);
        CHECK(s.split_k == 1);
        wide += s.base.tm == 64 && s.base.tn == 64;
        ++all;
    }
    CHECK(wide == all - 5);
}

TEST_CASE("split-K: partials sized per dispatch, reduced in one pass after the conv") {
    // layer4's 3x3 conv at batch 1: 512 x 49 outputs, K = 4608. 32x32 tiles give 16 x 2 = 32
    // workgroups; 132 units want 264, so K splits 9 ways (512 deep each).
    Conv v = conv(1, 512, 7, 7, 512, 3);
    v.problem.relu = true;
    ConvPlan p = plan(v, gpu_with_units(132));
    CHECK(p.name == "tiled split-K 9");
    TiledConvSpec s = tiled_spec(p);
    CHECK(s.base.tm == 32);
    CHECK(s.base.tn == 32);
    CHECK(s.split_k == 9);
    REQUIRE(p.kernels.size() == 2);
    CHECK(p.kernels[1].shader == "conv2d_splitk");
    REQUIRE(p.dispatches.size() == 2);
    CHECK(p.dispatches[0].groups[0] == 2);
    CHECK(p.dispatches[0].groups[1] == 16);
    CHECK(p.dispatches[0].groups[2] == 9);
    CHECK(p.split_k_elements == 9ull * 512 * 49);
    // The conv writes the partials; the reduce reads them, with bias and ReLU, into y.
    CHECK(p.dispatches[0].bindings[3].operand == ConvOperand::SplitKPartials);
    const PlannedDispatch& r = p.dispatches[1];
    CHECK(r.after_previous);
    REQUIRE(r.bindings.size() == 4);
    CHECK(r.bindings[0].operand == ConvOperand::SplitKPartials);
    CHECK(r.bindings[1].operand == ConvOperand::Bias);
    CHECK(r.bindings[3].operand == ConvOperand::Y);
    ConvSplitKPush rp = r.push.as<ConvSplitKPush>();
    CHECK(rp.splits == 9);
    CHECK(rp.channels == 512);
    CHECK(rp.has_bias == 1);
    CHECK(rp.relu == 1);
    CHECK(uint64_t{r.groups[0]} * r.groups[1] * 64 >= 512 * 49);
    ConvSplitKSpec rs;
    std::memcpy(&rs, p.kernels[1].spec.data(), sizeof rs);
    CHECK(rs.clamp == 0);

    // A shallow K limits the split to slices of two 16-deep steps.
    Conv shallow = conv(1, 64, 7, 7, 64, 1);
    CHECK(tiled_spec(plan(shallow, gpu_with_units(132))).split_k == 2);
    // Slices over output channels each get their reduce, the scratch sized for the largest.
    DeviceCaps small = gpu_with_units(132);
    small.max_binding_bytes = 64 * 1024;
    Conv sliced = conv(1, 64, 7, 7, 300, 3);
    ConvPlan q = plan(sliced, small);
    REQUIRE(q.dispatches.size() >= 4);
    for (size_t i = 0; i < q.dispatches.size(); ++i) {
        CAPTURE(i);
        CHECK(q.dispatches[i].kernel == i % 2);
        CHECK(q.dispatches[i].after_previous == (i > 0));
        for (const auto& b : q.dispatches[i].bindings)
            if (b.operand == ConvOperand::SplitKPartials) CHECK(b.range <= q.split_k_elements * 4);
    }
    // Forced by RMVK_CONV_TILE's seventh field.
    DeviceCaps forced = gpu_device();
    forced.tile = "tiled:64:64:16:4:4:3";
    ConvPlan f = plan(v, forced);
    CHECK(tiled_spec(f).split_k == 3);
    CHECK(tiled_spec(f).base.tm == 64);
}

TEST_CASE("group == channels gets the depthwise kernel: one dispatch, a lane per output") {
    for (const DeviceCaps& caps : {cpu_device(), gpu_device()}) {
        CAPTURE(caps.type);
        Conv v = conv(2, 96, 56, 56, 96, 3, 2, 96);  // MobileNetV2's first strided depthwise
        ConvPlan p = plan(v, caps);
        CHECK(p.name == "depthwise");
        REQUIRE(p.kernels.size() == 1);
        CHECK(p.kernels[0].shader == "depthwise");
        CHECK(p.weights.packed_rows == 0);
        CHECK(p.weights.winograd_m == 0);
        REQUIRE(p.dispatches.size() == 1);
        const uint64_t outputs = 2 * 96 * 28 * 28;
        const auto& g = p.dispatches[0].groups;
        CHECK(static_cast<uint64_t>(g[0]) * g[1] * g[2] == (outputs + 255) / 256);
        // With a clamp, the bias binding covers its bias, lo and hi planes.
        v.problem.clamp = true;
        ConvPlan c = plan(v, caps);
        CHECK(c.dispatches.at(0).bindings.at(2).range == 3 * 96 * 4);
    }
    // A channel multiplier (oc = 2c), a forced kernel, or a tensor beyond one binding keep
    // the general planners.
    Conv multiplier = conv(1, 32, 28, 28, 64, 3, 1, 32);
    CHECK(plan(multiplier, gpu_device()).name == "tiled");
    DeviceCaps forced = gpu_device();
    forced.conv_kernel = DeviceCaps::ConvKernel::Tiled;
    Conv dw = conv(1, 32, 28, 28, 32, 3, 1, 32);
    CHECK(plan(dw, forced).name == "tiled");
    DeviceCaps small = gpu_device();
    small.max_binding_bytes = 150000;  // one image of the two
    Conv batch = conv(2, 32, 28, 28, 32, 3, 1, 32);
    ConvPlan sliced = plan(batch, small);
    CHECK(sliced.name == "tiled");
    CHECK(sliced.dispatches.size() == 2);
}

TEST_CASE("pack_conv_weights: rows of 4 output channels per k, zero-padded, per group") {
    // 2 groups of 5 output channels (not a multiple of 4), 3 input channels, 1x2 kernel: K = 6.
    const int64_t oc = 10, cg = 3, kh = 1, kw = 2, groups = 2, k = cg * kh * kw;
    rm::Tensor w({oc, cg, kh, kw});
    for (int64_t i = 0; i < w.size(); ++i) w.data[i] = static_cast<float>(i + 1);
    rm::Tensor p = pack_conv_weights(w, groups, 4);
    // [group][ceil(5 / 4) = 2 row groups][K][4]
    REQUIRE(p.size() == groups * 2 * k * 4);
    for (int64_t g = 0; g < groups; ++g)
        for (int64_t rg = 0; rg < 2; ++rg)
            for (int64_t j = 0; j < k; ++j)
                for (int64_t r = 0; r < 4; ++r) {
                    const int64_t ol = rg * 4 + r;  // channel within the group
                    const float want = ol < 5 ? w.data[(g * 5 + ol) * k + j] : 0.0f;
                    CAPTURE(g);
                    CAPTURE(rg);
                    CAPTURE(j);
                    CAPTURE(r);
                    CHECK(p.data[((g * 2 + rg) * k + j) * 4 + r] == want);
                }
    // The device layout of a tiled plan is that packing; of an unpacked one, the graph's.
    CHECK(conv_device_weights(w, groups, {4, 0, false}).data == p.data);
    CHECK(conv_device_weights(w, groups, {0, 0, false}).data == w.data);
}

TEST_CASE("the tiled kernel's weight slices start at whole rows of 4 output channels") {
    // 70 output channels under a binding limit that holds about 16 channels' weights: slices
    // of a multiple of 4 channels, each binding covering whole (zero-padded) rows.
    Conv v = conv(1, 64, 8, 8, 70, 3);
    DeviceCaps caps = gpu_device();
    caps.max_binding_bytes = 16 * 64 * 9 * 4 + 64;
    ConvPlan p = plan(v, caps);
    CHECK(p.weights.packed_rows == 4);
    REQUIRE(p.dispatches.size() > 1);
    uint64_t channels = 0;
    for (const auto& d : p.dispatches) {
        const ConvPush push = d.push.as<ConvPush>();
        const uint64_t first_vec4 = (d.bindings[1].offset / 4 + 4 * push.w_off) / 4;
        CHECK(first_vec4 == channels / 4 * 64 * 9);  // at row group channels / 4
        CHECK(d.bindings[1].range >= (push.ocg + 3) / 4 * 4 * 64 * 9 * 4);
        if (&d != &p.dispatches.back()) CHECK(push.ocg % 4 == 0);
        channels += push.ocg;
    }
    CHECK(channels == 70);
}
