#include "ui/graph_layout.hpp"

#include <algorithm>
#include <numeric>
#include <queue>

namespace rmvk::ui {

namespace {

std::string describe(const rm::Node& node, const rm::ShapeMap& shapes, const rm::Graph& graph) {
    std::string s(rm::op_name(node.op));
    if (node.op == rm::Op::Conv && node.inputs.size() > 1) {
        auto it = shapes.find(node.inputs[1]);
        if (it != shapes.end() && it->second.size() == 4) {
            s += " " + std::to_string(it->second[2]) + "x" + std::to_string(it->second[3]);
            if (node.attrs.strides.size() == 2 && node.attrs.strides[0] > 1)
                s += "/" + std::to_string(node.attrs.strides[0]);
            s += ", " + std::to_string(it->second[0]);
            if (node.attrs.group > 1) s += " g" + std::to_string(node.attrs.group);
        }
    } else if ((node.op == rm::Op::MaxPool || node.op == rm::Op::AveragePool) &&
               node.attrs.kernel.size() == 2) {
        s +=
            " " + std::to_string(node.attrs.kernel[0]) + "x" + std::to_string(node.attrs.kernel[1]);
    } else if (node.op == rm::Op::Gemm && node.inputs.size() > 1 &&
               graph.is_initializer(node.inputs[1])) {
        auto it = shapes.find(node.inputs[1]);
        if (it != shapes.end() && it->second.size() == 2)
            s += " " + std::to_string(it->second[1]) + "->" + std::to_string(it->second[0]);
    }
    return s;
}

}  // namespace

std::string short_name(const std::string& name, rm::Op op) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= name.size()) {
        size_t slash = name.find('/', start);
        if (slash == std::string::npos) slash = name.size();
        if (slash > start) parts.push_back(name.substr(start, slash - start));
        start = slash + 1;
    }
    if (parts.size() < 2) return name;
    std::string op_text(rm::op_name(op));
    if (parts.back().rfind(op_text, 0) == 0) parts.pop_back();
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i + 1 < parts.size() && parts[i + 1].rfind(parts[i] + ".", 0) == 0) continue;
        out += (out.empty() ? "" : ".") + parts[i];
    }
    return out.empty() ? name : out;
}

namespace {

std::string shape_label(const rm::ShapeMap& shapes, const std::string& tensor) {
    auto it = shapes.find(tensor);
    if (it == shapes.end()) return "";
    std::string s;
    // The batch dimension is always 1 here; leave it out to keep labels short.
    for (size_t i = 1; i < it->second.size(); ++i)
        s += (i > 1 ? "x" : "") + std::to_string(it->second[i]);
    return s;
}

// Places the boxes of one layer in their order at the x they would like, at least `gap` apart,
// shifted so that on average they sit where they want.
void pack(std::vector<LayoutNode>& nodes, const std::vector<int>& layer,
          const std::vector<float>& want) {
    constexpr float kGap = 26;
    std::vector<float> x(layer.size());
    for (size_t i = 0; i < layer.size(); ++i) {
        x[i] = want[i];
        if (i > 0) {
            float min_x = x[i - 1] + (nodes[layer[i - 1]].w + nodes[layer[i]].w) / 2 + kGap;
            x[i] = std::max(x[i], min_x);
        }
    }
    float shift = 0;
    for (size_t i = 0; i < layer.size(); ++i) shift += want[i] - x[i];
    shift /= float(std::max<size_t>(1, layer.size()));
    for (size_t i = 0; i < layer.size(); ++i) nodes[layer[i]].x = x[i] + shift;
}

}  // namespace

