#pragma once
// Lookup tables over one graph, built once so the passes never scan the node list per query.
// Internal to the passes (fold_batchnorm, residual_blocks, rm_transform).
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "rm/graph.hpp"

namespace rm::detail {

class GraphIndex {
  public:
    explicit GraphIndex(const Graph& graph) : graph_(graph) {
        for (size_t i = 0; i < graph.nodes.size(); ++i) {
            const Node& n = graph.nodes[i];
            by_name_[n.name] = &n;
            for (const auto& o : n.outputs)
                if (!o.empty()) producer_[o] = &n;
            for (const auto& in : n.inputs)
                if (!in.empty()) consumers_[in].push_back(&n);
        }
        for (const auto& o : graph.outputs) outputs_.insert(o);
    }

    const Graph& graph() const { return graph_; }
    const Node* producer(const std::string& tensor) const {
        auto it = producer_.find(tensor);
        return it == producer_.end() ? nullptr : it->second;
    }
    const Node* node(const std::string& name) const {
        auto it = by_name_.find(name);
        return it == by_name_.end() ? nullptr : it->second;
    }
    // Readers of `tensor`; a node reading it twice appears twice.
    const std::vector<const Node*>& consumers(const std::string& tensor) const {
        static const std::vector<const Node*> kNone;
        auto it = consumers_.find(tensor);
        return it == consumers_.end() ? kNone : it->second;
    }
    bool is_graph_output(const std::string& tensor) const { return outputs_.count(tensor) > 0; }
    // True when `tensor` feeds exactly one node input and is not a graph output: a node that
    // produces it can be rewritten without anyone else noticing.
    bool private_tensor(const std::string& tensor) const {
        return consumers(tensor).size() == 1 && !is_graph_output(tensor);
    }
    // A dense constant, or nullptr (also for structured weights: see initializer_shape).
    const Tensor* initializer(const std::string& name) const {
        auto it = graph_.initializers.find(name);
        return it == graph_.initializers.end() ? nullptr : &it->second;
    }
    // The shape of a constant (dense or structured), or nullptr.
    const Shape* initializer_shape(const std::string& name) const {
        return graph_.initializer_shape(name);
    }

  private:
    const Graph& graph_;
    std::unordered_map<std::string, const Node*> by_name_;
    std::unordered_map<std::string, const Node*> producer_;
    std::unordered_map<std::string, std::vector<const Node*>> consumers_;
    std::unordered_set<std::string> outputs_;
};

// Hands out names not yet used by any tensor or node of a graph ("x", "x.1", "x.2", ...).
class NameSet {
  public:
    explicit NameSet(const Graph& graph) {
        for (const auto& in : graph.inputs) used_.insert(in.name);
        for (const auto& [name, t] : graph.initializers) used_.insert(name);
        for (const auto& [name, s] : graph.structured_weights) used_.insert(name);
        for (const auto& n : graph.nodes) {
            used_.insert(n.name);
            for (const auto& o : n.outputs) used_.insert(o);
        }
    }
    std::string fresh(const std::string& wanted) {
        std::string name = wanted;
        for (int i = 1; used_.count(name); ++i) name = wanted + "." + std::to_string(i);
        used_.insert(name);
        return name;
    }

  private:
    std::unordered_set<std::string> used_;
};

}  // namespace rm::detail
