// rmvk info: what a model is made of, layer by layer, and which residual blocks RM can remove.
#include <cstdio>
#include <string>

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/warnings.hpp"
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

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char ch : s) {
        unsigned char c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

std::string json_shape(const rm::Shape& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
    return out + "]";
}

std::string shape_of(const rm::ShapeMap& shapes, const std::string& tensor) {
    auto it = shapes.find(tensor);
    return it == shapes.end() ? "?" : rm::to_string(it->second);
}

const char* kind_name(rm::ResidualBlock::Kind k) {
    return k == rm::ResidualBlock::Kind::Basic ? "BasicBlock" : "Bottleneck";
}

// Groups digits for tables a person reads: 11689512 -> "11,689,512".
std::string grouped(int64_t v) {
    std::string s = std::to_string(v);
    for (int i = static_cast<int>(s.size()) - 3; i > (v < 0 ? 1 : 0); i -= 3) s.insert(i, ",");
    return s;
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
                    grouped(c.params).c_str(), grouped(c.macs).c_str());
    }
    std::printf("\ntotal: %zu nodes, %s params (%.2fM), %s MACs (%.3f GMACs)\n", g.nodes.size(),
                grouped(m.cost.total_params).c_str(), m.cost.total_params / 1e6,
                grouped(m.cost.total_macs).c_str(), m.cost.total_macs / 1e9);

    int convertible = 0;
    for (const auto& b : m.blocks) convertible += b.convertible;
    std::printf("\nresidual blocks: %zu found, %d convertible\n", m.blocks.size(), convertible);
    for (const auto& b : m.blocks) {
        std::printf("  %-20s %-10s stride %lld%s%s  %s%s\n", b.name.c_str(), kind_name(b.kind),
                    static_cast<long long>(b.stride),
                    b.projection ? ", projection shortcut" : ", identity shortcut",
                    b.groups > 1 ? (", groups " + std::to_string(b.groups)).c_str() : "",
                    b.convertible ? "convertible" : "NOT convertible: ",
                    b.convertible ? "" : b.reason.c_str());
    }
}

void print_json(const ModelInfo& m) {
    const rm::Graph& g = m.graph;
    std::string o = "{\n  \"model\": " + json_string(g.name) + ",\n  \"source\": " +
                    json_string(m.spec.empty() ? rm::default_model_path() : m.spec) +
                    ",\n  \"opset\": " + std::to_string(g.opset) + ",\n  \"inputs\": [";
    for (size_t i = 0; i < g.inputs.size(); ++i) {
        auto it = m.shapes.find(g.inputs[i].name);
        o += std::string(i ? ", " : "") + "{\"name\": " + json_string(g.inputs[i].name) +
             ", \"shape\": " + json_shape(it == m.shapes.end() ? g.inputs[i].shape : it->second) +
             "}";
    }
    o += "],\n  \"outputs\": [";
    for (size_t i = 0; i < g.outputs.size(); ++i) {
        auto it = m.shapes.find(g.outputs[i]);
        o += std::string(i ? ", " : "") + "{\"name\": " + json_string(g.outputs[i]) +
             ", \"shape\": " + json_shape(it == m.shapes.end() ? rm::Shape{} : it->second) + "}";
    }
    o += "],\n  \"layers\": [\n";
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const rm::Node& n = g.nodes[i];
        const rm::NodeCost& c = m.cost.nodes.at(i);
        auto it = n.outputs.empty() ? m.shapes.end() : m.shapes.find(n.outputs[0]);
        o += "    {\"node\": " + json_string(n.name) +
             ", \"op\": " + json_string(std::string(rm::op_name(n.op))) +
             ", \"output_shape\": " + json_shape(it == m.shapes.end() ? rm::Shape{} : it->second) +
             ", \"params\": " + std::to_string(c.params) + ", \"macs\": " + std::to_string(c.macs) +
             "}" + (i + 1 < g.nodes.size() ? ",\n" : "\n");
    }
    o += "  ],\n  \"total_params\": " + std::to_string(m.cost.total_params) +
         ",\n  \"total_macs\": " + std::to_string(m.cost.total_macs) + ",\n  \"blocks\": [\n";
    for (size_t i = 0; i < m.blocks.size(); ++i) {
        const auto& b = m.blocks[i];
        o += "    {\"name\": " + json_string(b.name) +
             ", \"kind\": " + json_string(kind_name(b.kind)) +
             ", \"input\": " + json_string(b.input) + ", \"output\": " + json_string(b.output) +
             ", \"stride\": " + std::to_string(b.stride) +
             ", \"groups\": " + std::to_string(b.groups) +
             ", \"projection\": " + (b.projection ? "true" : "false") +
             ", \"input_non_negative\": " + (b.input_non_negative ? "true" : "false") +
             ", \"convertible\": " + (b.convertible ? "true" : "false") +
             ", \"reason\": " + json_string(b.reason) + "}" +
             (i + 1 < m.blocks.size() ? ",\n" : "\n");
    }
    o += "  ]\n}\n";
    std::fputs(o.c_str(), stdout);
}

}  // namespace

int cmd_info(const std::vector<std::string>& argv) {
    Args args(argv, {"--batch"}, {"--json"});
    if (args.help()) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (args.positional().size() > 1) throw UsageError("expected at most one MODEL");
    const int64_t batch = args.get_int("--batch", 0);
    if (args.has("--batch") && (batch < 1 || batch > 4096))
        throw UsageError("--batch must be between 1 and 4096");

    ModelInfo m;
    m.spec = args.positional().empty() ? "" : args.positional()[0];
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
