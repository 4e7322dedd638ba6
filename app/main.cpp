// rmvk: one executable, one subcommand per job. With no arguments it opens the desktop app.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/exit_codes.hpp"
#include "app/gui_command.hpp"

namespace {

struct Command {
    const char* name;
    int (*run)(const std::vector<std::string>&);
    const char* summary;
};

const Command kCommands[] = {
    {"gui", rmvk::cmd_gui, "open the desktop app (the default with no arguments)"},
    {"info", rmvk::cli::cmd_info, "operators, shapes, params, MACs and residual blocks of a model"},
    {"convert", rmvk::cli::cmd_convert, "write the plain (RM) model as ONNX and verify it"},
    {"run", rmvk::cli::cmd_run, "run a model on an input (.npy or image) on the CPU or a GPU"},
    {"eval", rmvk::cli::cmd_eval, "accuracy on the Fashion-MNIST test set"},
    {"devices", rmvk::cli::cmd_devices, "list Vulkan devices and their limits"},
    {"bench", rmvk::cli::cmd_bench, "per-layer GPU timing of residual and plain graphs"},
    {"report", rmvk::cli::cmd_report, "compare bench reports from several devices"},
    {"prune", rmvk::cli::cmd_prune, "remove unused channels (plain or residual), measure the gain"},
};

void print_usage() {
    std::printf(
        "rmvk - residual networks made plain (RM), run on Vulkan\n\n"
        "usage: rmvk [COMMAND] [ARGS...]\n\ncommands:\n");
    for (const auto& c : kCommands) std::printf("  %-9s %s\n", c.name, c.summary);
    std::printf(
        "\nMODEL is a .onnx file (ONNX opsets 7-21) or builtin:NAME (builtin:resnet18 ...\n"
        "builtin:wide_resnet101_2, builtin:mobilenet_v2, builtin:mnasnet1_0,\n"
        "builtin:regnet_x_400mf, builtin:regnet_x_1_6gf); omitted, it is the bundled\n"
        "Fashion-MNIST ResNet.\n"
        "Run 'rmvk COMMAND --help' for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) args.push_back("gui");
    if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
        print_usage();
        return 0;
    }
    // "rmvk --image x.png" and friends open the GUI too.
    if (!args[0].empty() && args[0][0] == '-') args.insert(args.begin(), "gui");
    for (const auto& c : kCommands) {
        if (args[0] != c.name) continue;
        std::vector<std::string> rest(args.begin() + 1, args.end());
        try {
            return c.run(rest);
        } catch (const rmvk::cli::UsageError& e) {
            std::fprintf(stderr, "rmvk %s: %s (see 'rmvk %s --help')\n", c.name, e.what(), c.name);
            return rmvk::cli::kExitUsage;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "rmvk %s: error: %s\n", c.name, e.what());
            return rmvk::cli::kExitError;
        }
    }
    std::fprintf(stderr, "rmvk: unknown command '%s' (see 'rmvk --help')\n", args[0].c_str());
    return rmvk::cli::kExitUsage;
}
