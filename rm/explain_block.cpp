#include "rm/explain_block.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

#include "rm/error.hpp"
#include "rm/fold_batchnorm.hpp"
#include "rm/rm_block_match.hpp"

namespace rm {

const char* weight_part_name(WeightPartKind kind) {
    switch (kind) {
        case WeightPartKind::Original:
            return "original (folded)";
        case WeightPartKind::ReservedCopy:
            return "reserved Dirac copy";
        case WeightPartKind::Zero:
            return "zero";
        case WeightPartKind::IdentityMerge:
            return "identity merge";
        case WeightPartKind::ProjectionMerge:
            return "projection merge (scaled)";
        case WeightPartKind::PreActivation:
            return "pre-activation BN of x";
    }
    return "?";
}

std::vector<float> kernel_row(const ConvStructure& s, int64_t out, int64_t in_begin,
                              int64_t in_end) {
    const int64_t icg = s.shape.at(1), taps = s.shape.at(2) * s.shape.at(3);
    const int64_t ocg = s.out_channels() / s.group;
    std::vector<float> row(static_cast<size_t>(icg * taps));
    materialise_rows(s, out, out + 1, row.data());
    std::vector<float> out_values(static_cast<size_t>((in_end - in_begin) * taps), 0.0f);
    const int64_t g0 = (out / ocg) * icg;
    for (int64_t i = std::max(in_begin, g0); i < std::min(in_end, g0 + icg); ++i)
        std::copy_n(row.begin() + (i - g0) * taps, taps,
                    out_values.begin() + (i - in_begin) * taps);
    return out_values;
}

std::string block_of_residual_node(const RmResult& rm, const std::string& node) {
    for (const auto& b : rm.blocks) {
        if (b.add_node == node || b.relu_node == node) return b.name;
        for (const auto* list : {&b.main_nodes, &b.shortcut_nodes})
            if (std::find(list->begin(), list->end(), node) != list->end()) return b.name;
    }
    return "";
}

namespace {

using detail::BlockMatch;
using detail::ConvUnit;

std::shared_ptr<const Tensor> bias_tensor(const std::vector<double>& b) {
    auto t = std::make_shared<Tensor>(Shape{static_cast<int64_t>(b.size())});
    for (size_t i = 0; i < b.size(); ++i) t->data[i] = static_cast<float>(b[i]);
    return t;
}

float max_abs_of_parts(const ExplainedConv& c) {
    float m = 0;
    for (const auto& b : c.weight.blocks)
        for (float v : b.weight->data) m = std::max(m, std::abs(v));
    return m;
}

// A residual conv as one dense block: with its BN folded in (step 2 on) or as it is (step 1).
ExplainedConv original_conv(const Graph& residual, const ConvUnit& u, bool folded,
                            const std::string& title) {
    const Node& c = *u.conv;
    ExplainedConv e;
    e.node = c.name;
    e.title = title;
    const Node* bn = folded ? u.bn : nullptr;
    auto w = std::make_shared<const Tensor>(folded_weight(residual, c, bn));
    const int64_t out = w->shape.at(0), in = w->shape.at(1) * c.attrs.group;
    e.weight.shape = w->shape;
    e.weight.group = c.attrs.group;
    e.weight.blocks.push_back({0, out, 0, in, c.attrs.group, false, w});
    if (folded || (c.inputs.size() > 2 && !c.inputs[2].empty()))
        e.bias = bias_tensor(folded_bias(residual, c, bn));
    e.parts.push_back(
        {WeightPartKind::Original, 0, out, 0, in, c.name, c.inputs[1], bn ? bn->name : ""});
    e.stride = c.attrs.strides.at(0);
    e.original_max_abs = max_abs_of_parts(e);
    return e;
}

// Rectangles of the out x in grid that no part covers, as few rectangles as the parts'
// boundaries allow (rows with the same uncovered column runs are joined).
std::vector<WeightPart> zero_parts(const std::vector<WeightPart>& parts, int64_t outs,
                                   int64_t ins) {
    std::set<int64_t> ob{0, outs}, ib{0, ins};
    for (const auto& p : parts) {
        ob.insert({p.out_begin, p.out_end});
        ib.insert({p.in_begin, p.in_end});
    }
    std::vector<int64_t> os(ob.begin(), ob.end()), is(ib.begin(), ib.end());
    std::vector<WeightPart> zeros;
    for (size_t r = 0; r + 1 < os.size(); ++r) {
        std::vector<std::pair<int64_t, int64_t>> runs;
        for (size_t c = 0; c + 1 < is.size(); ++c) {
            bool covered = false;
            for (const auto& p : parts)
                covered |= p.out_begin <= os[r] && os[r + 1] <= p.out_end && p.in_begin <= is[c] &&
                           is[c + 1] <= p.in_end;
            if (covered) continue;
            if (!runs.empty() && runs.back().second == is[c])
                runs.back().second = is[c + 1];
            else
                runs.push_back({is[c], is[c + 1]});
        }
        for (const auto& run : runs) {
            // Join with the rectangle right above when it has the same columns.
            bool joined = false;
            for (auto& z : zeros)
                if (z.out_end == os[r] && z.in_begin == run.first && z.in_end == run.second) {
                    z.out_end = os[r + 1];
                    joined = true;
                }
            if (!joined)
                zeros.push_back({WeightPartKind::Zero, os[r], os[r + 1], run.first, run.second});
        }
    }
    return zeros;
}

// Appends `p`, joining it to the previous part when both are the same kind of Dirac diagonal
// and it continues that diagonal (regions split a Dirac run where the scale changes, as on a
// scaled shortcut: one part per diagonal).
void append_part(std::vector<WeightPart>& parts, WeightPart p) {
    const bool diagonal =
        p.kind != WeightPartKind::Original && p.kind != WeightPartKind::ProjectionMerge;
    if (diagonal && !parts.empty() && parts.back().kind == p.kind &&
        parts.back().out_end == p.out_begin && parts.back().in_end == p.in_begin) {
        parts.back().out_end = p.out_end;
        parts.back().in_end = p.in_end;
        return;
    }
    parts.push_back(std::move(p));
}

// `parts` followed by the zero rectangles they leave uncovered.
std::vector<WeightPart> with_zero_parts(std::vector<WeightPart> parts, const ConvStructure& s) {
    auto zeros = zero_parts(parts, s.out_channels(), s.in_channels());
    parts.insert(parts.end(), zeros.begin(), zeros.end());
    return parts;
}

// The parts of plain conv `i` of the chain, from conv_structure's regions.
// `post_bn`: a BatchNormalization after the block that RM folded into this (last) conv.
std::vector<WeightPart> plain_parts(const ConvStructure& s, const Tensor* bias, const BlockMatch& m,
                                    size_t i, const Node* post_bn) {
    std::vector<WeightPart> parts;
    const ConvUnit& main = m.main.at(i);
    const Node* main_bn = main.bn ? main.bn : post_bn;
    for (const ConvRegion& r : conv_regions(s, bias)) {
        WeightPart p{WeightPartKind::Original, r.out_begin, r.out_end, r.in_begin, r.in_end};
        p.scale = r.scale;
        switch (r.kind) {
            case RegionKind::Block:
                if (s.blocks.at(size_t(r.block)).centre_only && m.projection) {
                    p.kind = WeightPartKind::ProjectionMerge;
                    p.source_conv = m.shortcut.conv->name;
                    p.source_weight = m.shortcut.conv->inputs.at(1);
                    p.source_bn = m.shortcut.bn ? m.shortcut.bn->name : "";
                } else {
                    p.source_conv = main.conv->name;
                    p.source_weight = main.conv->inputs.at(1);
                    p.source_bn = main_bn ? main_bn->name : "";
                }
                break;
            case RegionKind::Copy:
            case RegionKind::ScaledCopy:
                p.kind = WeightPartKind::ReservedCopy;
                p.source_weight = m.info.input;
                break;
            case RegionKind::Merge:
                p.kind = WeightPartKind::IdentityMerge;
                p.source_weight = m.info.input;
                break;
            case RegionKind::Zero:
                p.kind = WeightPartKind::Zero;
                p.in_begin = 0;
                p.in_end = s.in_channels();
                break;
        }
        append_part(parts, std::move(p));
    }
    return with_zero_parts(std::move(parts), s);
}

// The parts of a pre-activation block's conv0': rows [0, Cin) copy x (reserve), rows from
// the reserved width on hold the pre-activation's scale of x.
std::vector<WeightPart> pre_activation_parts(const ConvStructure& s, const Tensor* bias,
                                             const BlockMatch& m) {
    std::vector<WeightPart> parts;
    for (const ConvRegion& r : conv_regions(s, bias)) {
        // A BN row with a shift is a Dirac entry beside a bias: a Merge region.
        if (r.kind != RegionKind::Copy && r.kind != RegionKind::ScaledCopy &&
            r.kind != RegionKind::Merge)
            continue;
        const bool reserve = r.out_begin < m.reserved_channels;
        WeightPart p{reserve ? WeightPartKind::ReservedCopy : WeightPartKind::PreActivation,
                     r.out_begin, r.out_end, r.in_begin, r.in_end};
        p.scale = r.scale;
        p.source_weight = m.info.input;
        if (!reserve && m.pre_scale) p.source_conv = m.pre_scale->name;
        append_part(parts, std::move(p));
    }
    return with_zero_parts(std::move(parts), s);
}

void add_cost(StepCost& c, const std::unordered_map<std::string, const NodeCost*>& costs,
              const std::string& node) {
    auto it = costs.find(node);
    if (it == costs.end()) return;
    c.params += it->second->params;
    c.macs += it->second->macs;
    c.structured_params += it->second->structured_params;
    c.structured_macs += it->second->structured_macs;
}

std::unordered_map<std::string, const NodeCost*> by_node(const GraphCost& cost) {
    std::unordered_map<std::string, const NodeCost*> out;
    for (const auto& n : cost.nodes) out[n.node] = &n;
    return out;
}

// A folded conv costs what the conv did, plus a bias when it had none.
void add_folded_cost(StepCost& c, const std::unordered_map<std::string, const NodeCost*>& costs,
                     const ExplainedConv& conv) {
    auto it = costs.find(conv.node);
    if (it == costs.end()) return;
    const int64_t params = element_count(conv.weight.shape) + conv.weight.out_channels();
    c.params += params;
    c.structured_params += params;
    c.macs += it->second->macs;
    c.structured_macs += it->second->macs;
}

}  // namespace

BlockExplanation explain_block(const Graph& residual, const GraphCost& residual_cost,
                               const RmResult& rm, const GraphCost& plain_cost,
                               const std::string& block_name) {
    auto info = std::find_if(rm.blocks.begin(), rm.blocks.end(),
                             [&](const ResidualBlock& b) { return b.name == block_name; });
    if (info == rm.blocks.end()) throw Error("no residual block '" + block_name + "'");
    if (!info->convertible)
        throw Error("block '" + block_name + "' was kept residual: " + info->reason);
    std::vector<BlockMatch> matches = detail::match_residual_blocks(residual);
    auto mit = std::find_if(matches.begin(), matches.end(), [&](const BlockMatch& m) {
        return m.add && m.add->name == info->add_node;
    });
    if (mit == matches.end()) throw Error("block '" + block_name + "' no longer matches");
    const BlockMatch& m = *mit;

    BlockExplanation out;
    out.block = *info;
    out.in_channels = m.in_channels;
    std::vector<const Node*> chain;  // the plain convs
    for (const auto& n : rm.plain.nodes) {
        auto o = rm.mapping.find(n.name);
        if (o == rm.mapping.end() || o->second.block != block_name) continue;
        out.plain_nodes.push_back(n.name);
        if (n.op == Op::Conv) chain.push_back(&n);
    }
    // A pre-activation block's plain chain starts with conv0' (BN-ReLU of x as a 1x1 conv).
    const size_t lead = m.pre_act ? 1 : 0;
    if (chain.size() != m.main.size() + lead)
        throw Error("block '" + block_name + "': " + std::to_string(chain.size()) +
                    " plain convs for " + std::to_string(m.main.size() + lead) + " expected");
    // A BatchNormalization right after the block (a pre-activation net's next BN, or its
    // final one) that RM folded into the merging conv: the last conv's weights carry it.
    const Node* post_bn = nullptr;
    if (!m.main.back().bn)
        if (auto o = rm.mapping.find(chain.back()->name); o != rm.mapping.end())
            for (const auto& r : o->second.residual_nodes) {
                const Node* node = residual.find_node(r);
                const auto& own = info->main_nodes;
                if (node && node->op == Op::BatchNormalization &&
                    std::find(own.begin(), own.end(), r) == own.end())
                    post_bn = node;
            }
    const auto rcost = by_node(residual_cost), pcost = by_node(plain_cost);
    const size_t n = m.main.size();
    auto name_of = [&](size_t i) { return "conv" + std::to_string(i + 1); };

    // What the block computes and why the reserved copy survives, by block kind.
    const bool linear_out = !m.post_act;  // inverted residuals and pre-activation blocks
    const std::string formula =
        m.pre_act    ? "y = x + F(x), F = BN-ReLU-conv1-BN-ReLU-conv2..., with no activation "
                       "after the Add (a pre-activation block)."
        : linear_out ? "y = x + project(depthwise(expand(x))), with no activation after the Add "
                       "(an inverted residual: the block input can be negative)."
                     : "y = ReLU(F(x) + shortcut(x)).";
    const std::string survives =
        linear_out ? " x can be negative, so these channels get the identity activation (the "
                     "conv's clamp is (-inf, +inf) on them, ReLU or ReLU6 on the others): the "
                     "copy passes unchanged."
                   : " x >= 0 (it comes out of a ReLU), so the ReLU after the conv leaves the "
                     "copy intact.";
    ExplainStep s1{"1. The original block, with BatchNorm",
                   formula +
                       " Each conv is followed by a BatchNorm (a per-channel scale and "
                       "shift). The shortcut skips the convs: it is what RM removes."};
    ExplainStep s2{"2. BatchNorm folded into each conv",
                   "At inference a BatchNorm is a fixed per-channel scale and shift, so it is "
                   "folded into the conv before it: W' = W * g/sqrt(var+eps), "
                   "b' = beta + (b - mean) * g/sqrt(var+eps). Same outputs, one layer less." +
                       std::string(m.pre_act ? " The BN on x itself has no conv before it: RM "
                                               "makes it a 1x1 conv0' in step 3."
                                             : "")};
    for (size_t i = 0; i < n; ++i) {
        s1.convs.push_back(original_conv(residual, m.main[i], false, name_of(i)));
        s2.convs.push_back(original_conv(residual, m.main[i], true, name_of(i) + " (BN folded)"));
    }
    if (m.projection) {
        s1.convs.push_back(original_conv(residual, m.shortcut, false, "shortcut conv"));
        s2.convs.push_back(original_conv(residual, m.shortcut, true, "shortcut conv (BN folded)"));
    }
    for (const auto* list : {&info->main_nodes, &info->shortcut_nodes})
        for (const auto& node : *list) add_cost(s1.cost, rcost, node);
    for (const auto& c : s2.convs) add_folded_cost(s2.cost, rcost, c);

    // Plain conv `i` of the chain (conv0' of a pre-activation block first).
    auto plain_conv = [&](size_t i, const std::string& title) {
        const Node& c = *chain[i];
        ExplainedConv e;
        e.node = c.name;
        e.title = title;
        e.plain = true;
        if (const ConvStructure* st = rm.plain.structure(c.inputs.at(1)))
            e.weight = *st;
        else
            e.weight = describe_conv(rm.plain.materialise(c.inputs.at(1)), c.attrs.group);
        if (c.inputs.size() > 2 && !c.inputs[2].empty())
            e.bias = std::make_shared<const Tensor>(rm.plain.materialise(c.inputs[2]));
        e.parts = i < lead ? pre_activation_parts(e.weight, e.bias.get(), m)
                           : plain_parts(e.weight, e.bias.get(), m, i - lead,
                                         i + 1 == chain.size() ? post_bn : nullptr);
        e.stride = c.attrs.strides.at(0);
        e.original_max_abs = max_abs_of_parts(e);
        if (i < lead)  // no dense block: the BN scales are the values to colour by
            for (const auto& d : e.weight.diracs)
                e.original_max_abs = std::max(e.original_max_abs, std::abs(d.scale));
        return e;
    };
    const std::string conv0 = "conv0' (BN-ReLU of x, reserve)";
    ExplainStep s3{"3. Reserve: copy the block input through the convs",
                   std::string(m.pre_act ? "A 1x1 conv0' applies the BN on x (scaled Dirac rows, "
                                           "its shift as bias, then ReLU) and also copies x "
                                           "itself into extra channels. "
                                         : "") +
                       "Each conv but the last gets extra output channels whose kernels are "
                       "Dirac deltas (1 at the centre tap of its own channel, 0 elsewhere): they "
                       "copy x unchanged." +
                       survives};
    if (lead) {
        s3.convs.push_back(plain_conv(0, conv0));
        add_cost(s3.cost, pcost, chain[0]->name);
    }
    for (size_t i = 0; i + 1 < n; ++i) {
        s3.convs.push_back(plain_conv(i + lead, name_of(i) + "' (reserve)"));
        add_cost(s3.cost, pcost, chain[i + lead]->name);
    }
    s3.convs.push_back(s2.convs[n - 1]);
    add_folded_cost(s3.cost, rcost, s2.convs[n - 1]);
    if (m.projection) {
        s3.convs.push_back(s2.convs.back());
        add_folded_cost(s3.cost, rcost, s2.convs.back());
    }
    const std::string end = linear_out ? " The Add is gone: a plain chain of convs and clamps."
                                       : " The Add is gone: a plain Conv-ReLU chain.";
    ExplainStep s4{
        "4. Merge: the last conv adds the shortcut itself",
        (m.projection ? "The last conv reads the reserved copy of x too: its extra input "
                        "columns hold the projection shortcut's folded 1x1 weights at the "
                        "centre tap (and its bias is added)."
                      : "The last conv reads the reserved copy of x too: its extra input "
                        "columns are Dirac deltas, so each output channel adds its own input "
                        "channel.") +
            end};
    if (lead) s4.convs.push_back(plain_conv(0, conv0));
    for (size_t i = 0; i < n; ++i)
        s4.convs.push_back(
            plain_conv(i + lead, name_of(i) + (i + 1 < n ? "' (reserve)" : "' (merge)")));
    for (const auto& node : out.plain_nodes) add_cost(s4.cost, pcost, node);
    out.steps = {std::move(s1), std::move(s2), std::move(s3), std::move(s4)};
    return out;
}

double part_difference(const Graph& residual, const ExplainedConv& conv, const WeightPart& part) {
    const ConvStructure& s = conv.weight;
    const int64_t kh = s.shape.at(2), kw = s.shape.at(3), taps = kh * kw;
    const int64_t centre = (kh / 2) * kw + kw / 2;
    using K = WeightPartKind;
    Tensor src;
    int64_t src_group = 1;
    if (part.kind == K::Original || part.kind == K::ProjectionMerge) {
        const Node* node = residual.find_node(part.source_conv);
        if (!node) throw Error("no residual conv '" + part.source_conv + "'");
        const Node* bn = part.source_bn.empty() ? nullptr : residual.find_node(part.source_bn);
        src = folded_weight(residual, *node, bn);
        src_group = node->attrs.group;
    }
    auto dirac = [&](int64_t o, int64_t i) {
        auto it =
            std::lower_bound(s.diracs.begin(), s.diracs.end(), std::make_pair(o, i),
                             [](const DiracEntry& d, const std::pair<int64_t, int64_t>& k) {
                                 return d.out < k.first || (d.out == k.first && d.in < k.second);
                             });
        return it != s.diracs.end() && it->out == o && it->in == i ? double(it->scale) : NAN;
    };
    // PreActivation: the BN (or Mul) of x, as a scale per input channel.
    std::vector<double> pre_scale;
    if (part.kind == K::PreActivation) {
        std::vector<const Node*> nodes;
        if (!part.source_conv.empty()) {
            const Node* node = residual.find_node(part.source_conv);
            if (!node) throw Error("no residual node '" + part.source_conv + "'");
            nodes.push_back(node);
        }
        pre_scale = detail::shortcut_affine(residual, nodes, s.in_channels()).scale;
    }
    double worst = 0;
    for (int64_t o = part.out_begin; o < part.out_end; ++o) {
        std::vector<float> row = kernel_row(s, o, part.in_begin, part.in_end);
        for (int64_t i = part.in_begin; i < part.in_end; ++i)
            for (int64_t t = 0; t < taps; ++t) {
                const double v = row[size_t((i - part.in_begin) * taps + t)];
                double want = 0;
                const int64_t ro = o - part.out_begin, ri = i - part.in_begin;
                switch (part.kind) {
                    case K::Original: {
                        const int64_t icg = src.shape.at(1), ocg = src.shape.at(0) / src_group;
                        const int64_t local = ri - (ro / ocg) * icg;
                        if (src.shape.at(2) * src.shape.at(3) != taps) return INFINITY;
                        if (local >= 0 && local < icg)
                            want = src.data[size_t((ro * icg + local) * taps + t)];
                        break;
                    }
                    case K::ProjectionMerge:
                        if (t == centre) want = src.data[size_t(ro * src.shape.at(1) + ri)];
                        break;
                    case K::ReservedCopy:
                    case K::IdentityMerge:
                        if (ro == ri && t == centre) want = dirac(o, i);
                        break;
                    case K::PreActivation:
                        if (ro == ri && t == centre)
                            want = static_cast<float>(pre_scale.at(size_t(i)));
                        break;
                    case K::Zero:
                        break;
                }
                const double d = std::abs(v - want);
                if (!(d <= worst)) worst = d;  // NaN (a missing Dirac entry) wins
            }
    }
    return worst;
}

}  // namespace rm
