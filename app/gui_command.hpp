#pragma once
// `rmvk gui`: the desktop app's command line, read with the CLI's one parser (cli::Args) into
// ui::GuiOptions. Part of the executable, where the CLI and the GUI meet.
#include <string>
#include <vector>

#include "ui/app.hpp"

namespace rmvk {

// Throws cli::UsageError (one line) on a bad command line.
ui::GuiOptions parse_gui_options(const std::vector<std::string>& args);

// `rmvk gui [MODEL] [--image IMG] [--device D] [--screenshot PNG] ...`: runs the desktop app.
int cmd_gui(const std::vector<std::string>& args);

}  // namespace rmvk
