#include "rm/explain_pixel.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "rm/error.hpp"

namespace rm {

namespace {

// The tensor, held: the lookup may have read it back for this call only.
std::shared_ptr<const Tensor> tensor(const TensorLookup& tensors, const std::string& name,
                                     const char* graph) {
    auto t = tensors(name);
    if (!t || t->shape.size() != 4)
        throw Error(std::string("the ") + graph + " run kept no feature map '" + name + "'");
    return t;
}

double at(const Tensor& t, int64_t c, int64_t y, int64_t x) {
    const Shape& s = t.shape;
    if (c < 0 || c >= s[1] || y < 0 || y >= s[2] || x < 0 || x >= s[3]) return 0.0;
    return t.data[size_t(((c * s[2]) + y) * s[3] + x)];
}

std::string position(int64_t c, int64_t y, int64_t x) {
    return "[" + std::to_string(c) + ", " + std::to_string(y) + ", " + std::to_string(x) + "]";
}

const std::string& output_of(const Graph& g, const std::string& node) {
    const Node* n = g.find_node(node);
    if (!n || n->outputs.empty()) throw Error("no node '" + node + "'");
    return n->outputs[0];
}

}  // namespace

TensorLookup lookup_in(const std::map<std::string, Tensor>& tensors) {
    return [&tensors](const std::string& name) -> std::shared_ptr<const Tensor> {
        auto it = tensors.find(name);
        if (it == tensors.end()) return nullptr;
        return {std::shared_ptr<const Tensor>(), &it->second};  // not owning: `tensors` does
    };
}

WorkedPixel work_pixel(const BlockExplanation& e, const Graph& residual, const Graph& plain,
                       const TensorLookup& residual_tensors, const TensorLookup& plain_tensors,
                       int64_t channel, int64_t y, int64_t x) {
    const ResidualBlock& b = e.block;
    const auto out_res_held = tensor(residual_tensors, b.output, "residual");
    const Tensor& out_res = *out_res_held;
    const auto out_plain_held = tensor(plain_tensors, b.output, "plain");
    const Tensor& out_plain = *out_plain_held;
    const Shape& os = out_res.shape;
    if (channel < 0 || channel >= os[1] || y < 0 || y >= os[2] || x < 0 || x >= os[3])
        throw Error("position " + position(channel, y, x) + " is outside the block output " +
                    to_string(os));
    WorkedPixel w;
    w.channel = channel;
    w.y = y;
    w.x = x;

    // Residual: the main branch, the shortcut, their sum and the ReLU.
    const auto f_held =
        tensor(residual_tensors, output_of(residual, b.main_nodes.back()), "residual");
    const Tensor& f = *f_held;
    const std::string sc_name =
        b.shortcut_nodes.empty() ? b.input : output_of(residual, b.shortcut_nodes.back());
    const auto sc_held = tensor(residual_tensors, sc_name, "residual");
    const Tensor& sc = *sc_held;
    const double fv = at(f, channel, y, x), sv = at(sc, channel, y, x);
    w.residual = {{"F(x): main branch " + b.main_nodes.back(), fv},
                  {std::string(b.projection ? "projection shortcut " : "identity shortcut x") +
                       (b.shortcut_nodes.empty() ? "" : b.shortcut_nodes.back()),
                   sv},
                  {"F(x) + shortcut(x)", fv + sv},
                  {"ReLU: block output", at(out_res, channel, y, x)}};
    w.residual_value = at(out_res, channel, y, x);

    // Plain: the last conv' term by term over its input columns.
    std::vector<const Node*> convs;
    for (const auto& name : e.plain_nodes)
        if (const Node* n = plain.find_node(name); n && n->op == Op::Conv) convs.push_back(n);
    if (convs.empty()) throw Error("block '" + b.name + "' has no plain convs");
    const Node& last = *convs.back();
    const ExplainedConv& lw = e.steps.at(3).convs.back();
    const auto in_held = tensor(plain_tensors, last.inputs.at(0), "plain");
    const Tensor& in = *in_held;
    const int64_t cin = e.in_channels, ins = lw.weight.in_channels();
    const int64_t kh = lw.weight.shape.at(2), kw = lw.weight.shape.at(3);
    const auto& a = last.attrs;
    std::vector<float> row = kernel_row(lw.weight, channel, 0, ins);
    double original = 0, merge = 0;
    std::vector<std::pair<double, int64_t>> merge_terms;  // (term, input channel)
    for (int64_t i = 0; i < ins; ++i) {
        double sum = 0;
        for (int64_t ky = 0; ky < kh; ++ky)
            for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t iy = y * a.strides[0] - a.pads[0] + ky * a.dilations[0];
                const int64_t ix = x * a.strides[1] - a.pads[1] + kx * a.dilations[1];
                sum += double(row[size_t((i * kh + ky) * kw + kx)]) * at(in, i, iy, ix);
            }
        if (i < cin) {
            merge += sum;
            merge_terms.push_back({sum, i});
        } else {
            original += sum;
        }
    }
    // The last conv's bias is the folded main conv's plus the shortcut's (projection bias,
    // shortcut shifts): split so each side of the sum matches the residual block's.
    const double bias = lw.bias ? double(lw.bias->data.at(size_t(channel))) : 0.0;
    const ExplainedConv& folded = e.steps.at(1).convs.at(convs.size() - 1);
    const double main_bias = folded.bias ? double(folded.bias->data.at(size_t(channel))) : 0.0;
    w.plain = {{"bias of the folded last conv", main_bias},
               {"original columns (the folded last conv over the chain's own channels)", original},
               {"rest of the bias (the shortcut's)", bias - main_bias},
               {"merge columns (the reserved copy of x: the shortcut)", merge},
               {"sum", bias + original + merge},
               {"ReLU: plain output", at(out_plain, channel, y, x)}};
    w.plain_value = at(out_plain, channel, y, x);