GraphLayout build_layout(const rm::Graph& graph, const rm::ShapeMap& shapes,
                         const BlockMembership& blocks, const std::set<std::string>& collapsed,
                         const rm::NodeMapping* mapping) {
    GraphLayout out;
    auto& nodes = out.nodes;
    std::unordered_map<std::string, int> producer_box;  // tensor -> box
    std::map<std::string, int> block_box;

    for (const auto& in : graph.inputs) {
        LayoutNode n;
        n.kind = LayoutNode::Kind::Input;
        n.id = in.name;
        n.title = "input " + in.name;
        n.subtitle = shape_label(shapes, in.name);
        producer_box[in.name] = int(nodes.size());
        nodes.push_back(n);
    }
    for (const auto& node : graph.nodes) {
        auto b = blocks.find(node.name);
        int box;
        if (b != blocks.end() && collapsed.count(b->second)) {
            auto it = block_box.find(b->second);
            if (it == block_box.end()) {
                LayoutNode n;
                n.kind = LayoutNode::Kind::Block;
                n.id = b->second;
                n.title = "block " + b->second;
                n.block = b->second;
                it = block_box.emplace(b->second, int(nodes.size())).first;
                nodes.push_back(n);
            }
            box = it->second;
            nodes[box].members.push_back(node.name);
            nodes[box].subtitle = std::to_string(nodes[box].members.size()) + " nodes (collapsed)";
        } else {
            LayoutNode n;
            n.id = node.name;
            n.title = short_name(node.name, node.op);
            n.subtitle = describe(node, shapes, graph);
            n.op = node.op;
            n.members = {node.name};
            if (b != blocks.end()) n.block = b->second;
            if (mapping) {
                auto m = mapping->find(node.name);
                if (m != mapping->end())
                    for (const auto& r : m->second.channels)
                        if (r.reserved) n.reserved_channels += r.end - r.begin;
            }
            box = int(nodes.size());
            nodes.push_back(n);
        }
        out.box_of[node.name] = box;
        for (const auto& t : node.outputs) producer_box[t] = box;
    }
    for (const auto& o : graph.outputs) {
        LayoutNode n;
        n.kind = LayoutNode::Kind::Output;
        n.id = o;
        n.title = "output " + o;
        n.subtitle = shape_label(shapes, o);
        nodes.push_back(n);
    }
    for (auto& n : nodes) {
        n.w = n.kind == LayoutNode::Kind::Block ? kNodeWidth + 20 : kNodeWidth;
        n.h = n.kind == LayoutNode::Kind::Block ? kNodeHeight + 8 : kNodeHeight;
    }

    // Edges between boxes, one per (source, target) pair, labelled with the tensor's shape.
    std::set<std::pair<int, int>> seen;
    auto add_edge = [&](int from, int to, const std::string& tensor) {
        if (from == to || !seen.insert({from, to}).second) return;
        out.edges.push_back({from, to, shape_label(shapes, tensor), {}});
    };
    for (const auto& node : graph.nodes)
        for (const auto& t : node.inputs) {
            if (t.empty() || graph.is_initializer(t)) continue;
            auto p = producer_box.find(t);
            if (p != producer_box.end()) add_edge(p->second, out.box_of[node.name], t);
        }
    int first_output = int(nodes.size() - graph.outputs.size());
    for (size_t i = 0; i < graph.outputs.size(); ++i) {
        auto p = producer_box.find(graph.outputs[i]);
        if (p != producer_box.end()) add_edge(p->second, first_output + int(i), graph.outputs[i]);
    }

    // Longest-path layering over a topological order (Kahn).
    size_t real = nodes.size();
    std::vector<std::vector<int>> succ(real);
    std::vector<int> indegree(real, 0);
    for (const auto& e : out.edges) {
        succ[e.from].push_back(e.to);
        indegree[e.to]++;
    }
    std::queue<int> ready;
    for (size_t i = 0; i < real; ++i)
        if (indegree[i] == 0) ready.push(int(i));
    std::vector<int> topo;
    while (!ready.empty()) {
        int v = ready.front();
        ready.pop();
        topo.push_back(v);
        for (int s : succ[v]) {
            nodes[s].layer = std::max(nodes[s].layer, nodes[v].layer + 1);
            if (--indegree[s] == 0) ready.push(s);
        }
    }
    int layers = 0;
    for (const auto& n : nodes) layers = std::max(layers, n.layer + 1);

    // Edges that skip layers get a dummy box per skipped layer: their lane.
    std::vector<std::vector<int>> chains(out.edges.size());
    for (size_t e = 0; e < out.edges.size(); ++e) {
        auto& edge = out.edges[e];
        chains[e].push_back(edge.from);
        for (int l = nodes[edge.from].layer + 1; l < nodes[edge.to].layer; ++l) {
            LayoutNode d;
            d.kind = LayoutNode::Kind::Dummy;
            d.layer = l;
            d.w = 14;
            chains[e].push_back(int(nodes.size()));
            nodes.push_back(d);
        }
        chains[e].push_back(edge.to);
    }
    std::vector<std::vector<int>> up(nodes.size()), down(nodes.size());
    for (const auto& chain : chains)
        for (size_t i = 0; i + 1 < chain.size(); ++i) {
            down[chain[i]].push_back(chain[i + 1]);
            up[chain[i + 1]].push_back(chain[i]);
        }

    std::vector<std::vector<int>> by_layer(layers);
    std::vector<int> rank(nodes.size(), 0);
    for (int v : topo) by_layer[nodes[v].layer].push_back(v);
    for (size_t v = real; v < nodes.size(); ++v) by_layer[nodes[v].layer].push_back(int(v));
    auto renumber = [&](const std::vector<int>& layer) {
        for (size_t i = 0; i < layer.size(); ++i) rank[layer[i]] = int(i);
    };
    for (const auto& l : by_layer) renumber(l);

    // Barycentric ordering: a few sweeps down and up.
    auto sweep = [&](int l, const std::vector<std::vector<int>>& neighbours) {
        auto& layer = by_layer[l];
        std::vector<std::pair<float, int>> keyed;
        for (int v : layer) {
            const auto& nb = neighbours[v];
            float key = float(rank[v]);
            if (!nb.empty()) {
                key = 0;
                for (int u : nb) key += float(rank[u]);
                key /= float(nb.size());
            }
            keyed.push_back({key, v});
        }
        std::stable_sort(keyed.begin(), keyed.end(),
                         [](auto& a, auto& b) { return a.first < b.first; });
        for (size_t i = 0; i < layer.size(); ++i) layer[i] = keyed[i].second;
        renumber(layer);
    };
    for (int it = 0; it < 4; ++it) {
        for (int l = 1; l < layers; ++l) sweep(l, up);
        for (int l = layers - 2; l >= 0; --l) sweep(l, down);
    }

    // x placement: start packed, then pull each box toward the mean x of its neighbours.
    for (int l = 0; l < layers; ++l)
        pack(nodes, by_layer[l], std::vector<float>(by_layer[l].size(), 0.0f));
    auto relax = [&](int l, const std::vector<std::vector<int>>& neighbours) {
        std::vector<float> want;
        for (int v : by_layer[l]) {
            const auto& nb = neighbours[v];
            float x = nodes[v].x;
            if (!nb.empty()) {
                x = 0;
                for (int u : nb) x += nodes[u].x;
                x /= float(nb.size());
            }
            want.push_back(x);
        }
        pack(nodes, by_layer[l], want);
    };
    for (int it = 0; it < 6; ++it) {
        for (int l = 1; l < layers; ++l) relax(l, up);
        for (int l = layers - 2; l >= 0; --l) relax(l, down);
    }
    for (int l = 1; l < layers; ++l) relax(l, up);

    const float pitch = kNodeHeight + 8 + kLayerGap;
    out.min_x = 1e30f;
    out.max_x = -1e30f;
    for (auto& n : nodes) {
        n.y = float(n.layer) * pitch + (n.kind == LayoutNode::Kind::Block ? 0 : 4);
        if (n.kind != LayoutNode::Kind::Dummy) {
            out.min_x = std::min(out.min_x, n.x - n.w / 2);
            out.max_x = std::max(out.max_x, n.x + n.w / 2);
        }
    }
    out.height = float(layers) * pitch;
    for (size_t e = 0; e < out.edges.size(); ++e) {
        auto& pts = out.edges[e].points;
        const auto& chain = chains[e];
        const auto& src = nodes[chain.front()];
        pts.push_back({src.x, src.y + src.h});
        for (size_t i = 1; i + 1 < chain.size(); ++i) {
            const auto& d = nodes[chain[i]];
            pts.push_back({d.x, d.y + 4});
            pts.push_back({d.x, d.y + kNodeHeight + 4});
        }
        const auto& dst = nodes[chain.back()];
        pts.push_back({dst.x, dst.y});
    }
    return out;
}

}  // namespace rmvk::ui
