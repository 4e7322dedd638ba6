#include "rm/rm_transform.hpp"

#include <cstring>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "rm/error.hpp"
#include "rm/fold_batchnorm.hpp"
#include "rm/rm_block_match.hpp"
#include "rm/rm_graph_index.hpp"
#include "rm/thread_pool.hpp"

namespace rm {

namespace {

using detail::BlockMatch;

// Writes one converted block as a chain of widened Conv + ReLU nodes (see RM.md). The
// reserved copy of the block input x occupies channels [0, Cin) of every widened conv.
class ChainBuilder {
  public:
    ChainBuilder(const Graph& folded, const NodeMapping& fold_mapping, const Graph& residual,
                 detail::NameSet& names, Graph& plain, NodeMapping& mapping)
        : g_(folded),
          fold_mapping_(fold_mapping),
          residual_(residual),
          names_(names),
          plain_(plain),
          mapping_(mapping) {}

    // `m` matches in the folded graph, `orig` the same block in the residual graph (for names
    // and for biases folded in double). Nodes are added now; their weights are made later by
    // make_weights, so that the GBs of a big plain model are filled on all cores at once.
    void emit(const BlockMatch& m, const BlockMatch& orig) {
        const int64_t cin = m.in_channels;
        const size_t n = m.main.size();
        std::string input = m.info.input;
        for (size_t i = 0; i < n; ++i) {
            const Node& c = *m.main[i].conv;
            const Shape& w = g_.initializers.at(c.inputs[1]).shape;
            const int64_t out = w[0];
            Node conv;
            conv.name = names_.fresh(c.name + ".rm");
            conv.op = Op::Conv;
            conv.attrs = c.attrs;
            conv.attrs.kernel = {w[2], w[3]};
            if (c.attrs.group != 1) conv.attrs.group = c.attrs.group + cin / w[1];
            conv.outputs = {conv.name};
            NodeOrigin origin;
            origin.block = orig.info.name;
            origin.residual_nodes = origin_of(c.name);
            if (i + 1 < n) {
                origin.channels = {{0, cin, true, orig.info.input}, {cin, cin + out, false, ""}};
            } else {
                for (const Node* s : m.shortcut_pre)
                    append(origin.residual_nodes, origin_of(s->name));
                if (m.projection) append(origin.residual_nodes, origin_of(m.shortcut.conv->name));
                for (const Node* s : m.shortcut_post)
                    append(origin.residual_nodes, origin_of(s->name));
                append(origin.residual_nodes, origin_of(m.add->name));
            }
            std::string wname = names_.fresh(conv.name + ".weight");
            std::string bname = names_.fresh(conv.name + ".bias");
            jobs_.push_back({wname, [this, &m, i] { return weight(m, i); }});
            jobs_.push_back({bname, [this, &m, &orig, i] { return bias(m, orig, i); }});
            conv.inputs = {input, wname, bname};
            const auto channels = origin.channels;
            mapping_[conv.name] = std::move(origin);
            input = conv.outputs[0];
            plain_.nodes.push_back(std::move(conv));

            const Node* relu = i + 1 < n ? m.relus[i] : m.relu;
            Node r;
            r.name = names_.fresh(relu->name + ".rm");
            r.op = Op::Relu;
            r.inputs = {input};
            r.outputs = {i + 1 < n ? r.name : relu->outputs.at(0)};
            NodeOrigin ro;
            ro.block = orig.info.name;
            ro.residual_nodes = origin_of(relu->name);
            ro.channels = channels;
            mapping_[r.name] = std::move(ro);
            input = r.outputs[0];
            plain_.nodes.push_back(std::move(r));
        }
    }

    // Builds every weight and bias the emitted nodes read, in parallel.
    void make_weights() {
        std::vector<Tensor> made(jobs_.size());
        parallel_for(static_cast<int64_t>(jobs_.size()), 0,
                     [&](int64_t j) { made[j] = jobs_[j].make(); });
        for (size_t j = 0; j < jobs_.size(); ++j)
            plain_.initializers.emplace(jobs_[j].name, std::move(made[j]));
        jobs_.clear();
    }

  private:
    struct Job {
        std::string name;
        std::function<Tensor()> make;
    };

