#pragma once
// Hand-made models for the ONNX tests: an rm::Graph using every operator, and raw ONNX
// protobufs that rmvk's own saver would never write (unsupported ops, corrupt tensors).
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "onnx/onnx_pb.h"
#include "rm/graph.hpp"

namespace rmtest {

inline rm::Tensor random_tensor(rm::Shape shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    rm::Tensor t(std::move(shape));
    for (auto& v : t.data) v = dist(gen);
    return t;
}

// Every operator rmvk knows, with non-default attributes: input [N, 3, 9, 11] (symbolic N).
inline rm::Graph every_op_graph() {
    using rm::Op;
    rm::Graph g;
    g.name = "every_op";
    g.inputs.push_back({"x", {-1, 3, 9, 11}});
    g.outputs = {"prob"};
    g.metadata["labels"] = "a,b,c,d,e";
    g.metadata["mean"] = "0.5";
    g.initializers["w1"] = random_tensor({4, 3, 3, 3}, 1);
    g.initializers["b1"] = random_tensor({4}, 2);
    g.initializers["gamma"] = random_tensor({4}, 3, 0.5f, 1.5f);
    g.initializers["beta"] = random_tensor({4}, 4);
    g.initializers["mean"] = random_tensor({4}, 5);
    g.initializers["var"] = random_tensor({4}, 6, 0.5f, 2.0f);
    g.initializers["w2"] = random_tensor({4, 2, 1, 1}, 7);
    g.initializers["fc_w"] = random_tensor({5, 4}, 8);
    g.initializers["fc_b"] = random_tensor({5}, 9);
    g.initializers["channel_scale"] = random_tensor({4, 1, 1}, 10);
    auto add = [&](std::string name, Op op, std::vector<std::string> in,
                   std::string out) -> rm::Attrs& {
        g.nodes.push_back({std::move(name), op, std::move(in), {std::move(out)}, {}});
        return g.nodes.back().attrs;
    };
    auto& conv = add("conv1", Op::Conv, {"x", "w1", "b1"}, "c1");  // -> [N, 4, 5, 5]
    conv.kernel = {3, 3};
    conv.strides = {2, 2};
    conv.pads = {1, 0, 2, 1};
    add("bn1", Op::BatchNormalization, {"c1", "gamma", "beta", "mean", "var"}, "bn").epsilon =
        1e-3f;
    add("relu1", Op::Relu, {"bn"}, "r1");
    auto& mp = add("maxpool", Op::MaxPool, {"r1"}, "mp");  // ceil: -> [N, 4, 3, 3]
    mp.kernel = {2, 2};
    mp.strides = {2, 2};
    mp.ceil_mode = true;
    auto& ap = add("avgpool", Op::AveragePool, {"mp"}, "ap");  // -> [N, 4, 3, 3]
    ap.kernel = {3, 3};
    ap.pads = {1, 1, 1, 1};
    ap.count_include_pad = true;
    add("add", Op::Add, {"mp", "ap"}, "sum");
    add("scale", Op::Mul, {"sum", "channel_scale"}, "scaled");
    auto& gconv = add("conv2", Op::Conv, {"scaled", "w2"}, "c2");
    gconv.kernel = {1, 1};
    gconv.group = 2;
    add("gap", Op::GlobalAveragePool, {"c2"}, "gap");
    add("flatten", Op::Flatten, {"gap"}, "flat");  // [N, 4]
    add("reshape", Op::Reshape, {"flat"}, "flat2").shape = {0, -1};
    auto& gemm = add("fc", Op::Gemm, {"flat2", "fc_w", "fc_b"}, "logits");
    gemm.trans_b = true;
    gemm.alpha = 0.5f;
    gemm.beta = 2.0f;
    add("copy", Op::Identity, {"logits"}, "logits2");
    add("softmax", Op::Softmax, {"logits2"}, "prob").axis = -1;
    return g;
}

// A minimal valid ONNX model: x [1, 3, 8, 8] -> Conv(w [4, 3, 3, 3], pad 1) -> Relu -> y.
inline onnx::ModelProto tiny_model(int64_t opset = 13) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(opset);
    auto* g = m.mutable_graph();
    g->set_name("tiny");
    auto* in = g->add_input();
    in->set_name("x");
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : {1, 3, 8, 8}) tt->mutable_shape()->add_dim()->set_dim_value(d);
    g->add_output()->set_name("y");
    auto* w = g->add_initializer();
    w->set_name("w");
    w->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : {4, 3, 3, 3}) w->add_dims(d);
    for (int i = 0; i < 4 * 3 * 3 * 3; ++i) w->add_float_data(0.01f * static_cast<float>(i % 7));
    auto* conv = g->add_node();
    conv->set_name("conv");
    conv->set_op_type("Conv");
    conv->add_input("x");
    conv->add_input("w");
    conv->add_output("c");
    auto* pads = conv->add_attribute();
    pads->set_name("pads");
    pads->set_type(onnx::AttributeProto::INTS);
    for (int i = 0; i < 4; ++i) pads->add_ints(1);
    auto* relu = g->add_node();
    relu->set_name("relu");
    relu->set_op_type("Relu");
    relu->add_input("c");
    relu->add_output("y");
    return m;
}

inline std::string bytes_of(const onnx::ModelProto& m) {
    return m.SerializeAsString();
}

inline std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace rmtest
