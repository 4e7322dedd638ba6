#pragma once
// Plain-text tables and number formatting for the CLI's reports.
#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace rmvk::cli {

// printf into a std::string.
inline std::string strf(const char* format, ...) __attribute__((format(printf, 1, 2)));
inline std::string strf(const char* format, ...) {
    va_list args;
    va_start(args, format);
    char buf[512];
    int n = std::vsnprintf(buf, sizeof buf, format, args);
    va_end(args);
    if (n < static_cast<int>(sizeof buf))
        return std::string(buf, n < 0 ? 0 : static_cast<size_t>(n));
    std::string out(static_cast<size_t>(n), '\0');
    va_start(args, format);
    std::vsnprintf(out.data(), out.size() + 1, format, args);
    va_end(args);
    return out;
}

// Columns padded to their widest cell; the first column is left-aligned, the others right-aligned
// (they hold numbers), unless the column is marked left in `left_columns`.
class Table {
  public:
    explicit Table(std::vector<std::string> header, size_t left_columns = 1)
        : header_(std::move(header)), left_columns_(left_columns) {}

    void add(std::vector<std::string> row) {
        row.resize(header_.size());
        rows_.push_back(std::move(row));
    }
    void add_separator() { rows_.push_back({}); }
    bool empty() const { return rows_.empty(); }

    std::string str() const {
        std::vector<size_t> width(header_.size(), 0);
        auto measure = [&](const std::vector<std::string>& r) {
            for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
        };
        measure(header_);
        for (const auto& r : rows_) measure(r);
        size_t total = 0;
        for (size_t w : width) total += w + 2;
        std::string out;
        auto line = [&](const std::vector<std::string>& r) {
            std::string l;
            for (size_t i = 0; i < r.size(); ++i) {
                size_t pad = width[i] - r[i].size();
                if (i < left_columns_)
                    l += r[i] + std::string(pad, ' ');
                else
                    l += std::string(pad, ' ') + r[i];
                if (i + 1 < r.size()) l += "  ";
            }
            while (!l.empty() && l.back() == ' ') l.pop_back();
            out += l + "\n";
        };
        line(header_);
        out += std::string(total > 2 ? total - 2 : 0, '-') + "\n";
        for (const auto& r : rows_) {
            if (r.empty())
                out += std::string(total > 2 ? total - 2 : 0, '-') + "\n";
            else
                line(r);
        }
        return out;
    }

  private:
    std::vector<std::string> header_;
    size_t left_columns_;
    std::vector<std::vector<std::string>> rows_;
};

inline std::string fmt_ms(double ms) {
    if (ms <= 0) return "-";
    return ms < 1 ? strf("%.3f", ms) : ms < 100 ? strf("%.2f", ms) : strf("%.1f", ms);
}
// Rates from 0.001 to thousands with three significant digits or one decimal.
inline std::string fmt_rate(double v) {
    if (v <= 0) return "-";
    return v < 10 ? strf("%.3g", v) : strf("%.1f", v);
}
inline std::string fmt_ratio(double r) {
    return r > 0 ? strf("%.2fx", r) : "-";
}
inline std::string fmt_bytes(uint64_t b) {
    if (b < (1u << 20)) return strf("%.1f KiB", double(b) / 1024.0);
    return strf("%.1f MiB", double(b) / (1024.0 * 1024.0));
}
inline std::string fmt_count(int64_t n) {  // 4.09 G, 11.7 M
    double v = static_cast<double>(n);
    if (v >= 1e9) return strf("%.2f G", v / 1e9);
    if (v >= 1e6) return strf("%.2f M", v / 1e6);
    if (v >= 1e3) return strf("%.1f k", v / 1e3);
    return std::to_string(n);
}

}  // namespace rmvk::cli