    // The weight of the i-th widened conv of block `m` (see RM.md; reserved channels first).
    Tensor weight(const BlockMatch& m, size_t i) const {
        const int64_t cin = m.in_channels;
        const Node& c = *m.main[i].conv;
        const Tensor& w = g_.initializers.at(c.inputs[1]);
        const int64_t out = w.shape[0], kh = w.shape[2], kw = w.shape[3];
        const int64_t k2 = kh * kw, centre = (kh / 2) * kw + kw / 2;
        const int64_t prev =
            i == 0 ? cin : g_.initializers.at(m.main[i - 1].conv->inputs[1]).shape[0];
        Tensor weight;
        if (i + 1 < m.main.size()) {
            const int64_t rows = cin + out;
            if (i == 0) {
                // Reads x only: Dirac rows, then the original conv over the same x.
                weight = Tensor(Shape{rows, cin, kh, kw});
                for (int64_t r = 0; r < cin; ++r) weight.data[(r * cin + r) * k2 + centre] = 1.0f;
                std::memcpy(weight.ptr() + cin * cin * k2, w.ptr(), sizeof(float) * w.size());
            } else if (c.attrs.group == 1) {
                const int64_t cols = cin + prev;
                weight = Tensor(Shape{rows, cols, kh, kw});
                for (int64_t r = 0; r < cin; ++r) weight.data[(r * cols + r) * k2 + centre] = 1.0f;
                for (int64_t o = 0; o < out; ++o)
                    std::memcpy(weight.ptr() + ((cin + o) * cols + cin) * k2,
                                w.ptr() + o * prev * k2, sizeof(float) * prev * k2);
            } else {
                // The reserved copy travels as Cin/cpg extra groups placed first.
                const int64_t cpg = w.shape[1];
                weight = Tensor(Shape{rows, cpg, kh, kw});
                for (int64_t r = 0; r < cin; ++r)
                    weight.data[(r * cpg + r % cpg) * k2 + centre] = 1.0f;
                std::memcpy(weight.ptr() + cin * cpg * k2, w.ptr(), sizeof(float) * w.size());
            }
            return weight;
        }
        const int64_t cols = cin + prev;
        weight = Tensor(Shape{out, cols, kh, kw});
        for (int64_t o = 0; o < out; ++o)
            std::memcpy(weight.ptr() + (o * cols + cin) * k2, w.ptr() + o * prev * k2,
                        sizeof(float) * prev * k2);
        // The merge columns: the shortcut's per-channel scales, around the projection if any.
        const auto post = detail::shortcut_affine(g_, m.shortcut_post, out);
        if (m.projection) {
            const auto pre = detail::shortcut_affine(g_, m.shortcut_pre, cin);
            const Tensor& p = g_.initializers.at(m.shortcut.conv->inputs[1]);
            for (int64_t o = 0; o < out; ++o)
                for (int64_t j = 0; j < cin; ++j)
                    weight.data[(o * cols + j) * k2 + centre] = static_cast<float>(
                        post.scale[o] * double(p.data[o * cin + j]) * pre.scale[j]);
        } else {
            for (int64_t o = 0; o < out; ++o)
                weight.data[(o * cols + o) * k2 + centre] = static_cast<float>(post.scale[o]);
        }
        return weight;
    }

    Tensor bias(const BlockMatch& m, const BlockMatch& orig, size_t i) const {
        const int64_t cin = m.in_channels;
        const Node& c = *m.main[i].conv;
        const int64_t out = g_.initializers.at(c.inputs[1]).shape[0];
        if (i + 1 < m.main.size()) {
            Tensor bias(Shape{cin + out});  // reserved rows: zero bias
            if (c.inputs.size() > 2 && !c.inputs[2].empty()) {
                const Tensor& b = g_.initializers.at(c.inputs[2]);
                std::memcpy(bias.ptr() + cin, b.ptr(), sizeof(float) * std::min(out, b.size()));
            }
            return bias;
        }
        // conv bias + projection bias, both folded from the residual graph in double and
        // rounded once.
        std::vector<double> b = folded_bias(residual_, *orig.main.back().conv, orig.main.back().bn);
        // Shortcut: post(P(pre(x)) + pb) = post.scale*P*pre.scale*x + post.scale*(P*pre.shift +
        // pb) + post.shift, where a projection's 1x1, unpadded conv sees pre.shift everywhere.
        const auto post = detail::shortcut_affine(g_, m.shortcut_post, out);
        std::vector<double> sb(out, 0.0);
        if (m.projection) {
            sb = folded_bias(residual_, *orig.shortcut.conv, orig.shortcut.bn);
            const auto pre = detail::shortcut_affine(g_, m.shortcut_pre, cin);
            const Tensor& p = g_.initializers.at(m.shortcut.conv->inputs[1]);
            for (int64_t o = 0; o < out; ++o)
                for (int64_t j = 0; j < cin; ++j)
                    sb[o] += double(p.data[o * cin + j]) * pre.shift[j];
        }
        for (int64_t o = 0; o < out; ++o) b[o] += post.scale[o] * sb[o] + post.shift[o];
        Tensor bias(Shape{out});
        for (int64_t o = 0; o < out; ++o) bias.data[o] = static_cast<float>(b[o]);
        return bias;
    }

