#pragma once
// Parsers that take a path (read_npy, read_image, the IDX reader) are fuzzed through a real file:
// each input is written to a private temporary directory, removed when the process exits.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace rmvk_fuzz {

class ScratchDir {
  public:
    ScratchDir() {
        const char* base = std::getenv("TMPDIR");
        std::string templ = std::string(base && *base ? base : "/tmp") + "/rmvk_fuzz_XXXXXX";
        if (!mkdtemp(templ.data())) {
            std::perror("rmvk fuzz: mkdtemp");
            std::abort();
        }
        dir_ = templ;
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    const std::string& dir() const { return dir_; }

    // Writes `size` bytes to dir/name and returns the path.
    std::string write(const std::string& name, const uint8_t* data, size_t size) const {
        const std::string path = dir_ + "/" + name;
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (!f || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
            std::perror("rmvk fuzz: writing the input file");
            std::abort();
        }
        return path;
    }

  private:
    std::string dir_;
};

// One per process: a fuzzer calls its target millions of times.
inline const ScratchDir& scratch() {
    static const ScratchDir dir;
    return dir;
}

}  // namespace rmvk_fuzz
