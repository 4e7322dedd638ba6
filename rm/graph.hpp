#pragma once
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rm/conv_structure.hpp"
#include "rm/tensor.hpp"

namespace rm {

// The operators rmvk understands. Each has a CPU reference in rm/ and a GPU kernel in the engine.
enum class Op {
    Conv,
    BatchNormalization,
    Relu,
    Add,
    Mul,
    MaxPool,
    AveragePool,
    GlobalAveragePool,
    Flatten,
    Reshape,
    Gemm,
    MatMul,
    Identity,
    Softmax,
    Clip,   // constant bounds, held in Attrs (opset 9 attributes or 11+ inputs)
    PRelu,  // y = x < 0 ? slope * x : x, slope broadcast to x (per channel)
    Max,    // two operands, numpy broadcasting (a constant [1,C,1,1] or scalar)
    Min,
    ReduceMean,  // over H and W only: a global average pool (keepdims 0 drops them)
};

std::string_view op_name(Op op);                        // "Conv"
std::optional<Op> op_from_name(std::string_view name);  // ONNX op_type → Op

// Attributes of all operators in one plain struct; each operator reads only its own fields.
// Spatial attributes are 2-D (H, W). Pads are ONNX order: top, left, bottom, right.
struct Attrs {
    std::vector<int64_t> kernel;  // Conv (from weight if absent), MaxPool, AveragePool
    std::vector<int64_t> strides{1, 1};
    std::vector<int64_t> pads{0, 0, 0, 0};
    std::vector<int64_t> dilations{1, 1};
    std::string auto_pad = "NOTSET";        // resolved into pads by infer_shapes
    int64_t group = 1;                      // Conv
    bool ceil_mode = false;                 // pools
    bool count_include_pad = false;         // AveragePool
    float epsilon = 1e-5f;                  // BatchNormalization
    int64_t axis = 1;                       // Flatten, Softmax
    float alpha = 1.0f, beta = 1.0f;        // Gemm
    bool trans_a = false, trans_b = false;  // Gemm
    std::vector<int64_t> shape;             // Reshape target (constant; 0 copies, -1 infers)
    float clip_min = -std::numeric_limits<float>::infinity();  // Clip
    float clip_max = std::numeric_limits<float>::infinity();
    std::vector<int64_t> axes;  // ReduceMean (as written; infer_shapes checks they are H, W)
    bool keepdims = true;       // ReduceMean
};

// One operator application. Inputs and outputs name tensors; an empty input name is an
// absent optional input. Weights and biases are inputs that name initializers.
struct Node {
    std::string name;
    Op op = Op::Identity;
    std::vector<std::string> inputs;
    std::vector<std::string> outputs;
    Attrs attrs;
};

// A graph input: a name and its declared shape (a negative dimension is symbolic).
struct ValueInfo {
    std::string name;
    Shape shape;
};

// A model: nodes in topological order over named tensors, with constant initializers.
struct Graph {
    std::string name;
    std::vector<ValueInfo> inputs;  // runtime inputs only (initializers are not listed here)
    std::vector<std::string> outputs;
    std::vector<Node> nodes;
    std::unordered_map<std::string, Tensor> initializers;
    // Conv weights held as their structure (conv_structure.hpp) instead of dense values: the
    // plain graph's widened convs. A name is in at most one of the two maps.
    std::unordered_map<std::string, ConvStructure> structured_weights;
    std::map<std::string, std::string> metadata;  // ONNX metadata_props (preprocessing, labels)
    int64_t opset = 0;  // the ONNX opset it was read at; 0: built by rmvk (saved at 13)

    const Node* find_node(std::string_view node_name) const;
    // The node that writes `tensor`, or nullptr for graph inputs and initializers.
    const Node* producer(std::string_view tensor) const;
    // Nodes that read `tensor`, in graph order.
    std::vector<const Node*> consumers(std::string_view tensor) const;
    // Initializers of either kind (dense or structured).
    bool is_initializer(std::string_view tensor) const;
    const Shape* initializer_shape(std::string_view tensor) const;  // nullptr: not one
    const ConvStructure* structure(std::string_view tensor) const;  // nullptr: not structured
    // The dense values of an initializer of either kind (a copy; throws rm::Error if unknown).
    Tensor materialise(std::string_view tensor) const;
};

}  // namespace rm
