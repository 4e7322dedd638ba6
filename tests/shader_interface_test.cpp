// The typed Push and Spec structs of app/engine/shader_params.hpp against the compiled shaders:
// the push-constant block's member names, offsets and size, and the constant_id of every
// specialization constant, read from the embedded SPIR-V. A field added, removed or reordered
// on one side only fails here instead of feeding a kernel shifted words.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <rmvk_shaders.hpp>
#include <string>
#include <vector>

#include "app/engine/shader_params.hpp"

using namespace rmvk;

namespace {

struct Field {
    std::string name;
    size_t offset;  // bytes (push constants) or bytes / 4 = constant_id (spec constants)
};

// What a shader declares: its push-constant block and its specialization constants.
struct Interface {
    std::vector<Field> push;  // in offset order
    uint32_t push_bytes = 0;
    std::map<std::string, uint32_t> spec_ids;  // name ("" for an unnamed one) -> constant_id
};

std::string literal_string(const uint32_t* words) {
    return std::string(reinterpret_cast<const char*>(words));
}

Interface reflect(std::span<const uint32_t> code) {
    REQUIRE(code.size() > 5);
    REQUIRE(code[0] == 0x07230203u);
    enum : uint32_t {
        kName = 5,
        kMemberName = 6,
        kTypeInt = 21,
        kTypeFloat = 22,
        kTypeArray = 28,
        kTypeStruct = 30,
        kTypePointer = 32,
        kConstant = 43,
        kSpecTrue = 48,
        kSpecFalse = 49,
        kSpec = 50,
        kVariable = 59,
        kDecorate = 71,
        kMemberDecorate = 72,
        kSpecId = 1,
        kArrayStride = 6,
        kOffset = 35,
        kPushConstant = 9,
    };
    std::map<uint32_t, std::string> names;
    std::map<std::pair<uint32_t, uint32_t>, std::string> member_names;
    std::map<std::pair<uint32_t, uint32_t>, uint32_t> member_offsets;
    std::map<uint32_t, uint32_t> spec_id, array_stride, constants, scalar_bytes, pointee;
    std::map<uint32_t, std::pair<uint32_t, uint32_t>> arrays;  // element type, length id
    std::map<uint32_t, std::vector<uint32_t>> structs;
    std::vector<uint32_t> spec_constants;
    uint32_t push_pointer = 0;
    for (size_t i = 5; i < code.size();) {
        const uint32_t op = code[i] & 0xffffu, count = code[i] >> 16;
        if (count == 0) FAIL("malformed SPIR-V");
        const uint32_t* w = code.data() + i + 1;
        switch (op) {
            case kName:
                names[w[0]] = literal_string(w + 1);
                break;
            case kMemberName:
                member_names[{w[0], w[1]}] = literal_string(w + 2);
                break;
            case kTypeInt:
            case kTypeFloat:
                scalar_bytes[w[0]] = w[1] / 8;
                break;
            case kTypeArray:
                arrays[w[0]] = {w[1], w[2]};
                break;
            case kTypeStruct:
                structs[w[0]] = std::vector<uint32_t>(w + 1, w + count - 1);
                break;
            case kTypePointer:
                pointee[w[0]] = w[2];
                break;
            case kConstant:
                constants[w[1]] = w[2];
                break;
            case kSpecTrue:
            case kSpecFalse:
            case kSpec:
                spec_constants.push_back(w[1]);
                break;
            case kVariable:
                if (w[2] == kPushConstant) push_pointer = w[0];
                break;
            case kDecorate:
                if (w[1] == kSpecId) spec_id[w[0]] = w[2];
                if (w[1] == kArrayStride) array_stride[w[0]] = w[2];
                break;
            case kMemberDecorate:
                if (w[2] == kOffset) member_offsets[{w[0], w[1]}] = w[3];
                break;
            default:
                break;
        }
        i += count;
    }
    std::function<uint32_t(uint32_t)> type_bytes = [&](uint32_t type) -> uint32_t {
        if (scalar_bytes.count(type)) return scalar_bytes[type];
        if (arrays.count(type)) return constants.at(arrays[type].second) * array_stride.at(type);
        FAIL("push constant member of a type this test does not measure");
        return 0;
    };
    Interface out;
    if (push_pointer) {
        const uint32_t block = pointee.at(push_pointer);
        const auto& members = structs.at(block);
        for (uint32_t m = 0; m < members.size(); ++m) {
            uint32_t offset = member_offsets.at({block, m});
            out.push.push_back({member_names.at({block, m}), offset});
            out.push_bytes = std::max(out.push_bytes, offset + type_bytes(members[m]));
        }
    }
    for (uint32_t id : spec_constants)
        if (spec_id.count(id)) out.spec_ids[names.count(id) ? names[id] : ""] = spec_id[id];
    return out;
}

// `fields`: every member of the C++ Push struct, by the GLSL member's name.
// Both variants: the shader and, where it has one, its fp16-storage twin (NAME_fp16).
std::vector<std::string> variants(const char* shader) {
    std::vector<std::string> out{shader};
    if (!shaders::find(std::string(shader) + "_fp16").empty()) out.push_back(out[0] + "_fp16");
    return out;
}

void check_push(const char* shader_name, size_t push_bytes, const std::vector<Field>& fields) {
    for (const std::string& shader : variants(shader_name)) {
        CAPTURE(shader);
        Interface in = reflect(shaders::find(shader));
        REQUIRE(in.push.size() == fields.size());
        CHECK(in.push_bytes == push_bytes);
        for (size_t i = 0; i < fields.size(); ++i) {
            CAPTURE(fields[i].name);
            CHECK(in.push[i].name == fields[i].name);
            CHECK(in.push[i].offset == fields[i].offset);
        }
    }
}

// `fields`: every member of the C++ Spec struct, by the GLSL constant's name ("" for the
// workgroup size set by local_size_x_id, which glslang leaves unnamed), at its byte offset.
void check_spec(const char* shader_name, size_t spec_bytes, const std::vector<Field>& fields) {
    for (const std::string& shader : variants(shader_name)) {
        CAPTURE(shader);
        Interface in = reflect(shaders::find(shader));
        CHECK(in.spec_ids.size() == fields.size());
        CHECK(spec_bytes == fields.size() * 4);
        for (const auto& f : fields) {
            CAPTURE(f.name);
            REQUIRE(in.spec_ids.count(f.name) == 1);
            CHECK(in.spec_ids[f.name] * 4 == f.offset);
        }
    }
}

#define FIELD(Struct, glsl, member)    \
    Field {                            \
        glsl, offsetof(Struct, member) \
    }

const std::vector<Field> kConvPushFields = {
    FIELD(ConvPush, "x_off", x_off),
    FIELD(ConvPush, "w_off", w_off),
    FIELD(ConvPush, "b_off", b_off),
    FIELD(ConvPush, "y_off", y_off),
    FIELD(ConvPush, "r_off", r_off),
    FIELD(ConvPush, "n", n),
    FIELD(ConvPush, "c", c),
    FIELD(ConvPush, "h", h),
    FIELD(ConvPush, "w", w),
    FIELD(ConvPush, "x_image_stride", x_image_stride),
    FIELD(ConvPush, "x_channel", x_channel),
    FIELD(ConvPush, "oh", oh),
    FIELD(ConvPush, "ow", ow),
    FIELD(ConvPush, "y_image_stride", y_image_stride),
    FIELD(ConvPush, "y_channel", y_channel),
    FIELD(ConvPush, "r_image_stride", r_image_stride),
    FIELD(ConvPush, "r_channel", r_channel),
    FIELD(ConvPush, "cg", cg),
    FIELD(ConvPush, "ocg", ocg),
    FIELD(ConvPush, "group_first", group_first),
    FIELD(ConvPush, "pad_top", pad_top),
    FIELD(ConvPush, "pad_left", pad_left),
    FIELD(ConvPush, "has_bias", has_bias),
    FIELD(ConvPush, "act_stride", act_stride),
    FIELD(ConvPush, "relu", relu),
};

std::vector<Field> conv_spec_fields(size_t base) {
    return {
        Field{"", base + offsetof(ConvSpec, workgroup_size)},
        Field{"TM", base + offsetof(ConvSpec, tm)},
        Field{"TN", base + offsetof(ConvSpec, tn)},
        Field{"TK", base + offsetof(ConvSpec, tk)},
        Field{"RM", base + offsetof(ConvSpec, rm)},
        Field{"RN", base + offsetof(ConvSpec, rn)},
        Field{"CLAMP", base + offsetof(ConvSpec, clamp)},
        Field{"KH", base + offsetof(ConvSpec, kh)},
        Field{"KW", base + offsetof(ConvSpec, kw)},
        Field{"SH", base + offsetof(ConvSpec, sh)},
        Field{"SW", base + offsetof(ConvSpec, sw)},
        Field{"DH", base + offsetof(ConvSpec, dh)},
        Field{"DW", base + offsetof(ConvSpec, dw)},
        Field{"POINTWISE", base + offsetof(ConvSpec, pointwise)},
        Field{"RESIDUAL", base + offsetof(ConvSpec, residual)},
    };
}

// gemm.comp and gemv.comp share GemmPush.
const std::vector<Field> kGemmPushFields = {
    FIELD(GemmPush, "a_off", a_off),
    FIELD(GemmPush, "b_off", b_off),
    FIELD(GemmPush, "c_off", c_off),
    FIELD(GemmPush, "y_off", y_off),
    FIELD(GemmPush, "m", m),
    FIELD(GemmPush, "n", n),
    FIELD(GemmPush, "k", k),
    FIELD(GemmPush, "trans_a", trans_a),
    FIELD(GemmPush, "trans_b", trans_b),
    FIELD(GemmPush, "has_c", has_c),
    FIELD(GemmPush, "c_stride_m", c_stride_m),
    FIELD(GemmPush, "c_stride_n", c_stride_n),
    FIELD(GemmPush, "alpha", alpha),
    FIELD(GemmPush, "beta", beta),
    FIELD(GemmPush, "a_batch_stride", a_batch_stride),
    FIELD(GemmPush, "b_batch_stride", b_batch_stride),
    FIELD(GemmPush, "y_batch_stride", y_batch_stride),
};

}  // namespace

