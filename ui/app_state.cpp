#include "ui/app_state.hpp"

namespace rmvk::ui {

std::string output_of(const rm::Graph& graph, const std::string& node) {
    const rm::Node* n = graph.find_node(node);
    return n && !n->outputs.empty() ? n->outputs[0] : "";
}

}  // namespace rmvk::ui
