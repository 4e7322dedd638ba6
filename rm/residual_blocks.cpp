#include "rm/residual_blocks.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_set>

#include "rm/batchnorm.hpp"
#include "rm/rm_block_match.hpp"
#include "rm/rm_graph_index.hpp"

namespace rm {

namespace detail {
namespace {

std::string through_identities(const GraphIndex& ix, std::string t) {
    for (const Node* p = ix.producer(t); p && p->op == Op::Identity && p->inputs.size() == 1;
         p = ix.producer(t))
        t = p->inputs[0];
    return t;
}

// The Conv, or Conv + BatchNormalization, whose result is `tensor`.
std::optional<ConvUnit> unit_ending_at(const GraphIndex& ix, const std::string& tensor) {
    const Node* p = ix.producer(tensor);
    if (!p) return std::nullopt;
    ConvUnit u;
    if (p->op == Op::BatchNormalization) {
        if (p->inputs.empty()) return std::nullopt;
        const Node* c = ix.producer(p->inputs[0]);
        if (!c || c->op != Op::Conv || !ix.private_tensor(p->inputs[0])) return std::nullopt;
        u.conv = c;
        u.bn = p;
    } else if (p->op == Op::Conv) {
        u.conv = p;
    } else {
        return std::nullopt;
    }
    if (u.conv->inputs.size() < 2 || u.conv->inputs[0].empty()) return std::nullopt;
    return u;
}

// The constant of a Mul that scales `tensor` per channel or as a whole: the Mul's other input
// when it is an initializer of shape [], [1..], [C,1,1] or [1,C,1,1]; else null.
const Tensor* mul_constant(const GraphIndex& ix, const Node& mul, const std::string& tensor) {
    if (mul.op != Op::Mul || mul.inputs.size() != 2 || mul.inputs[0] == mul.inputs[1])
        return nullptr;
    const std::string& other = mul.inputs[0] == tensor ? mul.inputs[1] : mul.inputs[0];
    const Tensor* c = ix.initializer(other);
    if (!c || c->shape.size() > 4) return nullptr;
    if (c->size() == 1) return c;
    const Shape& s = c->shape;
    const bool chw = s.size() == 3 && s[1] == 1 && s[2] == 1;
    const bool nchw = s.size() == 4 && s[0] == 1 && s[2] == 1 && s[3] == 1;
    return chw || nchw ? c : nullptr;
}

// A node that scales its one non-constant input per channel: a Mul by a constant, or a
// BatchNormalization whose parameters are constants. Returns that input, or "".
std::string scaled_input(const GraphIndex& ix, const Node& n) {
    if (n.op == Op::Mul) {
        for (const auto& in : n.inputs)
            if (!ix.initializer(in) && mul_constant(ix, n, in)) return in;
        return "";
    }
    if (n.op != Op::BatchNormalization || n.inputs.size() < 5 || n.inputs[0].empty()) return "";
    for (size_t i = 1; i < 5; ++i)
        if (!ix.initializer(n.inputs[i])) return "";
    return n.inputs[0];
}

// Walks back from `tensor` over per-channel scale nodes whose outputs only the walk reads;
// stops before a BN that belongs to a Conv (a conv unit) and at anything else. Returns the
// tensor reached; `nodes` gets the scale nodes in graph order.
std::string through_scales(const GraphIndex& ix, std::string tensor,
                           std::vector<const Node*>& nodes) {
    for (int guard = 0; guard < 16; ++guard) {
        tensor = through_identities(ix, tensor);
        const Node* p = ix.producer(tensor);
        if (!p || !ix.private_tensor(tensor)) break;
        std::string in = scaled_input(ix, *p);
        if (in.empty()) break;
        if (p->op == Op::BatchNormalization) {
            const Node* c = ix.producer(through_identities(ix, in));
            if (c && c->op == Op::Conv && ix.private_tensor(in)) break;
        }
        nodes.insert(nodes.begin(), p);
        tensor = in;
    }
    return through_identities(ix, tensor);
}

// An activation RM can carry through a widened conv as a per-channel clamp: Relu, or Clip
// (ReLU6) with constant bounds.
bool is_activation(const Node* n) {
    return n && (n->op == Op::Relu || n->op == Op::Clip) && !n->inputs.empty() &&
           n->outputs.size() == 1;
}

struct Chain {
    std::vector<ConvUnit> units;
    std::vector<const Node*> acts;
    const Node* pre_scale = nullptr;
    const Node* pre_act = nullptr;
    std::string input;
};

// Conv[-BN]-act-...-Conv[-BN] chains of 1..3 convs ending at `tensor`, shortest first; then,
// where the longest one's input is act(x) or act(scale(x)) read by it alone, the same chain
// with that pre-activation in front (input x).
std::vector<Chain> chains_ending_at(const GraphIndex& ix, const std::string& tensor) {
    std::vector<Chain> out;
    Chain c;
    std::string t = through_identities(ix, tensor);
    for (int depth = 1; depth <= 3; ++depth) {
        auto u = unit_ending_at(ix, t);
        if (!u) break;
        c.units.insert(c.units.begin(), *u);
        c.input = through_identities(ix, u->conv->inputs[0]);
        out.push_back(c);
        const Node* r = ix.producer(c.input);
        if (!is_activation(r) || !ix.private_tensor(c.input)) break;
        t = through_identities(ix, r->inputs[0]);
        if (!ix.private_tensor(t) || !unit_ending_at(ix, t)) break;
        c.acts.insert(c.acts.begin(), r);
    }
    if (out.empty()) return out;
    Chain pre = out.back();
    const Node* act = ix.producer(pre.input);
    if (!is_activation(act) || !ix.private_tensor(pre.input)) return out;
    pre.pre_act = act;
    pre.input = through_identities(ix, act->inputs[0]);
    const Node* s = ix.producer(pre.input);
    if (s && ix.private_tensor(pre.input) && !unit_ending_at(ix, pre.input)) {
        std::string in = scaled_input(ix, *s);
        if (!in.empty()) {
            pre.pre_scale = s;
            pre.input = through_identities(ix, in);
        }
    }
    out.push_back(pre);
    return out;
}

// Proves x >= 0 by finding a ReLU behind pools and reshapes; else says what produces x.
bool non_negative(const GraphIndex& ix, std::string t, std::string& culprit) {
    for (int guard = 0; guard < 64; ++guard) {
        const Node* p = ix.producer(t);
        if (!p) {
            culprit = "it is a graph input";
            return false;
        }
        switch (p->op) {
            case Op::Relu:
                return true;
            case Op::MaxPool:
            case Op::AveragePool:
            case Op::GlobalAveragePool:
            case Op::Identity:
            case Op::Flatten:
            case Op::Reshape:
                t = p->inputs.at(0);
                continue;
            default:
                culprit = "it comes from " + std::string(op_name(p->op)) + " '" + p->name + "'";
                return false;
        }
    }
    culprit = "its producers could not be followed";
    return false;
}

std::string conv_label(const Node& n) {
    return "conv '" + n.name + "'";
}

std::string pads_text(const std::vector<int64_t>& p) {
    std::string s;
    for (size_t i = 0; i < p.size(); ++i) s += (i ? "," : "") + std::to_string(p[i]);
    return s;
}

int64_t attr_at(const std::vector<int64_t>& v, size_t i, int64_t fallback) {
    return i < v.size() ? v[i] : fallback;
}

// Empty when the block can be rewritten exactly; otherwise the reason, in a user's words. Sets
// m.reserved_channels (the reserved copy padded to whole groups of a grouped middle conv).
std::string why_not_convertible(const GraphIndex& ix, BlockMatch& m) {
    std::vector<const ConvUnit*> units;
    for (const auto& u : m.main) units.push_back(&u);
    if (m.projection) units.push_back(&m.shortcut);
    for (const ConvUnit* u : units) {
        const Shape* w = ix.initializer_shape(u->conv->inputs[1]);
        if (!w || w->size() != 4) return conv_label(*u->conv) + " has no constant 4-D weight";
        const auto& a = u->conv->attrs;
        bool unpadded = a.pads.size() == 4 && a.pads[0] == 0 && a.pads[1] == 0 && a.pads[2] == 0 &&
                        a.pads[3] == 0;
        if (a.auto_pad.rfind("SAME", 0) == 0 && unpadded && ((*w)[2] > 1 || (*w)[3] > 1))
            return conv_label(*u->conv) + " uses auto_pad=" + a.auto_pad +
                   " that was never resolved into pads";
    }
    if (m.pre_scale && !m.pre_scale->inputs.empty()) {
        // A BatchNormalization's parameters (or a Mul's constant) must be per channel of x.
        for (size_t i = 1; i < m.pre_scale->inputs.size(); ++i) {
            const Tensor* c = ix.initializer(m.pre_scale->inputs[i]);
            const bool scalar_mul = m.pre_scale->op == Op::Mul && c && c->size() == 1;
            if (c && c->size() != m.in_channels && !scalar_mul)
                return "pre-activation scale '" + m.pre_scale->name + "' has " +
                       std::to_string(c->size()) + " values for " + std::to_string(m.in_channels) +
                       " channels";
        }
    }

    const int64_t cin = m.in_channels;
    int64_t reserved = cin;
    int64_t sh = 1, sw = 1;
    for (size_t i = 0; i < m.main.size(); ++i) {
        const Node& c = *m.main[i].conv;
        const Shape& w = *ix.initializer_shape(c.inputs[1]);
        const int64_t kh = w[2], kw = w[3];
        const auto& a = c.attrs;
        const int64_t dh = attr_at(a.dilations, 0, 1), dw = attr_at(a.dilations, 1, 1);
        if (kh % 2 == 0 || kw % 2 == 0)
            return conv_label(c) + " has an even " + std::to_string(kh) + "x" + std::to_string(kw) +
                   " kernel: no centre tap to carry the reserved copy";
        // The Dirac tap sits at the kernel centre: output i then reads input stride*i - pad +
        // dilation*(k-1)/2, which is stride*i (where the shortcut reads) only for this pad.
        if (attr_at(a.pads, 0, 0) != dh * (kh - 1) / 2 ||
            attr_at(a.pads, 1, 0) != dw * (kw - 1) / 2)
            return conv_label(c) + " pads (" + pads_text(a.pads) + ") do not centre its " +
                   std::to_string(kh) + "x" + std::to_string(kw) +
                   " kernel: output i would not read input stride*i where the shortcut reads";
        sh *= attr_at(a.strides, 0, 1);
        sw *= attr_at(a.strides, 1, 1);
        if (a.group != 1 && i > 0 && i + 1 < m.main.size()) {
            // A grouped middle conv stays grouped: the reserved copy travels as extra groups.
            // (A grouped first or last conv becomes an ungrouped widened conv whose original
            // block keeps its groups: the copy and the merge need every input channel.)
            const int64_t per_group_in = w[1], per_group_out = w[0] / a.group;
            if (per_group_in != per_group_out)
                return "grouped " + conv_label(c) + " maps " + std::to_string(per_group_in) +
                       " to " + std::to_string(per_group_out) +
                       " channels per group: Dirac groups need square groups";
            // Whole extra groups, padded with zero channels (a chain of at most three convs
            // has one middle conv).
            reserved = (cin + per_group_in - 1) / per_group_in * per_group_in;
        }
    }
    m.reserved_channels = reserved;
    const Node& last = *m.main.back().conv;
    const int64_t cout = (*ix.initializer_shape(last.inputs[1]))[0];
    if (!m.projection) {
        if (sh != 1 || sw != 1)
            return "identity shortcut but the main branch has stride " + std::to_string(sh);
        if (cout != cin)
            return "identity shortcut but the main branch maps " + std::to_string(cin) + " to " +
                   std::to_string(cout) + " channels";
        return "";
    }
    const Node& p = *m.shortcut.conv;
    const Shape& pw = *ix.initializer_shape(p.inputs[1]);
    const auto& pa = p.attrs;
    if (pw[2] != 1 || pw[3] != 1)
        return "projection " + conv_label(p) + " is " + std::to_string(pw[2]) + "x" +
               std::to_string(pw[3]) + ", not 1x1";
    if (pa.group != 1) return "projection " + conv_label(p) + " is grouped";
    for (int64_t v : pa.pads)
        if (v != 0)
            return "projection " + conv_label(p) + " has pads (" + pads_text(pa.pads) +
                   "): it would not read input stride*i";
    if (attr_at(pa.strides, 0, 1) != sh || attr_at(pa.strides, 1, 1) != sw)
        return "projection " + conv_label(p) + " has stride " +
               std::to_string(attr_at(pa.strides, 0, 1)) + " but the main branch strides by " +
               std::to_string(sh);
    if (pw[1] != cin || pw[0] != cout)
        return "projection " + conv_label(p) + " does not map the block input to its output";
    return "";
}

// Empty when every shortcut scale acts on as many channels as the tensor it scales.
std::string why_scales_do_not_fit(const GraphIndex& ix, const BlockMatch& m) {
    const int64_t cin = m.in_channels;
    int64_t cout = cin;
    if (m.projection)
        if (const Shape* w = ix.initializer_shape(m.shortcut.conv->inputs[1]); w && !w->empty())
            cout = (*w)[0];
    auto check = [&](const std::vector<const Node*>& nodes, int64_t channels) -> std::string {
        for (const Node* n : nodes) {
            // A Mul's constant may also be a single value; BN parameters are per channel.
            const bool mul = n->op == Op::Mul;
            for (size_t i = mul ? 0 : 1; i < (mul ? n->inputs.size() : 5); ++i) {
                const Tensor* c = ix.initializer(n->inputs[i]);
                if (!c || c->size() == channels || (mul && c->size() == 1)) continue;
                return "shortcut scale '" + n->name + "' (" + std::string(op_name(n->op)) +
                       ") has " + std::to_string(c->size()) + " values for " +
                       std::to_string(channels) + " channels";
            }
        }
        return "";
    };
    std::string why = check(m.shortcut_pre, cin);
    return why.empty() ? check(m.shortcut_post, cout) : why;
}

// "layer1.0" from "layer1.0.conv1" and "layer1.0.add"; the Add's name when nothing is shared.
std::string block_name(const BlockMatch& m) {
    std::string prefix = m.add->name;
    auto shrink = [&](const std::string& n) {
        size_t i = 0;
        while (i < prefix.size() && i < n.size() && prefix[i] == n[i]) ++i;
        prefix.resize(i);
    };
    for (const auto& u : m.main) shrink(u.conv->name);
    if (m.post_act) shrink(m.post_act->name);
    size_t cut = prefix.find_last_of("./:");
    std::string name = cut == std::string::npos ? "" : prefix.substr(0, cut);
    // "/layer1/layer1.0" (torch.onnx scopes) reads better as its last part, "layer1.0".
    if (size_t slash = name.find_last_of('/');
        slash != std::string::npos && slash + 1 < name.size())
        name = name.substr(slash + 1);
    return name.empty() ? m.add->name : name;
}

std::optional<BlockMatch> match_at_add(const GraphIndex& ix, const Node& add) {
    if (add.inputs.size() != 2 || add.outputs.size() != 1) return std::nullopt;
    for (int order = 0; order < 2; ++order) {
        const std::string& main_t = add.inputs[order];
        if (!ix.private_tensor(main_t)) continue;
        // Shortcut: [scales] for identity, or [scales] conv[+BN] [scales] for a projection.
        std::vector<const Node*> post, pre;
        const std::string short_t = through_scales(ix, add.inputs[1 - order], post);
        std::optional<ConvUnit> proj;
        if (ix.private_tensor(short_t)) proj = unit_ending_at(ix, short_t);
        const std::string proj_input = proj ? through_scales(ix, proj->conv->inputs[0], pre) : "";
        for (const Chain& c : chains_ending_at(ix, main_t)) {
            if (c.units.size() < 2) continue;
            BlockMatch m;
            if (c.input == short_t) {
                m.projection = false;
                m.shortcut_post = post;
            } else if (proj && proj_input == c.input) {
                m.projection = true;
                m.shortcut = *proj;
                m.shortcut_pre = pre;
                m.shortcut_post = post;
            } else {
                continue;
            }
            m.main = c.units;
            m.acts = c.acts;
            m.pre_scale = c.pre_scale;
            m.pre_act = c.pre_act;
            m.add = &add;
            m.info.input = c.input;
            return m;
        }
    }
    return std::nullopt;
}

}  // namespace

std::vector<BlockMatch> match_residual_blocks(const Graph& graph) {
    GraphIndex ix(graph);
    std::vector<BlockMatch> blocks;
    std::unordered_set<std::string> names;
    for (const auto& n : graph.nodes) {
        if (n.op != Op::Add) continue;
        auto found = match_at_add(ix, n);
        if (!found) continue;
        BlockMatch m = std::move(*found);
        const auto& readers = ix.consumers(n.outputs[0]);
        if (readers.size() == 1 && is_activation(readers[0]) && !ix.is_graph_output(n.outputs[0]))
            m.post_act = readers[0];
        ResidualBlock& b = m.info;
        b.name = block_name(m);
        if (!names.insert(b.name).second) b.name = n.name;
        b.kind = m.main.size() == 2 ? ResidualBlock::Kind::Basic : ResidualBlock::Kind::Bottleneck;
        b.output = m.post_act ? m.post_act->outputs.at(0) : n.outputs[0];
        b.pre_activation = m.pre_act != nullptr;
        if (m.pre_scale) b.main_nodes.push_back(m.pre_scale->name);
        if (m.pre_act) b.main_nodes.push_back(m.pre_act->name);
        for (size_t i = 0; i < m.main.size(); ++i) {
            if (i) b.main_nodes.push_back(m.acts[i - 1]->name);
            b.main_nodes.push_back(m.main[i].conv->name);
            if (m.main[i].bn) b.main_nodes.push_back(m.main[i].bn->name);
        }
        for (const Node* s : m.shortcut_pre) b.shortcut_nodes.push_back(s->name);
        if (m.projection) {
            b.shortcut_nodes.push_back(m.shortcut.conv->name);
            if (m.shortcut.bn) b.shortcut_nodes.push_back(m.shortcut.bn->name);
        }
        for (const Node* s : m.shortcut_post) b.shortcut_nodes.push_back(s->name);
        b.projection = m.projection;
        b.add_node = n.name;
        b.relu_node = m.post_act ? m.post_act->name : "";
        const Shape* w0 = ix.initializer_shape(m.main[0].conv->inputs[1]);
        m.in_channels = w0 && w0->size() == 4 ? (*w0)[1] * m.main[0].conv->attrs.group : 0;
        m.reserved_channels = m.in_channels;
        b.stride = 1;
        for (const auto& u : m.main) {
            b.stride *= attr_at(u.conv->attrs.strides, 0, 1);
            b.groups = std::max(b.groups, u.conv->attrs.group);
        }
        std::string dummy;
        b.input_non_negative = non_negative(ix, b.input, dummy);
        b.reason = why_not_convertible(ix, m);
        if (b.reason.empty()) b.reason = why_scales_do_not_fit(ix, m);
        b.convertible = b.reason.empty();
        b.padding_channels = m.reserved_channels - m.in_channels;
        blocks.push_back(std::move(m));
    }
    return blocks;
}

ChannelAffine shortcut_affine(const Graph& graph, const std::vector<const Node*>& nodes,
                              int64_t channels) {
    ChannelAffine a{std::vector<double>(channels, 1.0), std::vector<double>(channels, 0.0)};
    GraphIndex ix(graph);
    for (const Node* n : nodes) {
        std::vector<double> s(channels), t(channels, 0.0);
        if (n->op == Op::Mul) {
            const Tensor* c = nullptr;
            for (const auto& in : n->inputs)
                if (const Tensor* k = ix.initializer(in)) c = k;
            for (int64_t ch = 0; ch < channels; ++ch) s[ch] = c->data[c->size() == 1 ? 0 : ch];
        } else {
            // The same per-channel affine fold_batchnorm folds into a conv.
            BnAffine bn = bn_affine(graph, *n, channels);
            s = std::move(bn.scale);
            t = std::move(bn.shift);
        }
        for (int64_t ch = 0; ch < channels; ++ch) {
            a.scale[ch] *= s[ch];
            a.shift[ch] = a.shift[ch] * s[ch] + t[ch];
        }
    }
    return a;
}

}  // namespace detail

std::vector<ResidualBlock> find_residual_blocks(const Graph& graph) {
    std::vector<ResidualBlock> out;
    for (auto& m : detail::match_residual_blocks(graph)) out.push_back(std::move(m.info));
    return out;
}

}  // namespace rm