TEST_CASE("conv push and specialization constants match both conv kernels") {
    check_push("conv2d", sizeof(ConvPush), kConvPushFields);
    check_push("conv2d_direct", sizeof(ConvPush), kConvPushFields);
    std::vector<Field> tiled = conv_spec_fields(offsetof(TiledConvSpec, base));
    tiled.push_back(FIELD(TiledConvSpec, "SPLIT_K", split_k));
    check_spec("conv2d", sizeof(TiledConvSpec), tiled);
    check_push(
        "conv2d_splitk", sizeof(ConvSplitKPush),
        {FIELD(ConvSplitKPush, "p_off", p_off), FIELD(ConvSplitKPush, "b_off", b_off),
         FIELD(ConvSplitKPush, "r_off", r_off), FIELD(ConvSplitKPush, "y_off", y_off),
         FIELD(ConvSplitKPush, "splits", splits), FIELD(ConvSplitKPush, "channels", channels),
         FIELD(ConvSplitKPush, "n", n), FIELD(ConvSplitKPush, "ohw", ohw),
         FIELD(ConvSplitKPush, "y_image_stride", y_image_stride),
         FIELD(ConvSplitKPush, "y_channel", y_channel),
         FIELD(ConvSplitKPush, "r_image_stride", r_image_stride),
         FIELD(ConvSplitKPush, "r_channel", r_channel), FIELD(ConvSplitKPush, "has_bias", has_bias),
         FIELD(ConvSplitKPush, "act_stride", act_stride), FIELD(ConvSplitKPush, "relu", relu)});
    check_spec(
        "conv2d_splitk", sizeof(ConvSplitKSpec),
        {FIELD(ConvSplitKSpec, "CLAMP", clamp), FIELD(ConvSplitKSpec, "RESIDUAL", residual)});
    std::vector<Field> direct = conv_spec_fields(offsetof(DirectConvSpec, base));
    for (Field f : {FIELD(DirectConvSpec, "X4", x4), FIELD(DirectConvSpec, "CU", cu),
                    FIELD(DirectConvSpec, "SG", sg), FIELD(DirectConvSpec, "Y4", y4),
                    FIELD(DirectConvSpec, "XR4", xr4), FIELD(DirectConvSpec, "ROWS", rows)})
        direct.push_back(f);
    check_spec("conv2d_direct", sizeof(DirectConvSpec), direct);
}

