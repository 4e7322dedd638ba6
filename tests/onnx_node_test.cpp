// ONNX's own backend node tests (Debian libonnx-testdata: data/node/test_*/model.onnx with
// test_data_set_N/input_*.pb and output_*.pb) for the operators rmvk reads: a case is taken
// when all its nodes are operators in rm::onnx_operator_names(), so a newly supported operator
// brings its cases along. Every case rmvk accepts matches ONNX's expected outputs on the CPU
// reference and on the Vulkan kernels (max|d| <= 1e-4 * max|ref|); every case it refuses is
// listed below with the reason, and the reason must be that one.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "gpu_test_util.hpp"
#include "onnx/onnx_pb.h"
#include "rm/cpu_executor.hpp"
#include "rm/error.hpp"
#include "rm/onnx_io.hpp"
#include "rm/onnx_tensor.hpp"

namespace fs = std::filesystem;
using namespace rmvk;
using namespace rmvk::test;

namespace {

// Cases rmvk refuses, and the words its refusal must contain.
const std::map<std::string, std::string> kRefused = {
    // Only 2-D pooling and convolution.
    {"test_averagepool_1d_default", "only 2-D operators"},
    {"test_averagepool_3d_default", "only 2-D operators"},
    {"test_maxpool_1d_default", "only 2-D operators"},
    {"test_maxpool_3d_default", "only 2-D operators"},
    {"test_maxpool_2d_dilations", "dilated pooling is not supported"},
    // rmvk computes MaxPool's values, not their indices.
    {"test_maxpool_with_argmax_2d_precomputed_pads", "the Indices output of MaxPool"},
    {"test_maxpool_with_argmax_2d_precomputed_strides", "the Indices output of MaxPool"},
    // Float32 tensors only.
    {"test_add_uint8", "only float32 is supported"},
    {"test_maxpool_2d_uint8", "only float32 is supported"},
    {"test_mul_uint8", "only float32 is supported"},
    {"test_identity_opt", "is not a tensor"},
    {"test_identity_sequence", "is not a tensor"},
    // Inference only: batch statistics are training.
    {"test_batchnorm_epsilon_training_mode", "training_mode=1 is not supported"},
    {"test_batchnorm_example_training_mode", "training_mode=1 is not supported"},
    // allowzero=1 with a 0 in the target shape makes an empty dimension.
    {"test_reshape_allowzero_reordered", "allowzero=1 with a zero"},
    // Written at opset 1, older than rmvk reads (GlobalAveragePool has one version).
    {"test_globalaveragepool", "opset 1 is not supported"},
    {"test_globalaveragepool_precomputed", "opset 1 is not supported"},
    // Clip, Max, Min: float32 only; Max/Min with two operands (the form exporters write).
    // ReduceMean: the spatial mean of an NCHW tensor (global average pooling) only.
    {"test_clip_default_int8_inbounds", "only float32 is supported"},
    {"test_clip_default_int8_max", "only float32 is supported"},
    {"test_clip_default_int8_min", "only float32 is supported"},
    {"test_max_example", "expected 2"},
    {"test_max_float16", "only float32 is supported"},
    {"test_max_float64", "only float32 is supported"},
    {"test_max_int16", "only float32 is supported"},
    {"test_max_int32", "only float32 is supported"},
    {"test_max_int64", "only float32 is supported"},
    {"test_max_int8", "only float32 is supported"},
    {"test_max_one_input", "expected 2"},
    {"test_max_uint16", "only float32 is supported"},
    {"test_max_uint32", "only float32 is supported"},
    {"test_max_uint64", "only float32 is supported"},
    {"test_max_uint8", "only float32 is supported"},
    {"test_min_example", "expected 2"},
    {"test_min_float16", "only float32 is supported"},
    {"test_min_float64", "only float32 is supported"},
    {"test_min_int16", "only float32 is supported"},
    {"test_min_int32", "only float32 is supported"},
    {"test_min_int64", "only float32 is supported"},
    {"test_min_int8", "only float32 is supported"},
    {"test_min_one_input", "expected 2"},
    {"test_min_uint16", "only float32 is supported"},
    {"test_min_uint32", "only float32 is supported"},
    {"test_min_uint64", "only float32 is supported"},
    {"test_min_uint8", "only float32 is supported"},
    {"test_reduce_mean_default_axes_keepdims_example", "attribute 'axes' is required"},
    {"test_reduce_mean_default_axes_keepdims_random", "attribute 'axes' is required"},
    {"test_reduce_mean_do_not_keepdims_example", "only a 4-D (NCHW) input"},
    {"test_reduce_mean_do_not_keepdims_random", "only a 4-D (NCHW) input"},
    {"test_reduce_mean_keepdims_example", "only a 4-D (NCHW) input"},
    {"test_reduce_mean_keepdims_random", "only a 4-D (NCHW) input"},
    {"test_reduce_mean_negative_axes_keepdims_example", "only a 4-D (NCHW) input"},
    {"test_reduce_mean_negative_axes_keepdims_random", "only a 4-D (NCHW) input"},
    // A graph of one Constant has no runtime input and no operator to run.
    {"test_constant", "the graph has no runtime input"},
};

fs::path node_test_dir() {
    return fs::path(RMVK_ONNX_NODE_TEST_DIR);
}

bool all_nodes_supported(const onnx::ModelProto& m) {
    const auto& names = rm::onnx_operator_names();
    for (const auto& n : m.graph().node())
        if (!n.domain().empty() ||
            std::find(names.begin(), names.end(), n.op_type()) == names.end())
            return false;
    return !m.graph().node().empty();
}

onnx::TensorProto read_tensor_proto(const fs::path& path) {
    onnx::TensorProto t;
    std::ifstream f(path, std::ios::binary);
    REQUIRE_MESSAGE((f && t.ParseFromIstream(&f)), "cannot read " << path);
    return t;
}

rm::Tensor float_tensor(const onnx::TensorProto& t, const std::string& where) {
    rm::onnx_detail::Constant c = rm::onnx_detail::decode_tensor(t, where, "");
    REQUIRE_MESSAGE(c.is_float, where << " is not a float tensor");
    return c.values;
}

struct Case {
    std::string name;
    rm::Graph graph;
    std::map<std::string, rm::Tensor> inputs;
    std::vector<rm::Tensor> outputs;  // in graph output order
    bool weights_baked = false;       // inputs after the first became initializers
};

// The test's values of the inputs after the first that `bake` picks, as initializers.
onnx::ModelProto with_constant_inputs(const onnx::ModelProto& m, const fs::path& data,
                                      bool (*bake)(const onnx::ValueInfoProto&)) {
    onnx::ModelProto out = m;
    for (int i = 1; i < m.graph().input_size(); ++i) {
        if (!bake(m.graph().input(i))) continue;
        onnx::TensorProto t = read_tensor_proto(data / ("input_" + std::to_string(i) + ".pb"));
        t.set_name(m.graph().input(i).name());
        *out.mutable_graph()->add_initializer() = t;
    }
    return out;
}

// Loads a case. rmvk takes integer tensors only as constants (Reshape's shape), and some
// operators' parameters too (Conv weights, BN statistics): the test's int64 inputs become
// initializers, and if rmvk still asks for constants, every input after the first does.
// Returns the refusal message, or "" when the case loaded.
std::string load_case(const fs::path& dir, Case& c) {
    onnx::ModelProto m;
    {
        std::ifstream f(dir / "model.onnx", std::ios::binary);
        REQUIRE(m.ParseFromIstream(&f));
    }
    const fs::path data = dir / "test_data_set_0";
    auto load = [&](const onnx::ModelProto& model) {
        const std::string bytes = model.SerializeAsString();
        return rm::load_onnx_bytes(bytes.data(), bytes.size(), c.name);
    };
    m = with_constant_inputs(m, data, [](const onnx::ValueInfoProto& v) {
        return v.type().tensor_type().elem_type() == onnx::TensorProto::INT64;
    });
    try {
        try {
            c.graph = load(m);
        } catch (const rm::Error& e) {
            if (std::string(e.what()).find("must be a constant") == std::string::npos) throw;
            c.graph = load(with_constant_inputs(m, data, [](const onnx::ValueInfoProto& v) {
                return v.type().tensor_type().elem_type() == onnx::TensorProto::FLOAT;
            }));
            c.weights_baked = true;
        }
    } catch (const rm::Error& e) {
        return e.what();
    }
    for (int i = 0; i < m.graph().input_size(); ++i) {
        const std::string& name = m.graph().input(i).name();
        const auto& ins = c.graph.inputs;
        if (std::none_of(ins.begin(), ins.end(), [&](const auto& v) { return v.name == name; }))
            continue;  // made a constant above
        const fs::path p = data / ("input_" + std::to_string(i) + ".pb");
        c.inputs[name] = float_tensor(read_tensor_proto(p), p.string());
    }
    for (int i = 0; i < m.graph().output_size(); ++i) {
        const fs::path p = data / ("output_" + std::to_string(i) + ".pb");
        c.outputs.push_back(float_tensor(read_tensor_proto(p), p.string()));
    }
    return "";
}

// Every case whose operators rmvk reads: the loaded ones in `accepted`, the others with their
// refusal checked against kRefused.
std::vector<Case> accepted_cases() {
    const fs::path root = node_test_dir();
    REQUIRE_MESSAGE(fs::is_directory(root),
                    root << " is missing: install libonnx-testdata (.ci/install-deps)");
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(root))
        if (fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    std::vector<Case> accepted;
    std::map<std::string, std::string> refused;
    for (const auto& dir : dirs) {
        onnx::ModelProto m;
        std::ifstream f(dir / "model.onnx", std::ios::binary);
        if (!m.ParseFromIstream(&f) || !all_nodes_supported(m)) continue;
        Case c;
        c.name = dir.filename().string();
        const std::string why = load_case(dir, c);
        if (why.empty())
            accepted.push_back(std::move(c));
        else
            refused[c.name] = why;
    }
    std::string listing;
    for (const auto& [name, why] : refused) {
        listing += "\n  " + name + ": " + why;
        auto it = kRefused.find(name);
        CHECK_MESSAGE(it != kRefused.end(),
                      name << " is refused for a reason not understood: " << why);
        if (it != kRefused.end())
            CHECK_MESSAGE(why.find(it->second) != std::string::npos, name << ": refused with '"
                                                                          << why << "', expected '"
                                                                          << it->second << "'");
    }
    for (const auto& [name, why] : kRefused)
        CHECK_MESSAGE(refused.count(name), name << " is listed as refused but was not");
    const auto baked = std::count_if(accepted.begin(), accepted.end(),
                                     [](const Case& c) { return c.weights_baked; });
    MESSAGE(accepted.size() << " node tests accepted (" << baked
                            << " with their parameter inputs as constants), " << refused.size()
                            << " refused:" << listing);
    CHECK(accepted.size() >= 88);
    return accepted;
}

void check_outputs(const Case& c, const std::map<std::string, rm::Tensor>& got,
                   const std::string& where) {
    REQUIRE(c.graph.outputs.size() == c.outputs.size());
    for (size_t i = 0; i < c.outputs.size(); ++i) {
        CAPTURE(c.graph.outputs[i]);
        const double err = max_relative_error(got.at(c.graph.outputs[i]), c.outputs[i]);
        CHECK_MESSAGE(err <= kTolerance,
                      c.name << " on " << where << ": max|d|/max|ref| = " << err);
    }
}

}  // namespace

TEST_CASE("ONNX node tests on the CPU reference") {
    for (const Case& c : accepted_cases()) {
        CAPTURE(c.name);
        check_outputs(c, rm::run_cpu(c.graph, c.inputs), "the CPU");
    }
}

TEST_CASE("ONNX node tests on the Vulkan kernels") {
    auto env = make_gpu_env();
    if (!env) return;
    MESSAGE("device: " << env->context->device().name);
    for (const Case& c : accepted_cases()) {
        CAPTURE(c.name);
        const int64_t batch = c.graph.inputs.at(0).shape.empty() ? 1 : c.graph.inputs[0].shape[0];
        GraphRunner runner(*env->context, c.graph, std::max<int64_t>(batch, 1));
        check_outputs(c, runner.run(c.inputs).outputs, "the GPU");
    }
    check_validation_clean(*env);
}
