#include "app/cli/commands.hpp"

#include <stdexcept>

namespace rmvk::cli {

int cmd_convert(const std::vector<std::string>&) {
    throw std::runtime_error("'convert' is not implemented yet");
}

}  // namespace rmvk::cli