TEST_CASE("structured conv epilogue constants match conv_struct") {
#define F(m) FIELD(ConvStructPush, #m, m)
    check_push("conv_struct", sizeof(ConvStructPush),
               {F(x_off),
                F(b_off),
                F(y_off),
                F(r_off),
                F(out_begin),
                F(in_begin),
                F(has_input),
                F(start),
                F(scale),
                F(h),
                F(w),
                F(x_image_stride),
                F(oh),
                F(ow),
                F(y_image_stride),
                F(r_image_stride),
                F(sh),
                F(sw),
                F(top),
                F(left)});
#undef F
    check_spec("conv_struct", sizeof(ConvStructSpec),
               {FIELD(ConvStructSpec, "RELU", relu), FIELD(ConvStructSpec, "RESIDUAL", residual),
                FIELD(ConvStructSpec, "SAME_GRID", same_grid)});
}

TEST_CASE("pool, element-wise, gemm, softmax and peak-probe constants match their shaders") {
    check_push("pool2d", sizeof(PoolPush),
               {FIELD(PoolPush, "x_off", x_off), FIELD(PoolPush, "y_off", y_off),
                FIELD(PoolPush, "planes", planes), FIELD(PoolPush, "h", h), FIELD(PoolPush, "w", w),
                FIELD(PoolPush, "oh", oh), FIELD(PoolPush, "ow", ow), FIELD(PoolPush, "kh", kh),
                FIELD(PoolPush, "kw", kw), FIELD(PoolPush, "sh", sh), FIELD(PoolPush, "sw", sw),
                FIELD(PoolPush, "dh", dh), FIELD(PoolPush, "dw", dw),
                FIELD(PoolPush, "pad_top", pad_top), FIELD(PoolPush, "pad_left", pad_left),
                FIELD(PoolPush, "pad_bottom", pad_bottom), FIELD(PoolPush, "pad_right", pad_right),
                FIELD(PoolPush, "count_include_pad", count_include_pad)});
    check_spec("pool2d", sizeof(PoolSpec),
               {FIELD(PoolSpec, "AVERAGE", average), FIELD(PoolSpec, "KH", kh),
                FIELD(PoolSpec, "KW", kw)});
    check_push(
        "global_avg_pool", sizeof(GlobalAvgPoolPush),
        {FIELD(GlobalAvgPoolPush, "x_off", x_off), FIELD(GlobalAvgPoolPush, "y_off", y_off),
         FIELD(GlobalAvgPoolPush, "planes", planes), FIELD(GlobalAvgPoolPush, "inner", inner)});
    check_spec("global_avg_pool", 0, {});
    check_push("eltwise", sizeof(EltwisePush),
               {FIELD(EltwisePush, "a_off", a_off), FIELD(EltwisePush, "b_off", b_off),
                FIELD(EltwisePush, "y_off", y_off), FIELD(EltwisePush, "count", count),
                FIELD(EltwisePush, "first", first), FIELD(EltwisePush, "dims", dims),
                FIELD(EltwisePush, "a_stride", a_stride), FIELD(EltwisePush, "b_stride", b_stride),
                FIELD(EltwisePush, "channels", channels), FIELD(EltwisePush, "inner", inner)});
    check_spec("eltwise", sizeof(EltwiseSpec),
               {FIELD(EltwiseSpec, "MODE", mode), FIELD(EltwiseSpec, "RELU", relu),
                FIELD(EltwiseSpec, "SAME_SHAPE", same_shape), FIELD(EltwiseSpec, "OP", op),
                FIELD(EltwiseSpec, "A_FULL", a_full)});
    check_push("gemm", sizeof(GemmPush), kGemmPushFields);
    check_spec("gemm", sizeof(GemmSpec), {FIELD(GemmSpec, "V4", v4)});
    check_push("gemv", sizeof(GemmPush), kGemmPushFields);  // gemm's push, another kernel
    check_spec("gemv", sizeof(GemmSpec), {FIELD(GemmSpec, "V4", v4)});
    check_push("softmax", sizeof(SoftmaxPush),
               {FIELD(SoftmaxPush, "x_off", x_off), FIELD(SoftmaxPush, "y_off", y_off),
                FIELD(SoftmaxPush, "outer", outer), FIELD(SoftmaxPush, "dim", dim),
                FIELD(SoftmaxPush, "inner", inner)});
    check_spec("softmax", 0, {});
    check_push("peak_fma", sizeof(PeakFmaPush),
               {FIELD(PeakFmaPush, "mul", mul), FIELD(PeakFmaPush, "add", add),
                FIELD(PeakFmaPush, "iterations", iterations)});
    check_spec("peak_fma", sizeof(PeakFmaSpec), {FIELD(PeakFmaSpec, "", workgroup_size)});
    check_push("peak_bandwidth", sizeof(PeakBandwidthPush), {FIELD(PeakBandwidthPush, "n", n)});
    check_spec("peak_bandwidth", sizeof(PeakBandwidthSpec),
               {FIELD(PeakBandwidthSpec, "", workgroup_size)});
}

