#include "app/cli/commands.hpp"

#include <stdexcept>

namespace rmvk::cli {

int cmd_devices(const std::vector<std::string>&) {
    throw std::runtime_error("'devices' is not implemented yet");
}

}  // namespace rmvk::cli
