// Pruning's rewrites of the graph: the threshold's zeroing, constants folded into readers'
// biases, and the narrowing of every weight a removed channel touches, round after round until
// nothing more goes. What they act on is read off the graph by prune_analysis.cpp.
#include "rm/prune.hpp"

#include <algorithm>
#include <numeric>
#include <tuple>
#include <unordered_map>

#include "rm/conv_structure.hpp"
#include "rm/error.hpp"
#include "rm/fold_batchnorm.hpp"
#include "rm/prune_analysis.hpp"
#include "rm/rm_transform.hpp"
#include "rm/shape_inference.hpp"

namespace rm {

namespace {

using namespace prune_detail;  // the channel analysis the rewrites act on
using Masks = std::unordered_map<int, std::vector<char>>;  // group -> channels to remove

// The bias of a Conv or Gemm as a [n] tensor it owns, created (zero) when absent.
Tensor& own_bias(Graph& g, Node& n, int64_t count) {
    const size_t slot = 2;
    if (n.op == Op::Gemm && n.attrs.beta != 1.0f && n.inputs.size() > slot &&
        !n.inputs[slot].empty()) {
        for (auto& v : g.initializers.at(n.inputs[slot]).data) v *= n.attrs.beta;
        n.attrs.beta = 1.0f;
    }
    if (n.inputs.size() <= slot || n.inputs[slot].empty()) {
        std::string name = n.name + ".pruned_bias";
        for (int i = 1; g.is_initializer(name); ++i)
            name = n.name + ".pruned_bias." + std::to_string(i);
        n.inputs.resize(slot + 1);
        n.inputs[slot] = name;
        g.initializers[name] = Tensor(Shape{count});
        if (n.op == Op::Gemm) n.attrs.beta = 1.0f;
    }
    Tensor& b = g.initializers.at(n.inputs[slot]);
    if (b.size() != count) {  // a broadcast Gemm bias (scalar or [1]) made per output
        Tensor full(Shape{count}, b.size() == 1 ? b.data[0] : 0.0f);
        if (b.size() != 1) throw Error("node '" + n.name + "': bias shape " + to_string(b.shape));
        b = std::move(full);
    }
    return b;
}

// Copies `t` keeping the indices along `axis` whose mask entry is 0.
Tensor drop(const Tensor& t, size_t axis, const std::vector<char>& removed) {
    Shape s = t.shape;
    int64_t outer = 1, inner = 1;
    for (size_t d = 0; d < axis; ++d) outer *= s[d];
    for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
    const int64_t n = s[axis];
    int64_t kept = 0;
    for (int64_t i = 0; i < n; ++i) kept += removed[i] ? 0 : 1;
    s[axis] = kept;
    Tensor out(s);
    float* dst = out.ptr();
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < n; ++i) {
            if (removed[i]) continue;
            const float* src = t.ptr() + (o * n + i) * inner;
            dst = std::copy(src, src + inner, dst);
        }
    return out;
}

// Zeroes what the threshold removes; returns {rows, columns} zeroed.
std::pair<int64_t, int64_t> apply_threshold(Graph& g, double threshold) {
    const ShapeMap shapes = infer_shapes(g);
    const ChannelGroups groups(g, shapes);
    int64_t rows = 0, cols = 0;
    for (const Target& t : threshold_targets(g, groups)) {
        if (!(t.norm < threshold) || t.norm == 0.0) continue;
        Tensor& w = g.initializers.at(t.node->inputs[1]);
        if (t.node->op == Op::Conv) {
            const int64_t in = w.shape[1], k = w.shape[2] * w.shape[3];
            for (int64_t o = 0; o < w.shape[0]; ++o)
                for (int64_t i = 0; i < in; ++i)
                    if (t.row ? o == t.index : i == t.index)
                        std::fill_n(w.ptr() + (o * in + i) * k, k, 0.0f);
        } else {
            GemmWeight gw(w, t.node->attrs.trans_b);
            for (int64_t o = 0; o < gw.n; ++o)
                w.data[gw.trans_b ? o * gw.k + t.index : t.index * gw.n + o] = 0.0f;
        }
        ++(t.row ? rows : cols);
    }
    return {rows, cols};
}

class Pruner {
  public:
    explicit Pruner(Graph& g, PruneResult& result) : g_(g), r_(result) {}