TEST_CASE("Winograd transform constants match their shaders") {
    check_push(
        "winograd_input", sizeof(WinogradInputPush),
        {FIELD(WinogradInputPush, "x_off", x_off), FIELD(WinogradInputPush, "v_off", v_off),
         FIELD(WinogradInputPush, "c", c), FIELD(WinogradInputPush, "h", h),
         FIELD(WinogradInputPush, "w", w),
         FIELD(WinogradInputPush, "x_image_stride", x_image_stride),
         FIELD(WinogradInputPush, "x_channel", x_channel),
         FIELD(WinogradInputPush, "tiles_h", tiles_h), FIELD(WinogradInputPush, "tiles_w", tiles_w),
         FIELD(WinogradInputPush, "tiles", tiles),
         FIELD(WinogradInputPush, "tiles_padded", tiles_padded),
         FIELD(WinogradInputPush, "pad_top", pad_top),
         FIELD(WinogradInputPush, "pad_left", pad_left)});
    check_spec("winograd_input", sizeof(WinogradInputSpec),
               {FIELD(WinogradInputSpec, "M", m), FIELD(WinogradInputSpec, "PACKED", packed)});
    check_push(
        "winograd_output", sizeof(WinogradOutputPush),
        {FIELD(WinogradOutputPush, "m_off", m_off), FIELD(WinogradOutputPush, "b_off", b_off),
         FIELD(WinogradOutputPush, "y_off", y_off), FIELD(WinogradOutputPush, "r_off", r_off),
         FIELD(WinogradOutputPush, "oc", oc), FIELD(WinogradOutputPush, "oh", oh),
         FIELD(WinogradOutputPush, "ow", ow),
         FIELD(WinogradOutputPush, "y_image_stride", y_image_stride),
         FIELD(WinogradOutputPush, "y_channel", y_channel),
         FIELD(WinogradOutputPush, "r_image_stride", r_image_stride),
         FIELD(WinogradOutputPush, "r_channel", r_channel),
         FIELD(WinogradOutputPush, "tiles_h", tiles_h),
         FIELD(WinogradOutputPush, "tiles_w", tiles_w), FIELD(WinogradOutputPush, "tiles", tiles),
         FIELD(WinogradOutputPush, "tiles_padded", tiles_padded),
         FIELD(WinogradOutputPush, "has_bias", has_bias),
         FIELD(WinogradOutputPush, "act_stride", act_stride),
         FIELD(WinogradOutputPush, "relu", relu)});
    check_spec(
        "winograd_output", sizeof(WinogradOutputSpec),
        {FIELD(WinogradOutputSpec, "M", m), FIELD(WinogradOutputSpec, "CLAMP", clamp),
         FIELD(WinogradOutputSpec, "RESIDUAL", residual), FIELD(WinogradOutputSpec, "Y4", y4),
         FIELD(WinogradOutputSpec, "TRANSPOSED", transposed)});
}

