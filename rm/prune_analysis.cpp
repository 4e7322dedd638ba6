#include "rm/prune_analysis.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace rm::prune_detail {

bool padded(const Node& n) {
    for (int64_t p : n.attrs.pads)
        if (p != 0) return true;
    return false;
}

const Tensor* dense(const Graph& g, const Node& n, size_t i) {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return nullptr;
    auto it = g.initializers.find(n.inputs[i]);
    return it == g.initializers.end() ? nullptr : &it->second;
}

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

}  // namespace rm::prune_detail
