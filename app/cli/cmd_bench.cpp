#include "app/cli/commands.hpp"

#include <stdexcept>

namespace rmvk::cli {

int cmd_bench(const std::vector<std::string>&) {
    throw std::runtime_error("'bench' is not implemented yet");
}

}  // namespace rmvk::cli
