#pragma once
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/engine/engine.hpp"

namespace rmvk::cli {

// A small command-line parser: "--flag value", "--flag=value", boolean "--flag", positionals.
// Unknown flags are errors, so typos never pass silently.
class Args {
  public:
    // `value_flags` take a value, `bool_flags` do not. Throws UsageError.
    Args(const std::vector<std::string>& argv, const std::set<std::string>& value_flags,
         const std::set<std::string>& bool_flags);

    bool has(const std::string& flag) const;
    std::string get(const std::string& flag, const std::string& fallback = "") const;
    int64_t get_int(const std::string& flag, int64_t fallback) const;  // throws on non-numbers
    double get_double(const std::string& flag, double fallback) const;
    // Every value a repeatable flag was given, in order (get() returns the last).
    std::vector<std::string> get_all(const std::string& flag) const;
    const std::vector<std::string>& positional() const { return positional_; }
    bool help() const { return help_; }

  private:
    std::map<std::string, std::vector<std::string>> values_;
    std::set<std::string> bools_;
    std::vector<std::string> positional_;
    bool help_ = false;
};

// The one MODEL argument a command takes, optional ("": the bundled model). Throws UsageError
// on a second one.
std::string model_argument(const Args& args);

// --plain-exec structured|dense (run, eval): true for structured, the default. Throws UsageError.
bool plain_exec_structured(const Args& args);

// --precision fp32|fp16 (run, bench, eval; default fp32). Throws UsageError.
Precision precision_option(const Args& args);
// The --precision help line, shared by the commands.
constexpr const char* kPrecisionHelp =
    "  --precision P      fp32 | fp16 (default fp32): how the Vulkan device stores weights and\n"
    "                     activations; fp16 halves memory and bandwidth, arithmetic stays fp32\n"
    "                     (needs storageBuffer16BitAccess, see 'rmvk devices')\n";

// A mistake in how a command was called; main prints it with a hint to use --help, exit 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace rmvk::cli
