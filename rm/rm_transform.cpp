#include "rm/rm_transform.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "rm/error.hpp"
#include "rm/fold_batchnorm.hpp"
#include "rm/rm_block_match.hpp"
#include "rm/rm_graph_index.hpp"

namespace rm {

namespace {

using detail::BlockMatch;

// Writes one converted block as a chain of widened Conv + ReLU nodes (see RM.md). The
// reserved copy of the block input x occupies channels [0, Cin) of every widened conv. Their
// weights are recorded as structures (conv_structure.hpp) that own the folded convs' tensors,
// moved out of the folded graph: the plain graph holds no Dirac or zero values.
class ChainBuilder {
  public:
    ChainBuilder(Graph& folded, const NodeMapping& fold_mapping, const Graph& residual,
                 detail::NameSet& names, Graph& plain, NodeMapping& mapping)
        : g_(folded),
          fold_mapping_(fold_mapping),
          residual_(residual),
          names_(names),
          plain_(plain),
          mapping_(mapping) {}

    // `m` matches in the folded graph, `orig` the same block in the residual graph (for names
    // and for biases folded in double).
    void emit(const BlockMatch& m, const BlockMatch& orig) {
        const int64_t cin = m.in_channels;
        const size_t n = m.main.size();
        std::string input = m.info.input;
        for (size_t i = 0; i < n; ++i) {
            const Node& c = *m.main[i].conv;
            const Shape& w = shape_of(c.inputs[1]);
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
            plain_.initializers.emplace(bname, bias(m, orig, i));
            ConvStructure st = structure(m, i);
            check_structure(st, "node '" + conv.name + "'");
            plain_.structured_weights.emplace(wname, std::move(st));
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

    // A folded weight the blocks took that the plain graph also reads directly (a shared
    // weight), or nullptr.
    const Tensor* taken(const std::string& name) const {
        auto it = taken_.find(name);
        return it == taken_.end() ? nullptr : it->second.get();
    }

  private:
    // The folded graph's weight `name`, moved into shared ownership on first use.
    std::shared_ptr<const Tensor> take(const std::string& name) {
        if (auto it = taken_.find(name); it != taken_.end()) return it->second;
        std::shared_ptr<const Tensor> t;
        if (auto d = g_.initializers.find(name); d != g_.initializers.end()) {
            t = std::make_shared<const Tensor>(std::move(d->second));
            g_.initializers.erase(d);
        } else {
            t = std::make_shared<const Tensor>(g_.materialise(name));  // a structured source
        }
        return taken_[name] = t;
    }
    // The folded graph's dense weight `name`, taken or not.
    const Tensor& values(const std::string& name) const {
        if (const Tensor* t = taken(name)) return *t;
        return g_.initializers.at(name);
    }
    const Shape& shape_of(const std::string& name) const {
        if (const Tensor* t = taken(name)) return t->shape;
        return *g_.initializer_shape(name);
    }

    // The weight of the i-th widened conv of block `m` (see RM.md; reserved channels first):
    // the folded conv as a block, the reserved copy and an identity merge as Dirac entries,
    // the projection shortcut as a centre-only block.
    ConvStructure structure(const BlockMatch& m, size_t i) {
        const int64_t cin = m.in_channels;
        const Node& c = *m.main[i].conv;
        const int64_t prev = i == 0 ? cin : shape_of(m.main[i - 1].conv->inputs[1])[0];
        std::shared_ptr<const Tensor> w = take(c.inputs[1]);
        const int64_t out = w->shape[0], kh = w->shape[2], kw = w->shape[3];
        ConvStructure s;
        if (i + 1 < m.main.size()) {
            for (int64_t r = 0; r < cin; ++r) s.diracs.push_back({r, r, 1.0f});
            if (i == 0) {
                // Reads x only: Dirac rows, then the original conv over the same x.
                s.shape = {cin + out, cin, kh, kw};
                s.blocks.push_back({cin, cin + out, 0, cin, 1, false, w});
            } else if (c.attrs.group == 1) {
                s.shape = {cin + out, cin + prev, kh, kw};
                s.blocks.push_back({cin, cin + out, cin, cin + prev, 1, false, w});
            } else {
                // The reserved copy travels as Cin/cpg extra groups placed first.
                const int64_t cpg = w->shape[1];
                s.shape = {cin + out, cpg, kh, kw};
                s.group = c.attrs.group + cin / cpg;
                s.blocks.push_back({cin, cin + out, cin, cin + prev, c.attrs.group, false, w});
            }
            return s;
        }
        s.shape = {out, cin + prev, kh, kw};
        // The merge columns: the shortcut's per-channel scales, around the projection if any.
        const auto post = detail::shortcut_affine(g_, m.shortcut_post, out);
        auto ones = [](const std::vector<double>& v) {
            return std::all_of(v.begin(), v.end(), [](double x) { return x == 1.0; });
        };
        if (m.projection) {
            // Its folded 1x1 weights at the kernel centre; first, as the dense columns are.
            const auto pre = detail::shortcut_affine(g_, m.shortcut_pre, cin);
            std::shared_ptr<const Tensor> p = take(m.shortcut.conv->inputs[1]);
            if (!ones(pre.scale) || !ones(post.scale)) {
                auto scaled = std::make_shared<Tensor>(p->shape);
                for (int64_t o = 0; o < out; ++o)
                    for (int64_t j = 0; j < cin; ++j)
                        scaled->data[o * cin + j] = static_cast<float>(
                            post.scale[o] * double(p->data[o * cin + j]) * pre.scale[j]);
                p = std::move(scaled);
            }
            s.blocks.push_back({0, out, 0, cin, 1, true, std::move(p)});
        } else {
            for (int64_t o = 0; o < out; ++o)
                if (const auto v = static_cast<float>(post.scale[o]); v != 0.0f)
                    s.diracs.push_back({o, o, v});
        }
        s.blocks.push_back({0, out, cin, cin + prev, 1, false, w});
        return s;
    }

    Tensor bias(const BlockMatch& m, const BlockMatch& orig, size_t i) const {
        const int64_t cin = m.in_channels;
        const Node& c = *m.main[i].conv;
        const int64_t out = shape_of(c.inputs[1])[0];
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
            const Tensor& p = values(m.shortcut.conv->inputs[1]);
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

    Graph& g_;
    const NodeMapping& fold_mapping_;
    const Graph& residual_;
    detail::NameSet& names_;
    Graph& plain_;
    NodeMapping& mapping_;
    std::unordered_map<std::string, std::shared_ptr<const Tensor>> taken_;
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
    Graph& g = fold.graph;
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
    // Carry over the folded graph's weights that the plain graph still reads (moved: the
    // folded graph is ours and no longer needed).
    std::unordered_set<std::string> used;
    for (const auto& n : plain.nodes)
        for (const auto& i : n.inputs) used.insert(i);
    for (const auto& name : used) {
        if (plain.is_initializer(name)) continue;
        if (auto d = g.initializers.find(name); d != g.initializers.end())
            plain.initializers.emplace(name, std::move(d->second));
        else if (auto st = g.structured_weights.find(name); st != g.structured_weights.end())
            plain.structured_weights.emplace(name, std::move(st->second));
        else if (const Tensor* t = builder.taken(name))
            plain.initializers.emplace(name, *t);
    }
    return result;
}

}  // namespace rm