TEST_CASE("depthwise conv constants match its shader") {
    check_push(
        "depthwise", sizeof(DepthwisePush),
        {FIELD(DepthwisePush, "x_off", x_off), FIELD(DepthwisePush, "w_off", w_off),
         FIELD(DepthwisePush, "b_off", b_off), FIELD(DepthwisePush, "y_off", y_off),
         FIELD(DepthwisePush, "r_off", r_off), FIELD(DepthwisePush, "count", count),
         FIELD(DepthwisePush, "c", c), FIELD(DepthwisePush, "h", h), FIELD(DepthwisePush, "w", w),
         FIELD(DepthwisePush, "oh", oh), FIELD(DepthwisePush, "ow", ow),
         FIELD(DepthwisePush, "dh", dh), FIELD(DepthwisePush, "dw", dw),
         FIELD(DepthwisePush, "pad_top", pad_top), FIELD(DepthwisePush, "pad_left", pad_left),
         FIELD(DepthwisePush, "has_bias", has_bias)});
    check_spec("depthwise", sizeof(DepthwiseSpec),
               {FIELD(DepthwiseSpec, "KH", kh), FIELD(DepthwiseSpec, "KW", kw),
                FIELD(DepthwiseSpec, "SH", sh), FIELD(DepthwiseSpec, "SW", sw),
                FIELD(DepthwiseSpec, "ACT", act), FIELD(DepthwiseSpec, "RESIDUAL", residual)});
}

TEST_CASE("every compiled shader is covered by a check above") {
    // A new shader family needs its Push/Spec structs and a check here.
    std::vector<std::string> covered = {"conv2d",         "conv2d_splitk",  "conv2d_direct",
                                        "pool2d",         "eltwise",        "global_avg_pool",
                                        "gemm",           "softmax",        "peak_fma",
                                        "peak_bandwidth", "winograd_input", "winograd_output",
                                        "conv_struct",    "depthwise",      "gemv"};
    for (const auto& e : shaders::kAll) {
        CAPTURE(e.name);
        std::string name(e.name);
        if (name.ends_with("_fp16")) name.resize(name.size() - 5);  // checked with its twin
        CHECK(std::find(covered.begin(), covered.end(), name) != covered.end());
    }
}
