#include "app/cli/commands.hpp"

#include <stdexcept>

namespace rmvk::cli {

int cmd_info(const std::vector<std::string>&) {
    throw std::runtime_error("'info' is not implemented yet");
}

}  // namespace rmvk::cli
