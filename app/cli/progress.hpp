#pragma once
// Progress on stderr, the one printer every command uses: on a terminal a bar redrawn in place;
// otherwise (logs, CI) nothing, or a line every ~10 % when the command asks for a log prefix.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

namespace rmvk::cli {

class Progress {
  public:
    // `unit` ("images") shows done/total instead of a percentage; `log_prefix` ("eval") turns on
    // the ~10 % lines when stderr is not a terminal.
    explicit Progress(int64_t total, std::string unit = "", std::string log_prefix = "")
        : total_(std::max<int64_t>(total, 1)),
          unit_(std::move(unit)),
          log_prefix_(std::move(log_prefix)),
          tty_(isatty(2) != 0) {}
    ~Progress() { finish(); }
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    void step(const std::string& label = "") { update(done_ + 1, label); }

    void update(int64_t done, const std::string& label = "") {
        done_ = std::min(done, total_);
        if (tty_) {
            constexpr int64_t kWidth = 30;
            const int64_t filled = done_ * kWidth / total_;
            std::string count =
                unit_.empty() ? std::to_string(done_ * 100 / total_) + "%"
                              : std::to_string(done_) + "/" + std::to_string(total_) + " " + unit_;
            std::fprintf(stderr, "\r[%s%s] %s %-40.40s", std::string(filled, '#').c_str(),
                         std::string(kWidth - filled, ' ').c_str(), count.c_str(), label.c_str());
            drawn_ = true;
        } else if (!log_prefix_.empty() &&
                   (done_ == total_ || done_ * 10 / total_ != last_tenth_)) {
            last_tenth_ = done_ * 10 / total_;
            std::fprintf(stderr, "%s: %lld/%lld %s\n", log_prefix_.c_str(),
                         static_cast<long long>(done_), static_cast<long long>(total_),
                         unit_.c_str());
        }
        std::fflush(stderr);
    }

    // Clears the bar (a finished run leaves no half-drawn line behind).
    void finish() {
        if (drawn_) std::fprintf(stderr, "\r%100s\r", "");
        drawn_ = false;
    }

  private:
    int64_t total_;
    int64_t done_ = 0;
    std::string unit_, log_prefix_;
    bool tty_;
    bool drawn_ = false;
    int64_t last_tenth_ = 0;
};

}  // namespace rmvk::cli
