#pragma once
// Which feature maps share one channel numbering: pruning channel c of one of them prunes it in
// all. Per-channel operators (ReLU, pools, a per-channel Mul, Flatten after global pooling) keep
// the numbering; an Add ties its inputs and its output together. Internal to rm/prune.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "rm/graph.hpp"
#include "rm/shape_inference.hpp"

namespace rm::detail {

struct ChannelGroup {
    std::vector<std::string> tensors;    // graph order of their producers
    std::vector<const Node*> producers;  // Convs writing a tensor of the group (their rows)
    std::vector<const Node*> readers;    // Convs and Gemms reading one (their columns)
    int64_t channels = 0;
    bool has_add = false;  // channels tied across a residual Add
    // Touches a graph input or output, an operator pruning cannot narrow, or a weight that
    // several nodes share: its channels stay.
    bool frozen = false;
    std::string frozen_by;  // why, for messages
};

class ChannelGroups {
  public:
    ChannelGroups(const Graph& graph, const ShapeMap& shapes);

    const std::vector<ChannelGroup>& groups() const { return groups_; }
    // The group of `tensor`, or -1 when it has no channel numbering rmvk prunes.
    int group_of(const std::string& tensor) const;
    // Channel c of `tensor` is tied to channels of others only through per-channel operators
    // and this conv: a threshold may zero it without touching any other layer's channel.
    bool single_producer(int group) const;

  private:
    std::vector<ChannelGroup> groups_;
    std::unordered_map<std::string, int> group_of_;
};

// The node reads input 0 channel by channel into the same channel of its output.
bool is_per_channel(const Graph& graph, const Node& n, const ShapeMap& shapes);
// A Mul's per-channel constant operand ([C,1,1], [1,C,1,1], or a scalar), or nullptr.
const Tensor* per_channel_scale(const Graph& graph, const Node& n);

}  // namespace rm::detail
