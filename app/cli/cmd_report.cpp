#include "app/cli/commands.hpp"

#include <stdexcept>

namespace rmvk::cli {

int cmd_report(const std::vector<std::string>&) {
    throw std::runtime_error("'report' is not implemented yet");
}

}  // namespace rmvk::cli