    std::vector<std::string> origin_of(const std::string& folded_node) const {
        auto it = fold_mapping_.find(folded_node);
        return it == fold_mapping_.end() ? std::vector<std::string>{folded_node}
                                         : it->second.residual_nodes;
    }
    static void append(std::vector<std::string>& to, const std::vector<std::string>& from) {
        to.insert(to.end(), from.begin(), from.end());
    }

    const Graph& g_;
    const NodeMapping& fold_mapping_;
    const Graph& residual_;
    detail::NameSet& names_;
    Graph& plain_;
    NodeMapping& mapping_;
    std::vector<Job> jobs_;
};

bool has_unfolded_bn(const BlockMatch& m) {
    for (const auto& u : m.main)
        if (u.bn) return true;
    return m.projection && m.shortcut.bn;
}

}  // namespace

RmResult rm_transform(const Graph& residual, const RmOptions& options) {
    RmResult result;
    std::vector<BlockMatch> originals = detail::match_residual_blocks(residual);
    FoldResult fold = fold_batchnorm(residual);
    const Graph& g = fold.graph;
    std::vector<BlockMatch> folded = detail::match_residual_blocks(g);
    std::unordered_map<std::string, const BlockMatch*> folded_by_add;
    for (const auto& m : folded) folded_by_add[m.add->name] = &m;

    // Decide per block; the reported blocks are those of the residual graph.
    std::vector<std::pair<const BlockMatch*, const BlockMatch*>> convert;  // folded, original
    for (const auto& o : originals) {
        ResidualBlock info = o.info;
        auto it = folded_by_add.find(o.add->name);
        if (info.convertible) {
            if (it == folded_by_add.end()) {
                info.convertible = false;
                info.reason = "after folding BatchNormalization the block no longer matches";
            } else if (!it->second->info.convertible) {
                info.convertible = false;
                info.reason = it->second->info.reason;
            } else if (has_unfolded_bn(*it->second)) {
                info.convertible = false;
                info.reason = "a BatchNormalization in the block could not be folded into its conv";
            }
        }
        if (!info.convertible && options.require_all)
            throw Error("residual block '" + info.name + "' cannot be converted: " + info.reason);
        if (info.convertible) convert.emplace_back(it->second, &o);
        result.blocks.push_back(std::move(info));
    }

    // Nodes replaced by chains, and the block each node of an unconverted block belongs to.
    std::unordered_map<const Node*, std::pair<const BlockMatch*, const BlockMatch*>> emit_at;
    std::unordered_set<const Node*> replaced;
    std::unordered_map<std::string, std::string> block_of;
    for (const auto& [f, o] : convert) {
        for (const auto& u : f->main) replaced.insert(u.conv);
        for (const Node* r : f->relus) replaced.insert(r);
        if (f->projection) replaced.insert(f->shortcut.conv);
        for (const auto* list : {&f->shortcut_pre, &f->shortcut_post})
            for (const Node* s : *list) replaced.insert(s);
        replaced.insert(f->add);
        replaced.insert(f->relu);
        emit_at[f->relu] = {f, o};
    }
    for (const auto& b : result.blocks) {
        if (b.convertible) continue;
        for (const auto* list : {&b.main_nodes, &b.shortcut_nodes})
            for (const auto& name : *list) block_of[name] = b.name;
        block_of[b.add_node] = b.name;
        if (!b.relu_node.empty()) block_of[b.relu_node] = b.name;
    }

    Graph& plain = result.plain;
    plain.name = g.name.empty() ? "plain" : g.name + "_plain";
    plain.inputs = g.inputs;
    plain.outputs = g.outputs;
    plain.metadata = g.metadata;
    plain.opset = g.opset;
    detail::NameSet names(g);
    ChainBuilder builder(g, fold.mapping, residual, names, plain, result.mapping);
    for (const auto& n : g.nodes) {
        if (replaced.count(&n)) {
            auto e = emit_at.find(&n);
            if (e != emit_at.end()) {
                builder.emit(*e->second.first, *e->second.second);
                ++result.converted;
            }
            continue;
        }
        NodeOrigin origin =
            fold.mapping.count(n.name) ? fold.mapping.at(n.name) : NodeOrigin{{n.name}, {}, ""};
        for (const auto& r : origin.residual_nodes)
            if (auto b = block_of.find(r); b != block_of.end()) origin.block = b->second;
        result.mapping[n.name] = std::move(origin);
        plain.nodes.push_back(n);
    }
    builder.make_weights();
    // Carry over the folded graph's weights that the plain graph still reads (moved: the
    // folded graph is ours and no longer needed).
    std::unordered_set<std::string> used;
    for (const auto& n : plain.nodes)
        for (const auto& i : n.inputs) used.insert(i);
    for (auto& [name, t] : fold.graph.initializers)
        if (used.count(name) && !plain.initializers.count(name))
            plain.initializers.emplace(name, std::move(t));
    return result;
}

}  // namespace rm
