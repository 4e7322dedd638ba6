#include "app/cli/commands.hpp"

#include <stdexcept>

namespace rmvk::cli {

int cmd_run(const std::vector<std::string>&) {
    throw std::runtime_error("'run' is not implemented yet");
}

}  // namespace rmvk::cli
