// rmvk info: what a model is made of, layer by layer, and which residual blocks RM can remove.
#include <cstdio>
#include <string>

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/warnings.hpp"
#include "app/report/json_text.hpp"
#include "rm/cost.hpp"
#include "rm/model_loader.hpp"
#include "rm/residual_blocks.hpp"
#include "rm/shape_inference.hpp"

namespace rmvk::cli {

namespace {

constexpr const char* kUsage =
    "usage: rmvk info [MODEL] [--json] [--batch N]\n"
    "\n"
    "Prints a model's inputs and outputs, a per-layer table (node, operator, output shape,\n"
    "parameters, multiply-accumulates), totals, and the residual blocks found with whether\n"
    "each can be converted to a plain Conv-ReLU chain (and why not).\n"
    "\n"
    "  MODEL      a .onnx file (ONNX opsets 7-21) or builtin:NAME; omitted: the bundled\n"
    "             default model\n"
    "  --json     print the same as one JSON object\n"
    "  --batch N  batch size for shapes and MACs (default: the model's, or 1)\n";

std::string shape_of(const rm::ShapeMap& shapes, const std::string& tensor) {
    auto it = shapes.find(tensor);
    return it == shapes.end() ? "?" : rm::to_string(it->second);
}

const char* kind_name(rm::ResidualBlock::Kind k) {
    return k == rm::ResidualBlock::Kind::Basic ? "BasicBlock" : "Bottleneck";
}

struct ModelInfo {
    std::string spec;
    rm::Graph graph;
    rm::ShapeMap shapes;
    rm::GraphCost cost;
    std::vector<rm::ResidualBlock> blocks;
};

void print_text(const ModelInfo& m) {
    const rm::Graph& g = m.graph;
    std::printf("model: %s%s%s\n", g.name.empty() ? "(unnamed)" : g.name.c_str(),
                m.spec.empty() ? " (bundled default)" : "  from ", m.spec.c_str());
    if (g.opset) std::printf("ONNX opset: %lld\n", static_cast<long long>(g.opset));
    std::printf("inputs:\n");
    for (const auto& in : g.inputs)
        std::printf("  %-24s %s\n", in.name.c_str(), shape_of(m.shapes, in.name).c_str());
    std::printf("outputs:\n");
    for (const auto& out : g.outputs)
        std::printf("  %-24s %s\n", out.c_str(), shape_of(m.shapes, out).c_str());

    std::printf("\n%-32s %-19s %-20s %12s %16s\n", "node", "op", "output shape", "params", "MACs");
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const rm::Node& n = g.nodes[i];
        const rm::NodeCost& c = m.cost.nodes.at(i);
        std::printf("%-32s %-19s %-20s %12s %16s\n", n.name.c_str(),
                    std::string(rm::op_name(n.op)).c_str(),
                    n.outputs.empty() ? "" : shape_of(m.shapes, n.outputs[0]).c_str(),
                    rm::grouped_digits(c.params).c_str(), rm::grouped_digits(c.macs).c_str());
    }
    std::printf("\ntotal: %zu nodes, %s params (%.2fM), %s MACs (%.3f GMACs)\n", g.nodes.size(),
                rm::grouped_digits(m.cost.total_params).c_str(), m.cost.total_params / 1e6,
                rm::grouped_digits(m.cost.total_macs).c_str(), m.cost.total_macs / 1e9);

    int convertible = 0;
    for (const auto& b : m.blocks) convertible += b.convertible;
    std::printf("\nresidual blocks: %zu found, %d convertible\n", m.blocks.size(), convertible);
    for (const auto& b : m.blocks) {
        std::string shape = b.projection ? ", projection shortcut" : ", identity shortcut";
        if (b.groups > 1) shape += ", groups " + std::to_string(b.groups);
        if (b.pre_activation) shape += ", pre-activation";
        if (b.relu_node.empty()) shape += ", no activation after the Add";
        if (b.padding_channels)
            shape += ", reserve padded by " + std::to_string(b.padding_channels) + " channels";
        std::printf("  %-20s %-10s stride %lld%s  %s%s\n", b.name.c_str(), kind_name(b.kind),
                    static_cast<long long>(b.stride), shape.c_str(),
                    b.convertible ? "convertible" : "NOT convertible: ",
                    b.convertible ? "" : b.reason.c_str());
    }
}

void print_json(const ModelInfo& m) {
    const rm::Graph& g = m.graph;
    auto shape = [&](const std::string& tensor, const rm::Shape& fallback) {
        auto it = m.shapes.find(tensor);
        return it == m.shapes.end() ? fallback : it->second;
    };
    Json o{{"model", g.name},
           {"source", m.spec.empty() ? rm::default_model_path() : m.spec},
           {"opset", g.opset}};
    o["inputs"] = Json::array();
    for (const auto& in : g.inputs)
        o["inputs"].push_back({{"name", in.name}, {"shape", shape(in.name, in.shape)}});
    o["outputs"] = Json::array();
    for (const auto& out : g.outputs)
        o["outputs"].push_back({{"name", out}, {"shape", shape(out, {})}});
    o["layers"] = Json::array();
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const rm::Node& n = g.nodes[i];
        const rm::NodeCost& c = m.cost.nodes.at(i);
        o["layers"].push_back(
            {{"node", n.name},
             {"op", std::string(rm::op_name(n.op))},
             {"output_shape", n.outputs.empty() ? rm::Shape{} : shape(n.outputs[0], {})},
             {"params", c.params},
             {"macs", c.macs}});
    }
    o["total_params"] = m.cost.total_params;
    o["total_macs"] = m.cost.total_macs;
    o["blocks"] = Json::array();
    for (const auto& b : m.blocks)
        o["blocks"].push_back({{"name", b.name},
                               {"kind", kind_name(b.kind)},
                               {"input", b.input},
                               {"output", b.output},
                               {"stride", b.stride},
                               {"groups", b.groups},
                               {"projection", b.projection},
                               {"input_non_negative", b.input_non_negative},
                               {"pre_activation", b.pre_activation},
                               {"post_activation", !b.relu_node.empty()},
                               {"padding_channels", b.padding_channels},
                               {"convertible", b.convertible},
                               {"reason", b.reason}});
    std::fputs((o.dump(2) + "\n").c_str(), stdout);
}

}  // namespace

int cmd_info(const std::vector<std::string>& argv) {
    Args args(argv, {"--batch"}, {"--json"});
    if (args.help()) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    const std::string model = model_argument(args);
    const int64_t batch = args.get_int("--batch", 0);
    if (args.has("--batch") && (batch < 1 || batch > 4096))
        throw UsageError("--batch must be between 1 and 4096");

    ModelInfo m;
    m.spec = model;
    m.graph = rm::load_model(m.spec);
    warn_non_finite_weights("info", m.graph);
    m.shapes = rm::infer_shapes(m.graph, batch);
    m.cost = rm::compute_cost(m.graph, m.shapes);
    m.blocks = rm::find_residual_blocks(m.graph);
    if (args.has("--json"))
        print_json(m);
    else
        print_text(m);
    return 0;
}

}  // namespace rmvk::cli
