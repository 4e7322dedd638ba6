#pragma once
// A layered top-to-bottom drawing of a graph: longest-path layers, dummy nodes for edges that
// skip layers (so shortcuts get their own lane), barycentric ordering, then x placement that
// keeps chains straight. Residual blocks may be collapsed into one node. Pure geometry, no ImGui.
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "rm/graph.hpp"
#include "rm/node_mapping.hpp"
#include "rm/shape_inference.hpp"

namespace rmvk::ui {

struct Point {
    float x = 0, y = 0;
};

struct LayoutNode {
    enum class Kind { Op, Block, Input, Output, Dummy };
    Kind kind = Kind::Op;
    std::string id;        // node name, block name, or tensor name (input/output)
    std::string title;     // first line
    std::string subtitle;  // second line: operator, kernel, block size
    rm::Op op = rm::Op::Identity;
    std::vector<std::string> members;  // graph nodes drawn by this box
    std::string block;                 // residual block it belongs to (or is)
    int64_t reserved_channels = 0;     // plain convs widened by RM
    int layer = 0;
    float x = 0, y = 0, w = 0, h = 0;  // centre x, top y, size
};

struct LayoutEdge {
    int from = 0, to = 0;
    std::string label;          // tensor shape
    std::vector<Point> points;  // from bottom of source, through lanes, to top of target
};

struct GraphLayout {
    std::vector<LayoutNode> nodes;  // real nodes first, then dummies
    std::vector<LayoutEdge> edges;
    std::unordered_map<std::string, int> box_of;  // graph node name -> box drawing it
    float min_x = 0, max_x = 0, height = 0;
};

inline constexpr float kNodeWidth = 190, kNodeHeight = 44, kLayerGap = 38;

// "/layer1/layer1.0/conv1/Conv" (the ONNX exporter's scoped names) -> "layer1.0.conv1".
std::string short_name(const std::string& name, rm::Op op);

// node name -> block name for every node inside a residual block.
using BlockMembership = std::map<std::string, std::string>;

GraphLayout build_layout(const rm::Graph& graph, const rm::ShapeMap& shapes,
                         const BlockMembership& blocks, const std::set<std::string>& collapsed,
                         const rm::NodeMapping* mapping);

}  // namespace rmvk::ui
