#include "ui/gui_main.hpp"

#include <stdexcept>

namespace rmvk::ui {

int gui_main(const std::vector<std::string>&) {
    throw std::runtime_error("the desktop app is not implemented yet");
}

}  // namespace rmvk::ui
