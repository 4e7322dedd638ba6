#include "rm/channel_groups.hpp"

#include <numeric>
#include <unordered_set>

namespace rm::detail {

namespace {

// Union-find over tensor names.
class Sets {
  public:
    int id(const std::string& tensor) {
        auto [it, fresh] = ids_.emplace(tensor, static_cast<int>(parent_.size()));
        if (fresh) {
            parent_.push_back(it->second);
            names_.push_back(tensor);
        }
        return it->second;
    }
    int find(int x) {
        while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
        return x;
    }
    void unite(int a, int b) {
        a = find(a);
        b = find(b);
        if (a != b) parent_[std::max(a, b)] = std::min(a, b);  // the earliest tensor is root
    }
    bool known(const std::string& tensor) const { return ids_.count(tensor) > 0; }
    int size() const { return static_cast<int>(parent_.size()); }
    const std::string& name(int x) const { return names_[x]; }

  private:
    std::unordered_map<std::string, int> ids_;
    std::vector<int> parent_;
    std::vector<std::string> names_;
};

bool has_channels(const ShapeMap& shapes, const std::string& t) {
    auto it = shapes.find(t);
    return it != shapes.end() && (it->second.size() == 4 || it->second.size() == 2);
}

}  // namespace

const Tensor* per_channel_scale(const Graph& graph, const Node& n) {
    if (n.op != Op::Mul || n.inputs.size() != 2) return nullptr;
    auto it = graph.initializers.find(n.inputs[1]);
    if (it == graph.initializers.end() || graph.initializers.count(n.inputs[0])) return nullptr;
    const Shape& s = it->second.shape;
    const bool scalar = element_count(s) == 1 && s.size() <= 4;
    const bool c11 = s.size() == 3 && s[1] == 1 && s[2] == 1;
    const bool one_c11 = s.size() == 4 && s[0] == 1 && s[2] == 1 && s[3] == 1;
    return scalar || c11 || one_c11 ? &it->second : nullptr;
}

bool is_per_channel(const Graph& graph, const Node& n, const ShapeMap& shapes) {
    switch (n.op) {
        case Op::Relu:
        case Op::MaxPool:
        case Op::AveragePool:
        case Op::GlobalAveragePool:
        case Op::Identity:
            return true;
        case Op::BatchNormalization:
            for (size_t i = 1; i < n.inputs.size(); ++i)
                if (!graph.initializers.count(n.inputs[i])) return false;
            return true;
        case Op::Mul:
            return per_channel_scale(graph, n) != nullptr;
        case Op::Flatten: {
            auto it = shapes.find(n.inputs.at(0));
            return it != shapes.end() && it->second.size() == 4 && it->second[2] == 1 &&
                   it->second[3] == 1 && n.attrs.axis == 1;
        }
        default:
            return false;
    }
}

ChannelGroups::ChannelGroups(const Graph& graph, const ShapeMap& shapes) {
    Sets sets;
    std::vector<std::pair<std::string, std::string>> freeze;  // tensor, why
    std::unordered_map<std::string, int> weight_readers;
    for (const auto& n : graph.nodes)
        for (const auto& in : n.inputs)
            if (graph.is_initializer(in)) ++weight_readers[in];
    auto data_inputs = [&](const Node& n) {
        std::vector<std::string> v;
        for (const auto& in : n.inputs)
            if (!in.empty() && !graph.is_initializer(in) && has_channels(shapes, in))
                v.push_back(in);
        return v;
    };
    std::vector<std::pair<std::string, const Node*>> producers, readers;
    std::vector<std::string> adds;

    for (const auto& n : graph.nodes) {
        for (const auto& o : n.outputs)
            if (!o.empty() && has_channels(shapes, o)) sets.id(o);
        for (const auto& in : data_inputs(n)) sets.id(in);
        const std::string what = "node '" + n.name + "' (" + std::string(op_name(n.op)) + ")";
        auto shared = [&](size_t i) {
            return i < n.inputs.size() && !n.inputs[i].empty() && weight_readers[n.inputs[i]] > 1;
        };
        if (n.op == Op::Conv) {
            const std::string& x = n.inputs.at(0);
            const std::string& y = n.outputs.at(0);
            const bool ok = n.attrs.group == 1 && graph.initializers.count(n.inputs.at(1)) &&
                            !shared(1) && !shared(2) && sets.known(x) && sets.known(y);
            if (!ok) {
                for (const auto& t : {x, y})
                    if (sets.known(t))
                        freeze.emplace_back(t, what + " is grouped or shares weights");
                continue;
            }
            producers.emplace_back(y, &n);
            readers.emplace_back(x, &n);
        } else if (n.op == Op::Gemm) {
            const std::string& x = n.inputs.at(0);
            if (!sets.known(x)) continue;
            if (n.attrs.trans_a || !graph.initializers.count(n.inputs.at(1)) || shared(1) ||
                shared(2) || shapes.at(x).size() != 2)
                freeze.emplace_back(x, what + " cannot be narrowed");
            else
                readers.emplace_back(x, &n);
            for (const auto& o : n.outputs)
                if (sets.known(o)) freeze.emplace_back(o, what + " output");
        } else if (is_per_channel(graph, n, shapes) && sets.known(n.inputs.at(0)) &&
                   sets.known(n.outputs.at(0))) {
            sets.unite(sets.id(n.inputs[0]), sets.id(n.outputs[0]));
            if (n.op == Op::Mul && element_count(per_channel_scale(graph, n)->shape) != 1 &&
                shared(1))
                freeze.emplace_back(n.outputs[0], what + " shares its scale");
        } else if (n.op == Op::Add && data_inputs(n).size() == 2 && sets.known(n.outputs.at(0)) &&
                   shapes.at(n.inputs[0]) == shapes.at(n.outputs[0]) &&
                   shapes.at(n.inputs[1]) == shapes.at(n.outputs[0])) {
            const int y = sets.id(n.outputs[0]);
            sets.unite(y, sets.id(n.inputs[0]));
            sets.unite(y, sets.id(n.inputs[1]));
            adds.push_back(n.outputs[0]);
        } else {
            for (const auto& t : data_inputs(n)) freeze.emplace_back(t, what);
            for (const auto& o : n.outputs)
                if (sets.known(o)) freeze.emplace_back(o, what);
        }
    }
    for (const auto& in : graph.inputs)
        if (sets.known(in.name)) freeze.emplace_back(in.name, "graph input '" + in.name + "'");
    for (const auto& o : graph.outputs)
        if (sets.known(o)) freeze.emplace_back(o, "graph output '" + o + "'");

    // Number the groups by their earliest tensor.
    std::vector<int> index(static_cast<size_t>(sets.size()), -1);
    for (int t = 0; t < sets.size(); ++t) {
        const int root = sets.find(t);
        if (index[root] < 0) {
            index[root] = static_cast<int>(groups_.size());
            groups_.emplace_back();
            const Shape& s = shapes.at(sets.name(root));
            groups_.back().channels = s.at(1);
        }
        const int g = index[root];
        groups_[g].tensors.push_back(sets.name(t));
        group_of_[sets.name(t)] = g;
        if (shapes.at(sets.name(t)).at(1) != groups_[g].channels) {
            groups_[g].frozen = true;
            groups_[g].frozen_by = "channel counts differ along '" + sets.name(t) + "'";
        }
    }
    for (const auto& t : adds) groups_[group_of_.at(t)].has_add = true;
    for (const auto& [t, why] : freeze) {
        ChannelGroup& g = groups_[group_of_.at(t)];
        if (!g.frozen) g.frozen_by = why;
        g.frozen = true;
    }
    for (const auto& [t, n] : producers) groups_[group_of_.at(t)].producers.push_back(n);
    for (const auto& [t, n] : readers) groups_[group_of_.at(t)].readers.push_back(n);
}

int ChannelGroups::group_of(const std::string& tensor) const {
    auto it = group_of_.find(tensor);
    return it == group_of_.end() ? -1 : it->second;
}

bool ChannelGroups::single_producer(int group) const {
    const ChannelGroup& g = groups_.at(static_cast<size_t>(group));
    return !g.frozen && !g.has_add && g.producers.size() == 1;
}

}  // namespace rm::detail