    // The reserved channel that feeds the merge most, traced from x through the chain.
    auto top = std::max_element(merge_terms.begin(), merge_terms.end(), [](auto& p, auto& q) {
        return std::abs(p.first) < std::abs(q.first);
    });
    w.reserved_channel = !b.projection ? channel : top == merge_terms.end() ? 0 : top->second;
    const int64_t r = w.reserved_channel;
    // Position at each node's output: the output position times the strides after it.
    std::vector<const Node*> nodes;
    for (const auto& name : e.plain_nodes)
        if (const Node* n = plain.find_node(name)) nodes.push_back(n);
    std::vector<int64_t> scale(nodes.size() + 1, 1);  // scale[k]: before nodes[k]'s output
    for (size_t k = nodes.size(); k-- > 0;)
        scale[k] = scale[k + 1] * (nodes[k]->op == Op::Conv ? nodes[k]->attrs.strides[0] : 1);
    const auto xin_held = tensor(residual_tensors, b.input, "residual");
    const Tensor& xin = *xin_held;
    w.reserved.push_back({"block input x (residual run)" + position(r, y * scale[0], x * scale[0]),
                          at(xin, r, y * scale[0], x * scale[0])});
    for (size_t k = 0; k < nodes.size(); ++k) {
        if (nodes[k] == &last) break;
        const auto t_held = tensor(plain_tensors, nodes[k]->outputs[0], "plain");
        const Tensor& t = *t_held;
        const int64_t py = y * scale[k + 1], px = x * scale[k + 1];
        w.reserved.push_back({nodes[k]->name + " (" + std::string(op_name(nodes[k]->op)) +
                                  ") reserved channel" + position(r, py, px),
                              at(t, r, py, px)});
    }
    for (const auto& [term, i] : merge_terms)
        if (i == r) {
            const double wc = row[size_t((i * kh + kh / 2) * kw + kw / 2)];
            char buf[96];
            std::snprintf(buf, sizeof(buf), "merge term: weight %.6g x reserved channel %lld", wc,
                          (long long)i);
            w.reserved.push_back({buf, term});
        }
    for (float v : out_res.data) w.max_abs_ref = std::max(w.max_abs_ref, double(std::abs(v)));
    w.difference = std::abs(w.plain_value - w.residual_value);
    w.tolerance = 1e-4 * w.max_abs_ref;
    w.agree = w.difference <= w.tolerance;
    return w;
}

}  // namespace rm
