#include "app/cli/args.hpp"

#include <cctype>
#include <charconv>

namespace rmvk::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& value_flags,
           const std::set<std::string>& bool_flags) {
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a == "-h" || a == "--help") {
            help_ = true;
            continue;
        }
        if (a.size() > 1 && a[0] == '-' && !(a.size() > 1 && (std::isdigit(a[1]) || a[1] == '.'))) {
            std::string flag = a, value;
            bool inline_value = false;
            if (auto eq = a.find('='); eq != std::string::npos) {
                flag = a.substr(0, eq);
                value = a.substr(eq + 1);
                inline_value = true;
            }
            if (value_flags.count(flag)) {
                if (!inline_value) {
                    if (i + 1 >= argv.size()) throw UsageError(flag + " needs a value");
                    value = argv[++i];
                }
                values_[flag].push_back(value);
            } else if (bool_flags.count(flag) && !inline_value) {
                bools_.insert(flag);
            } else {
                throw UsageError("unknown option " + flag);
            }
            continue;
        }
        positional_.push_back(a);
    }
}

bool Args::has(const std::string& flag) const {
    return values_.count(flag) || bools_.count(flag);
}

std::string Args::get(const std::string& flag, const std::string& fallback) const {
    auto it = values_.find(flag);
    return it == values_.end() ? fallback : it->second.back();
}

std::vector<std::string> Args::get_all(const std::string& flag) const {
    auto it = values_.find(flag);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int64_t Args::get_int(const std::string& flag, int64_t fallback) const {
    auto it = values_.find(flag);
    if (it == values_.end()) return fallback;
    int64_t v = 0;
    const auto& s = it->second.back();
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size())
        throw UsageError(flag + " expects a whole number, got '" + s + "'");
    return v;
}

double Args::get_double(const std::string& flag, double fallback) const {
    auto it = values_.find(flag);
    if (it == values_.end()) return fallback;
    const auto& s = it->second.back();
    try {
        size_t used = 0;
        double v = std::stod(s, &used);
        if (used != s.size()) throw std::invalid_argument("");
        return v;
    } catch (const std::exception&) {
        throw UsageError(flag + " expects a number, got '" + s + "'");
    }
}

Precision precision_option(const Args& args) {
    const std::string p = args.get("--precision", "fp32");
    if (p != "fp32" && p != "fp16")
        throw UsageError("--precision must be fp32 or fp16, not '" + p + "'");
    return parse_precision(p);
}

std::string model_argument(const Args& args) {
    const auto& p = args.positional();
    if (p.size() > 1) throw UsageError("expected at most one MODEL, got '" + p[1] + "'");
    return p.empty() ? "" : p[0];
}

bool plain_exec_structured(const Args& args) {
    const std::string exec = args.get("--plain-exec", "structured");
    if (exec != "structured" && exec != "dense")
        throw UsageError("--plain-exec must be structured or dense, not '" + exec + "'");
    return exec == "structured";
}

}  // namespace rmvk::cli
