#include "app/cli/commands.hpp"

#include <stdexcept>

namespace rmvk::cli {

int cmd_eval(const std::vector<std::string>&) {
    throw std::runtime_error("'eval' is not implemented yet");
}

}  // namespace rmvk::cli
