#pragma once
// Shared by the GPU tests: a validated Context (validation layers on, every message recorded),
// single-node graphs, small built-in ResNets, random tensors and the error measures the tests
// assert on.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "app/engine/engine.hpp"
#include "app/vulkan/vulkan_error.hpp"
#include "rm/compare.hpp"
#include "rm/resnet_builder.hpp"
#include "tensor_test_util.hpp"

namespace rmvk::test {

// The Context the GPU tests run on, with VK_LAYER_KHRONOS_validation; nullptr (and a message)
// when this machine has no Vulkan device, which is a failure under CI=true.
struct GpuEnv {
    std::unique_ptr<Context> context;
    std::vector<std::string> messages;
};

inline std::unique_ptr<GpuEnv> make_gpu_env(const std::string& device = "") {
    auto env = std::make_unique<GpuEnv>();
    ContextOptions options;
    options.device = device;
    options.validation = true;
    GpuEnv* raw = env.get();
    options.on_message = [raw](const std::string& m) { raw->messages.push_back(m); };
    bool ci = std::getenv("CI") && std::strcmp(std::getenv("CI"), "true") == 0;
    if (list_devices().empty()) {
        if (ci) FAIL("no Vulkan device (CI=true: a missing device is a failure)");
        MESSAGE("no Vulkan device: GPU test skipped");
        return nullptr;
    }
    env->context = std::make_unique<Context>(options);
    return env;
}

// Fails the test on any validation message.
inline void check_validation_clean(const GpuEnv& env) {
    for (const auto& m : env.messages) MESSAGE("validation: " << m);
    CHECK(env.messages.size() == 0);
    CHECK(env.context->validation_message_count() == 0);
}

inline rm::Tensor random_tensor(const rm::Shape& shape, uint32_t seed, float lo = -1.0f,
                                float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    rm::Tensor t(shape);
    for (auto& v : t.data) v = dist(rng);
    return t;
}

// max |got - want| / max |want|: the largest error relative to the reference's magnitude.
inline double max_relative_error(const rm::Tensor& got, const rm::Tensor& want) {
    REQUIRE(got.shape == want.shape);
    return rm::compare_outputs(want, got).relative_error();
}

constexpr double kTolerance = 1e-4;

// A built-in ResNet narrow enough (stage widths 8 to 64, 10 classes) for a CPU device.
inline rm::Graph small_resnet(const std::string& arch, int64_t height = 40, int64_t width = 36,
                              uint64_t seed = 5) {
    rm::ResNetConfig c;
    c.arch = arch;
    c.base_width = 8;
    c.input_height = height;
    c.input_width = width;
    c.num_classes = 10;
    c.seed = seed;
    return rm::build_resnet(c);
}

// A graph of one node reading input "x" (and more inputs/initializers) and writing "y".
inline rm::Graph single_node_graph(rm::Op op, const rm::Shape& x_shape,
                                   std::vector<std::string> inputs,
                                   std::unordered_map<std::string, rm::Tensor> initializers,
                                   rm::Attrs attrs = {},
                                   std::vector<rm::ValueInfo> extra_inputs = {}) {
    rm::Graph g;
    g.name = "test";
    g.inputs.push_back({"x", x_shape});
    for (auto& e : extra_inputs) g.inputs.push_back(e);
    rm::Node n;
    n.name = "node";
    n.op = op;
    n.inputs = std::move(inputs);
    n.outputs = {"y"};
    n.attrs = std::move(attrs);
    g.nodes.push_back(n);
    g.outputs = {"y"};
    g.initializers = std::move(initializers);
    return g;
}

// A conv's random operands, seeded by its shape (seed, seed + 1, seed + 2: more operands take
// the next seeds), and the one-node graph that applies it to input "x" with initializers "w"
// and (with `bias`) "b", writing "y". `extra_inputs` as for single_node_graph.
struct ConvOperands {
    rm::Tensor x, w, b;
    rm::Graph graph;
    uint32_t seed = 0;
};
inline ConvOperands random_conv(const rm::Shape& x_shape, int64_t oc, const rm::Attrs& a, bool bias,
                                std::vector<rm::ValueInfo> extra_inputs = {}) {
    const int64_t c = x_shape.at(1), h = x_shape.at(2);
    const uint32_t seed = static_cast<uint32_t>(c * 131 + oc * 7 + h);
    ConvOperands o;
    o.seed = seed;
    o.x = random_tensor(x_shape, seed);
    o.w = random_tensor({oc, c / a.group, a.kernel.at(0), a.kernel.at(1)}, seed + 1);
    o.b = random_tensor({oc}, seed + 2);
    std::unordered_map<std::string, rm::Tensor> init{{"w", o.w}};
    std::vector<std::string> inputs{"x", "w"};
    if (bias) {
        init["b"] = o.b;
        inputs.push_back("b");
    }
    o.graph = single_node_graph(rm::Op::Conv, x_shape, inputs, init, a, std::move(extra_inputs));
    return o;
}

// Runs a graph on the GPU: its outputs and per-node timings (with dispatch counts).
inline RunResult run_gpu_result(Context& ctx, const rm::Graph& g,
                                const std::map<std::string, rm::Tensor>& inputs, int64_t batch,
                                RunOptions options = {}) {
    GraphRunner runner(ctx, g, batch, options);
    return runner.run(inputs);
}

// Runs a graph on the GPU and returns output "y".
inline rm::Tensor run_gpu(Context& ctx, const rm::Graph& g,
                          const std::map<std::string, rm::Tensor>& inputs, int64_t batch,
                          RunOptions options = {}) {
    GraphRunner runner(ctx, g, batch, options);
    return runner.run(inputs).outputs.at(g.outputs.at(0));
}

}  // namespace rmvk::test
