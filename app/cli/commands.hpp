#pragma once
#include <string>
#include <vector>

namespace rmvk::cli {

// Each subcommand: takes the arguments after its name, returns the process exit code.
// Errors are thrown (rm::Error, rmvk::VulkanError, UsageError) and printed by main.
int cmd_info(const std::vector<std::string>& args);
int cmd_convert(const std::vector<std::string>& args);
int cmd_run(const std::vector<std::string>& args);
int cmd_eval(const std::vector<std::string>& args);
int cmd_devices(const std::vector<std::string>& args);
int cmd_bench(const std::vector<std::string>& args);
int cmd_report(const std::vector<std::string>& args);
int cmd_prune(const std::vector<std::string>& args);

}  // namespace rmvk::cli
