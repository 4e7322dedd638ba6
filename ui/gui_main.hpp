#pragma once
#include <string>
#include <vector>

namespace rmvk::ui {

// `rmvk gui [MODEL] [--image IMG] [--device D] [--screenshot PNG] ...`: runs the desktop app.
int gui_main(const std::vector<std::string>& args);

}  // namespace rmvk::ui
