#include "rm/node_mapping.hpp"

#include <algorithm>

namespace rm {

std::vector<std::string> plain_nodes_for(const NodeMapping& mapping,
                                         const std::string& residual_node) {
    std::vector<std::string> out;
    for (const auto& [plain, origin] : mapping) {
        const auto& r = origin.residual_nodes;
        if (std::find(r.begin(), r.end(), residual_node) != r.end()) out.push_back(plain);
    }
    return out;
}

}  // namespace rm
