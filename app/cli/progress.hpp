#pragma once
// A one-line progress bar on stderr, drawn only when stderr is a terminal so logs and test
// output stay clean.
#include <unistd.h>

#include <cstdio>
#include <string>

namespace rmvk::cli {

class ProgressBar {
  public:
    ProgressBar(size_t total, bool enabled = true)
        : total_(total ? total : 1), enabled_(enabled && isatty(2)) {}
    ~ProgressBar() { finish(); }
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;

    void step(const std::string& label) {
        if (done_ < total_) ++done_;
        if (!enabled_) return;
        constexpr size_t kWidth = 30;
        size_t filled = done_ * kWidth / total_;
        std::fprintf(stderr, "\r[%s%s] %3zu%% %-40.40s", std::string(filled, '#').c_str(),
                     std::string(kWidth - filled, ' ').c_str(), done_ * 100 / total_,
                     label.c_str());
        std::fflush(stderr);
        drawn_ = true;
    }
    void finish() {
        if (drawn_) std::fprintf(stderr, "\r%80s\r", "");
        drawn_ = false;
    }

  private:
    size_t total_;
    size_t done_ = 0;
    bool enabled_;
    bool drawn_ = false;
};

}  // namespace rmvk::cli
