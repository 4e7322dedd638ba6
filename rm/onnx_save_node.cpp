// Writing one rm::Node as an ONNX NodeProto at a given opset (attributes, and the inputs
// that later opsets take as tensors), and graph inputs/outputs as ValueInfoProtos.
#include "rm/onnx_save_node.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "rm/error.hpp"

namespace rm::onnx_detail {

namespace {

void set_ints(onnx::NodeProto& n, const char* name, const std::vector<int64_t>& v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
}
void set_int(onnx::NodeProto& n, const char* name, int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}
void set_float(onnx::NodeProto& n, const char* name, float v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
}
void set_string(onnx::NodeProto& n, const char* name, const std::string& v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
}

void set_padding(onnx::NodeProto& p, const Attrs& a) {
    if (a.auto_pad != "NOTSET")
        set_string(p, "auto_pad", a.auto_pad);
    else
        set_ints(p, "pads", a.pads);
}

// A 1-D int64 initializer (Reshape's shape, ReduceMean's axes from opset 18 on).
void add_int64_initializer(onnx::GraphProto& g, const std::string& name,
                           const std::vector<int64_t>& values) {
    auto* t = g.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
}

std::string unique_name(std::string base, std::unordered_set<std::string>& taken) {
    std::string name = base;
    for (int i = 1; taken.count(name); ++i) name = base + "_" + std::to_string(i);
    taken.insert(name);
    return name;
}

}  // namespace

void write_node(const Graph& graph, const Node& n, int64_t opset, const ShapeMap& shapes,
                onnx::GraphProto& g, std::unordered_set<std::string>& taken) {
    auto fail = [&](const std::string& what) {
        throw Error("node '" + n.name + "' (" + std::string(op_name(n.op)) + "): " + what);
    };
    const std::string at_opset = " at opset " + std::to_string(opset);
    auto input_shape = [&]() -> const Shape& {
        auto it = n.inputs.empty() ? shapes.end() : shapes.find(n.inputs[0]);
        if (it == shapes.end())
            fail("the input's shape is unknown, and" + at_opset + " it is needed");
        return it->second;
    };
    // Negative axes exist from opset 11 on; before, count from the front.
    auto written_axis = [&](int64_t axis) {
        if (axis >= 0 || opset >= 11) return axis;
        return axis + static_cast<int64_t>(input_shape().size());
    };
    onnx::NodeProto& p = *g.add_node();
    p.set_name(n.name);
    p.set_op_type(std::string(op_name(n.op)));
    for (const auto& in : n.inputs) p.add_input(in);
    for (const auto& out : n.outputs) p.add_output(out);
    const Attrs& a = n.attrs;
    switch (n.op) {
        case Op::Conv: {
            std::vector<int64_t> kernel = a.kernel;
            if (kernel.empty() && n.inputs.size() > 1) {
                const Shape* w = graph.initializer_shape(n.inputs[1]);
                if (w && w->size() == 4) kernel = {(*w)[2], (*w)[3]};
            }
            if (!kernel.empty()) set_ints(p, "kernel_shape", kernel);
            set_ints(p, "strides", a.strides);
            set_padding(p, a);
            set_ints(p, "dilations", a.dilations);
            set_int(p, "group", a.group);
            break;
        }
        case Op::BatchNormalization:
            set_float(p, "epsilon", a.epsilon);
            break;
        case Op::MaxPool:
        case Op::AveragePool:
            set_ints(p, "kernel_shape", a.kernel);
            set_ints(p, "strides", a.strides);
            set_padding(p, a);
            if (a.ceil_mode) {
                if (opset < 10) fail("ceil_mode needs opset 10 or later");
                set_int(p, "ceil_mode", 1);
            }
            if (n.op == Op::AveragePool && a.count_include_pad) set_int(p, "count_include_pad", 1);
            if (n.op == Op::MaxPool && a.dilations != std::vector<int64_t>{1, 1}) {
                if (opset < 10) fail("pool dilations need opset 10 or later");
                set_ints(p, "dilations", a.dilations);
            }
            break;
        case Op::Flatten:
            set_int(p, "axis", written_axis(a.axis));
            break;
        case Op::Softmax: {
            if (opset < 13) {
                // Softmax-1/11 normalizes all the axes from `axis` on together: the same only
                // when the later ones have size 1.
                const Shape& x = input_shape();
                const int64_t axis = a.axis < 0 ? a.axis + static_cast<int64_t>(x.size()) : a.axis;
                for (size_t i = static_cast<size_t>(axis) + 1; i < x.size(); ++i)
                    if (x[i] != 1)
                        fail("a Softmax along axis " + std::to_string(a.axis) + " of a " +
                             to_string(x) + " tensor cannot be written" + at_opset +
                             " (before 13 Softmax normalizes all axes from its axis on); save "
                             "at opset 13 or later");
            }
            set_int(p, "axis", written_axis(a.axis));
            break;
        }
        case Op::Gemm:
            set_float(p, "alpha", a.alpha);
            set_float(p, "beta", a.beta);
            set_int(p, "transA", a.trans_a ? 1 : 0);
            set_int(p, "transB", a.trans_b ? 1 : 0);
            if (opset < 11 && (n.inputs.size() < 3 || n.inputs[2].empty())) {
                // C is optional from Gemm-11 on; before, a zero C means the same.
                const std::string c_name = unique_name(n.name + "_zero_c", taken);
                while (p.input_size() > 2) p.mutable_input()->RemoveLast();
                p.add_input(c_name);
                auto* t = g.add_initializer();
                t->set_name(c_name);
                t->set_data_type(onnx::TensorProto::FLOAT);
                t->add_dims(1);
                t->add_float_data(0.0f);
            }
            break;
        case Op::Reshape: {
            // rmvk keeps the target shape as an attribute; ONNX wants it as an int64 input.
            const std::string shape_name =
                unique_name(n.name.empty() ? "reshape_shape" : n.name + "_shape", taken);
            while (p.input_size() > 1) p.mutable_input()->RemoveLast();
            p.add_input(shape_name);
            add_int64_initializer(g, shape_name, a.shape);
            break;
        }
        case Op::Clip: {
            // Clip-6 takes its bounds as attributes (no infinities: they default to the
            // largest float), Clip-11 on as optional scalar inputs.
            if (opset < 11) {
                const float big = std::numeric_limits<float>::max();
                set_float(p, "min", std::max(a.clip_min, -big));
                set_float(p, "max", std::min(a.clip_max, big));
                break;
            }
            auto bound = [&](float v, const char* what) -> std::string {
                if (std::isinf(v)) return "";
                const std::string name = unique_name(n.name + "_" + what, taken);
                auto* t = g.add_initializer();
                t->set_name(name);
                t->set_data_type(onnx::TensorProto::FLOAT);
                t->add_float_data(v);
                return name;
            };
            const std::string lo = bound(a.clip_min, "min"), hi = bound(a.clip_max, "max");
            if (!lo.empty() || !hi.empty()) p.add_input(lo);
            if (!hi.empty()) p.add_input(hi);
            break;
        }
        case Op::ReduceMean:
            set_int(p, "keepdims", a.keepdims ? 1 : 0);
            if (opset < 18) {
                std::vector<int64_t> axes;
                for (int64_t d : a.axes) axes.push_back(written_axis(d));
                set_ints(p, "axes", axes);
            } else {
                const std::string axes = unique_name(n.name + "_axes", taken);
                p.add_input(axes);
                add_int64_initializer(g, axes, a.axes);
            }
            break;
        case Op::PRelu:
        case Op::Max:
        case Op::Min:
        case Op::Relu:
        case Op::Add:
        case Op::Mul:
        case Op::GlobalAveragePool:
        case Op::MatMul:
        case Op::Identity:
            break;
    }
}

void set_value_info(onnx::ValueInfoProto& vi, const std::string& name, const Shape* shape,
                    bool symbolic_batch) {
    vi.set_name(name);
    auto* tt = vi.mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    if (!shape) return;
    auto* s = tt->mutable_shape();
    for (size_t i = 0; i < shape->size(); ++i) {
        auto* d = s->add_dim();
        if ((*shape)[i] < 0 || (i == 0 && symbolic_batch))
            d->set_dim_param("N");
        else
            d->set_dim_value((*shape)[i]);
    }
}

}  // namespace rm::onnx_detail