    // One round: decide against the current graph, then rewrite it. False when nothing went.
    bool round() {
        const ShapeMap shapes = infer_shapes(g_);
        const ChannelGroups groups(g_, shapes);
        if (r_.kept_channels.empty())
            for (const auto& grp : groups.groups())
                for (const auto& t : grp.tensors) {
                    auto& k = r_.kept_channels[t];
                    k.resize(static_cast<size_t>(grp.channels));
                    std::iota(k.begin(), k.end(), 0);
                }
        const auto consts = constant_channels(g_, shapes, groups);
        const auto reads = read_channels(g_, groups);
        Masks masks;
        for (int gi = 0; gi < static_cast<int>(groups.groups().size()); ++gi) {
            const ChannelGroup& grp = groups.groups()[static_cast<size_t>(gi)];
            if (grp.frozen) continue;
            std::vector<char> remove(static_cast<size_t>(grp.channels), 1);
            for (const auto& t : grp.tensors) {
                const ChannelValues& v = consts.at(t);
                auto rd = reads.find(t);
                for (int64_t c = 0; c < grp.channels; ++c)
                    if (!v[c] && rd != reads.end() && rd->second[c]) remove[c] = 0;
            }
            // Keep one channel: an empty feature map is not a network.
            if (std::count(remove.begin(), remove.end(), 1) == grp.channels) remove[0] = 0;
            if (std::count(remove.begin(), remove.end(), 1) > 0) masks[gi] = std::move(remove);
        }
        if (masks.empty()) return false;
        fold_constants(groups, masks, consts);
        narrow(groups, masks);
        for (const auto& [gi, remove] : masks)
            for (const auto& t : groups.groups()[static_cast<size_t>(gi)].tensors) {
                auto& k = r_.kept_channels.at(t);
                std::vector<int64_t> next;
                for (size_t c = 0; c < k.size(); ++c)
                    if (!remove[c]) next.push_back(k[c]);
                k = std::move(next);
            }
        return true;
    }

  private:
    void fold_constants(const ChannelGroups& groups, const Masks& masks,
                        const std::unordered_map<std::string, ChannelValues>& consts) {
        for (const auto& [gi, remove] : masks) {
            const ChannelGroup& grp = groups.groups()[static_cast<size_t>(gi)];
            for (const Node* reader : grp.readers) {
                Node& n = node(reader->name);
                const ChannelValues& v = consts.at(n.inputs[0]);
                int64_t folded = 0;
                for (int64_t c = 0; c < grp.channels; ++c) {
                    if (!remove[c] || !v[c] || *v[c] == 0.0) continue;
                    // own_bias may add an initializer: references into the map stay valid.
                    const Tensor& w = g_.initializers.at(n.inputs[1]);
                    if (n.op == Op::Conv) {
                        Kernels kern(w);
                        Tensor& b = own_bias(g_, n, kern.out);
                        for (int64_t o = 0; o < kern.out; ++o)
                            b.data[o] = static_cast<float>(b.data[o] + *v[c] * kern.sum(o, c));
                    } else {
                        GemmWeight gw(w, n.attrs.trans_b);
                        Tensor& b = own_bias(g_, n, gw.n);
                        for (int64_t o = 0; o < gw.n; ++o)
                            b.data[o] =
                                static_cast<float>(b.data[o] + n.attrs.alpha * *v[c] * gw.at(o, c));
                    }
                    ++folded;
                }
                if (folded == 0) continue;
                if (n.op == Op::Conv && padded(n))
                    r_.approximations.push_back({n.name, folded});
                else
                    r_.constants_folded_exactly += folded;
            }
        }
    }

