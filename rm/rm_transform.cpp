#include "rm/rm_transform.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "rm/batchnorm.hpp"
#include "rm/channel_clamp.hpp"
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
        const int64_t cin = m.in_channels, reserved = m.reserved_channels;
        const size_t n = m.main.size();
        std::string input = m.info.input;
        // Channel ranges of a widened conv with `out` original channels after the reserve.
        auto ranges = [&](int64_t out) {
            std::vector<ChannelRange> r{{0, cin, true, orig.info.input}};
            if (reserved > cin) r.push_back({cin, reserved, false, "", true});
            r.push_back({reserved, reserved + out, false, ""});
            return r;
        };
        if (m.pre_act) {
            // conv0': a 1x1 conv whose Dirac rows copy x and whose other rows are the
            // pre-activation's per-channel scale of x (and its shift as bias).
            const Node& first = m.pre_scale ? *m.pre_scale : *m.pre_act;
            Node conv;
            conv.name = names_.fresh(first.name + ".rm");
            conv.op = Op::Conv;
            conv.attrs.kernel = {1, 1};
            conv.outputs = {conv.name};
            NodeOrigin origin;
            origin.block = orig.info.name;
            if (m.pre_scale) origin.residual_nodes = origin_of(m.pre_scale->name);
            origin.channels = ranges(cin);
            std::vector<const Node*> scale_nodes;
            if (m.pre_scale) scale_nodes.push_back(m.pre_scale);
            const auto affine = detail::shortcut_affine(g_, scale_nodes, cin);
            ConvStructure st;
            st.shape = {reserved + cin, cin, 1, 1};
            for (int64_t r = 0; r < cin; ++r) st.diracs.push_back({r, r, 1.0f});
            Tensor b(Shape{reserved + cin});
            for (int64_t r = 0; r < cin; ++r) {
                if (const auto v = static_cast<float>(affine.scale[r]); v != 0.0f)
                    st.diracs.push_back({reserved + r, r, v});
                b.data[reserved + r] = static_cast<float>(affine.shift[r]);
            }
            add_conv(std::move(conv), std::move(origin), input, std::move(st), std::move(b));
            add_activation(*m.pre_act, m, orig, ranges(cin), input, "");
        }
        for (size_t i = 0; i < n; ++i) {
            const bool last = i + 1 == n;
            const Node& c = *m.main[i].conv;
            const Shape& w = shape_of(c.inputs[1]);
            const int64_t out = w[0];
            Node conv;
            conv.name = names_.fresh(c.name + ".rm");
            conv.op = Op::Conv;
            conv.attrs = c.attrs;
            conv.attrs.kernel = {w[2], w[3]};
            // A grouped middle conv gets the reserved copy as extra groups; a grouped first or
            // last one becomes ungrouped (its original block keeps the groups).
            const bool middle = i > 0 && !last;
            conv.attrs.group = middle && c.attrs.group != 1 ? c.attrs.group + reserved / w[1] : 1;
            conv.outputs = {last && !m.post_act ? m.add->outputs.at(0) : conv.name};
            NodeOrigin origin;
            origin.block = orig.info.name;
            origin.residual_nodes = origin_of(c.name);
            if (!last) {
                origin.channels = ranges(out);
            } else {
                for (const Node* s : m.shortcut_pre)
                    append(origin.residual_nodes, origin_of(s->name));
                if (m.projection) append(origin.residual_nodes, origin_of(m.shortcut.conv->name));
                for (const Node* s : m.shortcut_post)
                    append(origin.residual_nodes, origin_of(s->name));
                append(origin.residual_nodes, origin_of(m.add->name));
            }
            const auto channels = origin.channels;
            ConvStructure st = structure(m, i);
            add_conv(std::move(conv), std::move(origin), input, std::move(st), bias(m, orig, i));
            if (const Node* act = last ? m.post_act : m.acts[i])
                add_activation(*act, m, orig, channels, input,
                               last ? act->outputs.at(0) : std::string());
        }
    }

    // A folded weight the blocks took that the plain graph also reads directly (a shared
    // weight), or nullptr.
    const Tensor* taken(const std::string& name) const {
        auto it = taken_.find(name);
        return it == taken_.end() ? nullptr : it->second.get();
    }

  private:
    // Appends `conv` reading `input` with weight `st` and bias `b`; `input` becomes its output.
    void add_conv(Node conv, NodeOrigin origin, std::string& input, ConvStructure st, Tensor b) {
        const std::string wname = names_.fresh(conv.name + ".weight");
        const std::string bname = names_.fresh(conv.name + ".bias");
        check_structure(st, "node '" + conv.name + "'");
        plain_.structured_weights.emplace(wname, std::move(st));
        plain_.initializers.emplace(bname, std::move(b));
        conv.inputs = {input, wname, bname};
        input = conv.outputs.at(0);
        mapping_[conv.name] = std::move(origin);
        plain_.nodes.push_back(std::move(conv));
    }

    // Appends the per-channel clamp that carries activation `act` (Relu or Clip) through a
    // widened conv: the original channels get act's bounds, the reserved ones (with `channels`
    // naming them; empty: none, after the merge) the identity, or act's bounds where they leave
    // a non-negative block input unchanged (a ReLU, so plain ResNets stay Conv-ReLU). `output`
    // names the result ("" for a fresh name); `input` becomes it.
    void add_activation(const Node& act, const BlockMatch& m, const BlockMatch& orig,
                        const std::vector<ChannelRange>& channels, std::string& input,
                        std::string output) {
        const auto bounds = as_channel_clamp(g_, act, 1);
        if (!bounds) throw Error("node '" + act.name + "' is not an activation RM can carry");
        const float lo = bounds->lo[0], hi = bounds->hi[0];
        constexpr float kInf = std::numeric_limits<float>::infinity();
        const int64_t reserved = channels.empty() ? 0 : m.reserved_channels;
        int64_t total = reserved;
        for (const auto& r : channels) total = std::max(total, r.end);
        if (channels.empty()) total = shape_of(m.main.back().conv->inputs[1])[0];
        ChannelClamp clamp = ChannelClamp::uniform(total, lo, hi);
        const bool keeps_copy = orig.info.input_non_negative && lo <= 0.0f && hi == kInf;
        for (int64_t c = 0; c < reserved && !keeps_copy; ++c) {
            clamp.lo[c] = -kInf;
            clamp.hi[c] = kInf;
        }
        const std::string name = names_.fresh(act.name + ".rm");
        if (output.empty()) output = name;
        const size_t before = plain_.nodes.size();
        append_clamp_nodes(plain_, name, input, output, clamp);
        for (size_t k = before; k < plain_.nodes.size(); ++k) {
            NodeOrigin o;
            o.block = orig.info.name;
            o.residual_nodes = origin_of(act.name);
            o.channels = channels;
            mapping_[plain_.nodes[k].name] = std::move(o);
        }
        input = output;
    }

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
        const int64_t cin = m.in_channels, res = m.reserved_channels;
        const Node& c = *m.main[i].conv;
        // conv i reads x itself (the first conv of a block without pre-activation), or the
        // reserved copy in [0, res) and the previous layer's `prev` channels after it.
        const bool reads_x = i == 0 && !m.pre_act;
        const int64_t prev = i == 0 ? cin : shape_of(m.main[i - 1].conv->inputs[1])[0];
        std::shared_ptr<const Tensor> w = take(c.inputs[1]);
        const int64_t out = w->shape[0], kh = w->shape[2], kw = w->shape[3];
        const int64_t g = c.attrs.group;
        ConvStructure s;
        if (i + 1 < m.main.size()) {
            for (int64_t r = 0; r < cin; ++r) s.diracs.push_back({r, r, 1.0f});
            if (reads_x) {
                // Reads x only: Dirac rows, then the original conv over the same x.
                s.shape = {res + out, cin, kh, kw};
                s.blocks.push_back({res, res + out, 0, cin, g, false, w});
            } else if (g == 1 || i == 0) {
                s.shape = {res + out, res + prev, kh, kw};
                s.blocks.push_back({res, res + out, res, res + prev, g, false, w});
            } else {
                // The reserved copy (padded to whole groups) travels as res/cpg extra groups
                // placed first; a depthwise conv (cpg 1) just gets more channels.
                const int64_t cpg = w->shape[1];
                s.shape = {res + out, cpg, kh, kw};
                s.group = g + res / cpg;
                s.blocks.push_back({res, res + out, res, res + prev, g, false, w});
            }
            return s;
        }
        s.shape = {out, res + prev, kh, kw};
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
        s.blocks.push_back({0, out, res, res + prev, g, false, w});
        return s;
    }

    Tensor bias(const BlockMatch& m, const BlockMatch& orig, size_t i) const {
        const int64_t cin = m.in_channels;
        const Node& c = *m.main[i].conv;
        const int64_t out = shape_of(c.inputs[1])[0];
        if (i + 1 < m.main.size()) {
            const int64_t res = m.reserved_channels;
            Tensor bias(Shape{res + out});  // reserved (and padding) rows: zero bias
            if (c.inputs.size() > 2 && !c.inputs[2].empty()) {
                const Tensor& b = g_.initializers.at(c.inputs[2]);
                std::memcpy(bias.ptr() + res, b.ptr(), sizeof(float) * std::min(out, b.size()));
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

// Folds the plain graph's BatchNormalizations into the convs before them; each node's origin
// becomes the union of the origins of the plain nodes it was made of (channels: the conv's).
void refold(RmResult& result) {
    FoldResult again = fold_batchnorm(result.plain);
    NodeMapping composed;
    for (const auto& n : again.graph.nodes) {
        auto it = again.mapping.find(n.name);
        const std::vector<std::string> parts = it == again.mapping.end()
                                                   ? std::vector<std::string>{n.name}
                                                   : it->second.residual_nodes;
        NodeOrigin origin;
        bool first = true;
        for (const auto& p : parts) {
            auto o = result.mapping.find(p);
            if (o == result.mapping.end()) continue;
            if (first) {
                origin = o->second;
                first = false;
                continue;
            }
            for (const auto& r : o->second.residual_nodes)
                if (std::find(origin.residual_nodes.begin(), origin.residual_nodes.end(), r) ==
                    origin.residual_nodes.end())
                    origin.residual_nodes.push_back(r);
            if (origin.block.empty()) origin.block = o->second.block;
        }
        if (first) origin.residual_nodes = {n.name};
        composed[n.name] = std::move(origin);
    }
    result.plain = std::move(again.graph);
    result.mapping = std::move(composed);
}

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
        for (const Node* r : f->acts) replaced.insert(r);
        if (f->pre_scale) replaced.insert(f->pre_scale);
        if (f->pre_act) replaced.insert(f->pre_act);
        if (f->projection) replaced.insert(f->shortcut.conv);
        for (const auto* list : {&f->shortcut_pre, &f->shortcut_post})
            for (const Node* s : *list) replaced.insert(s);
        replaced.insert(f->add);
        if (f->post_act) replaced.insert(f->post_act);
        emit_at[f->post_act ? f->post_act : f->add] = {f, o};
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
    // A BatchNormalization that only a widened conv feeds now (a pre-activation block's bn1 on
    // the previous block's output, once that block's Add is gone) folds into it.
    if (!foldable_batchnorms(plain).empty()) refold(result);
    return result;
}

}  // namespace rm
