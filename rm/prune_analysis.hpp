#pragma once
// Internal to rm/prune: what pruning reads off the graph before it rewrites anything: which
// channels are the same constant everywhere, which some reader has a non-zero weight on, and
// the relative norms a threshold compares. The rewriting itself is prune.cpp.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "rm/channel_groups.hpp"
#include "rm/graph.hpp"
#include "rm/shape_inference.hpp"

namespace rm::prune_detail {

using detail::ChannelGroup;
using detail::ChannelGroups;
// Per channel: its value where the feature map is that constant everywhere, else nullopt.
using ChannelValues = std::vector<std::optional<double>>;

// Some pad of the node is not zero.
bool padded(const Node& n);

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

// Input i of the node as a dense initializer, or nullptr (absent, a graph tensor, structured).
const Tensor* dense(const Graph& g, const Node& n, size_t i);

// Which channels of which feature maps are the same constant everywhere (forward, in graph
// order). Exact reasoning only: a padded conv turns a non-zero constant into a border pattern.
std::unordered_map<std::string, ChannelValues> constant_channels(const Graph& g,
                                                                 const ShapeMap& shapes,
                                                                 const ChannelGroups& groups);

// Per feature map read by a Conv or Gemm: the channels some reader has a non-zero weight on.
std::unordered_map<std::string, std::vector<char>> read_channels(const Graph& g,
                                                                 const ChannelGroups& groups);

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

// Every row and column a threshold may zero, with its relative norm.
std::vector<Target> threshold_targets(const Graph& g, const ChannelGroups& groups);

}  // namespace rm::prune_detail
