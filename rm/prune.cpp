#include "rm/prune.hpp"

#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "rm/channel_groups.hpp"
#include "rm/conv_structure.hpp"
#include "rm/error.hpp"
#include "rm/fold_batchnorm.hpp"
#include "rm/rm_transform.hpp"
#include "rm/shape_inference.hpp"

namespace rm {

namespace {

using detail::ChannelGroup;
using detail::ChannelGroups;
// Per channel: its value where the feature map is that constant everywhere, else nullopt.
using ChannelValues = std::vector<std::optional<double>>;
using Masks = std::unordered_map<int, std::vector<char>>;  // group -> channels to remove

bool padded(const Node& n) {
    for (int64_t p : n.attrs.pads)
        if (p != 0) return true;
    return false;
}

// A dense Conv weight [out, in, kh, kw] (group 1) seen as out x in kernels of k values.
struct Kernels {
    const Tensor& w;
    int64_t out, in, k;
    explicit Kernels(const Tensor& t)
        : w(t), out(t.shape.at(0)), in(t.shape.at(1)), k(t.shape.at(2) * t.shape.at(3)) {}
    const float* at(int64_t o, int64_t i) const { return w.ptr() + (o * in + i) * k; }
    bool zero(int64_t o, int64_t i) const {
        const float* p = at(o, i);
        for (int64_t j = 0; j < k; ++j)
            if (p[j] != 0.0f) return false;
        return true;
    }
    double sum(int64_t o, int64_t i) const {
        const float* p = at(o, i);
        double s = 0;
        for (int64_t j = 0; j < k; ++j) s += p[j];
        return s;
    }
};

// A Gemm weight read as [n outputs, k inputs] whatever its layout.
struct GemmWeight {
    const Tensor& w;
    bool trans_b;
    int64_t n, k;
    GemmWeight(const Tensor& t, bool tb)
        : w(t),
          trans_b(tb),
          n(tb ? t.shape.at(0) : t.shape.at(1)),
          k(tb ? t.shape.at(1) : t.shape.at(0)) {}
    float at(int64_t o, int64_t c) const { return trans_b ? w.data[o * k + c] : w.data[c * n + o]; }
};

const Tensor* dense(const Graph& g, const Node& n, size_t i) {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return nullptr;
    auto it = g.initializers.find(n.inputs[i]);
    return it == g.initializers.end() ? nullptr : &it->second;
}

// Which channels of which feature maps are the same constant everywhere (forward, in graph
// order). Exact reasoning only: a padded conv turns a non-zero constant into a border pattern.
std::unordered_map<std::string, ChannelValues> constant_channels(const Graph& g,
                                                                 const ShapeMap& shapes,
                                                                 const ChannelGroups& groups) {
    std::unordered_map<std::string, ChannelValues> values;
    for (const auto& n : g.nodes) {
        const std::string& y = n.outputs.at(0);
        if (groups.group_of(y) < 0) continue;
        ChannelValues v(static_cast<size_t>(shapes.at(y).at(1)));
        auto in_it = values.find(n.inputs.at(0));
        const ChannelValues* x = in_it == values.end() ? nullptr : &in_it->second;
        const int64_t c = static_cast<int64_t>(v.size());
        auto same_size = [&] { return x && static_cast<int64_t>(x->size()) == c; };
        switch (n.op) {
            case Op::Conv: {
                const Tensor* w = dense(g, n, 1);
                // A graph input has no entry: every channel live.
                if (!w || n.attrs.group != 1 || (x && int64_t(x->size()) != w->shape.at(1))) break;
                const Tensor* b = dense(g, n, 2);
                Kernels kern(*w);
                for (int64_t o = 0; o < kern.out; ++o) {
                    double sum = b ? b->data[o] : 0.0;
                    bool live = false, nonzero_const = false;
                    for (int64_t i = 0; i < kern.in && !live; ++i) {
                        if (kern.zero(o, i)) continue;
                        if (!x || !(*x)[i]) {
                            live = true;
                        } else if (*(*x)[i] != 0.0) {
                            nonzero_const = true;
                            sum += *(*x)[i] * kern.sum(o, i);
                        }
                    }
                    if (!live && !(nonzero_const && padded(n))) v[o] = sum;
                }
                break;
            }
            case Op::Relu:
                if (same_size())
                    for (int64_t i = 0; i < c; ++i)
                        if ((*x)[i]) v[i] = std::max(0.0, *(*x)[i]);
                break;
            case Op::AveragePool:
                if (same_size())
                    for (int64_t i = 0; i < c; ++i)
                        if ((*x)[i] &&
                            (*(*x)[i] == 0.0 || !n.attrs.count_include_pad || !padded(n)))
                            v[i] = (*x)[i];
                break;
            case Op::MaxPool:
            case Op::GlobalAveragePool:
            case Op::Identity:
            case Op::Flatten:
                if (same_size()) v = *x;
                break;
            case Op::BatchNormalization: {
                if (!same_size()) break;
                const Tensor *s = dense(g, n, 1), *b = dense(g, n, 2), *m = dense(g, n, 3),
                             *var = dense(g, n, 4);
                if (!s || !b || !m || !var) break;
                for (int64_t i = 0; i < c; ++i)
                    if ((*x)[i])
                        v[i] = (*(*x)[i] - m->data[i]) * s->data[i] /
                                   std::sqrt(double(var->data[i]) + n.attrs.epsilon) +
                               b->data[i];
                break;
            }
            case Op::Mul: {
                const Tensor* s = detail::per_channel_scale(g, n);
                if (!s || !same_size()) break;
                for (int64_t i = 0; i < c; ++i) {
                    const double f = s->size() == 1 ? s->data[0] : s->data[i];
                    if (f == 0.0)
                        v[i] = 0.0;
                    else if ((*x)[i])
                        v[i] = *(*x)[i] * f;
                }
                break;
            }
            case Op::Add: {
                auto other = values.find(n.inputs.at(1));
                if (!same_size() || other == values.end()) break;
                for (int64_t i = 0; i < c; ++i)
                    if ((*x)[i] && other->second[i]) v[i] = *(*x)[i] + *other->second[i];
                break;
            }
            default:
                break;
        }
        values[y] = std::move(v);
    }
    return values;
}

// Per feature map read by a Conv or Gemm: the channels some reader has a non-zero weight on.
std::unordered_map<std::string, std::vector<char>> read_channels(const Graph& g,
                                                                 const ChannelGroups& groups) {
    std::unordered_map<std::string, std::vector<char>> reads;
    for (const ChannelGroup& grp : groups.groups())
        for (const Node* r : grp.readers) {
            auto& mask = reads[r->inputs[0]];
            mask.resize(static_cast<size_t>(grp.channels), 0);
            const Tensor& w = *dense(g, *r, 1);
            if (r->op == Op::Conv) {
                Kernels kern(w);
                for (int64_t o = 0; o < kern.out; ++o)
                    for (int64_t i = 0; i < kern.in; ++i)
                        if (!mask[i] && !kern.zero(o, i)) mask[i] = 1;
            } else {
                GemmWeight gw(w, r->attrs.trans_b);
                for (int64_t o = 0; o < gw.n; ++o)
                    for (int64_t i = 0; i < gw.k; ++i)
                        if (!mask[i] && gw.at(o, i) != 0.0f) mask[i] = 1;
            }
        }
    return reads;
}

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

// A row or column a threshold compares: the rows of a conv whose channels no other conv
// produces, and the columns of a feature map's sole reader. `norm` is relative: the L2 norm over
// the median of the non-zero norms of the same layer, side (row or column) and kind (a single
// value, i.e. a reserved copy or a shortcut scale, or a filter), so that one threshold means
// the same in a 9-weight stem filter, a 216-weight block filter and a Dirac copy: what a
// sparsity-trained scale multiplied.
struct Target {
    const Node* node;
    bool row;
    int64_t index;
    double norm;
    bool single;  // one non-zero value
};

std::vector<Target> threshold_targets(const Graph& g, const ChannelGroups& groups) {
    std::vector<Target> targets;
    auto add = [&](const Node* n, bool row, int64_t index, double sq, int64_t nonzero) {
        targets.push_back({n, row, index, std::sqrt(sq), nonzero == 1});
    };
    for (int gi = 0; gi < static_cast<int>(groups.groups().size()); ++gi) {
        if (!groups.single_producer(gi)) continue;
        const ChannelGroup& grp = groups.groups()[static_cast<size_t>(gi)];
        Kernels kern(*dense(g, *grp.producers[0], 1));
        for (int64_t o = 0; o < kern.out; ++o) {
            double sq = 0;
            int64_t nz = 0;
            for (int64_t j = 0; j < kern.in * kern.k; ++j) {
                const double v = kern.at(o, 0)[j];
                sq += v * v;
                nz += v != 0.0;
            }
            add(grp.producers[0], true, o, sq, nz);
        }
        if (grp.readers.size() != 1) continue;
        const Node* r = grp.readers[0];
        const Tensor& w = *dense(g, *r, 1);
        for (int64_t c = 0; c < grp.channels; ++c) {
            double sq = 0;
            int64_t nz = 0;
            auto take = [&](double v) {
                sq += v * v;
                nz += v != 0.0;
            };
            if (r->op == Op::Conv) {
                Kernels rk(w);
                for (int64_t o = 0; o < rk.out; ++o)
                    for (int64_t j = 0; j < rk.k; ++j) take(rk.at(o, c)[j]);
            } else {
                GemmWeight gw(w, r->attrs.trans_b);
                for (int64_t o = 0; o < gw.n; ++o) take(gw.at(o, c));
            }
            add(r, false, c, sq, nz);
        }
    }
    // Relative to the median of the same layer, side and kind.
    std::map<std::tuple<const Node*, bool, bool>, std::vector<double>> norms;
    for (const Target& t : targets)
        if (t.norm > 0) norms[{t.node, t.row, t.single}].push_back(t.norm);
    std::map<std::tuple<const Node*, bool, bool>, double> median;
    for (auto& [key, v] : norms) {
        std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
        median[key] = v[v.size() / 2];
    }
    for (Target& t : targets)
        if (t.norm > 0) t.norm /= median.at({t.node, t.row, t.single});
    return targets;
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