    void narrow(const ChannelGroups& groups, const Masks& masks) {
        auto mask_of = [&](const std::string& t) -> const std::vector<char>* {
            const int gi = groups.group_of(t);
            auto it = masks.find(gi);
            return it == masks.end() ? nullptr : &it->second;
        };
        for (auto& n : g_.nodes) {
            const std::vector<char>* out = mask_of(n.outputs.at(0));
            const std::vector<char>* in = n.inputs.empty() ? nullptr : mask_of(n.inputs[0]);
            if (n.op == Op::Conv && (out || in)) {
                Tensor& w = g_.initializers.at(n.inputs[1]);
                if (out) w = drop(w, 0, *out);
                if (in) w = drop(w, 1, *in);
                if (out && n.inputs.size() > 2 && !n.inputs[2].empty()) {
                    Tensor& b = g_.initializers.at(n.inputs[2]);
                    b = drop(b, 0, *out);
                }
            } else if (n.op == Op::Gemm && in) {
                Tensor& w = g_.initializers.at(n.inputs[1]);
                w = drop(w, n.attrs.trans_b ? 1 : 0, *in);
            } else if (n.op == Op::Mul && out) {
                Tensor& s = g_.initializers.at(n.inputs[1]);
                if (s.size() != 1) s = drop(s, s.shape.size() == 4 ? 1 : 0, *out);
            } else if (n.op == Op::BatchNormalization && out) {
                for (size_t i = 1; i < n.inputs.size(); ++i) {
                    Tensor& p = g_.initializers.at(n.inputs[i]);
                    p = drop(p, 0, *out);
                }
            }
        }
    }

    Node& node(const std::string& name) {
        for (auto& n : g_.nodes)
            if (n.name == name) return n;
        throw Error("pruning lost node '" + name + "'");
    }

    Graph& g_;
    PruneResult& r_;
};

// Output and input channels of a Conv or Gemm from its weight.
std::pair<int64_t, int64_t> widths(const Graph& g, const Node& n) {
    const Shape& s = *g.initializer_shape(n.inputs.at(1));
    if (n.op == Op::Conv) return {s.at(0), s.at(1) * n.attrs.group};
    return n.attrs.trans_b ? std::pair{s.at(0), s.at(1)} : std::pair{s.at(1), s.at(0)};
}

}  // namespace

const char* prune_mode_name(PruneMode mode) {
    return mode == PruneMode::Plain ? "plain" : "residual";
}

PruneBase prepare_pruning(const Graph& residual, PruneMode mode) {
    PruneBase base;
    base.mode = mode;
    if (mode == PruneMode::Plain) {
        RmResult rm = rm_transform(residual);
        base.graph = std::move(rm.plain);
        base.mapping = std::move(rm.mapping);
    } else {
        base.graph = fold_batchnorm(residual).graph;
    }
    materialise_all(base.graph);
    infer_shapes(base.graph);
    return base;
}

std::vector<double> prune_scores(const PruneBase& base) {
    Graph g = base.graph;
    const ShapeMap shapes = infer_shapes(g);
    const ChannelGroups groups(g, shapes);
    std::vector<double> scores;
    for (const Target& t : threshold_targets(g, groups)) scores.push_back(t.norm);
    std::sort(scores.begin(), scores.end());
    return scores;
}

PruneResult prune(const PruneBase& base, double threshold) {
    PruneResult result;
    Graph g = base.graph;
    g.name = (g.name.empty() ? std::string("model") : g.name) + "_pruned";
    if (threshold > 0)
        std::tie(result.rows_zeroed, result.columns_zeroed) = apply_threshold(g, threshold);
    Pruner pruner(g, result);
    for (int i = 0; i < 1000 && pruner.round(); ++i) {
    }
    for (const auto& n : base.graph.nodes) {
        if ((n.op != Op::Conv && n.op != Op::Gemm) || !base.graph.initializer_shape(n.inputs.at(1)))
            continue;
        const Node* after = g.find_node(n.name);
        if (!after) continue;
        PrunedLayer layer;
        layer.node = n.name;
        layer.op = n.op;
        std::tie(layer.out_before, layer.in_before) = widths(base.graph, n);
        std::tie(layer.out_after, layer.in_after) = widths(g, *after);
        if (n.op == Op::Conv) {
            result.channels_before += layer.out_before;
            result.channels_after += layer.out_after;
        }
        result.layers.push_back(layer);
    }
    // Only feature maps whose channels changed, or every one? Every one: the view asks by name.
    structure_conv_weights(g);
    infer_shapes(g);
    result.graph = std::move(g);
    return result;
}

}  // namespace rm