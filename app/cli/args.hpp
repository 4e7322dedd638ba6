#pragma once
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

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
    const std::vector<std::string>& positional() const { return positional_; }
    bool help() const { return help_; }

  private:
    std::map<std::string, std::string> values_;
    std::set<std::string> bools_;
    std::vector<std::string> positional_;
    bool help_ = false;
};

// --plain-exec structured|dense (run, eval): true for structured, the default. Throws UsageError.
bool plain_exec_structured(const Args& args);

// A mistake in how a command was called; main prints it with a hint to use --help, exit 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace rmvk::cli
