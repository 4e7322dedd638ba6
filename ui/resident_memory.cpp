#include "ui/resident_memory.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace rmvk::ui {

ResidentMemory resident_memory() {
    ResidentMemory m;
    std::ifstream status("/proc/self/status");
    std::string line;
    auto kib_after = [&](const char* key, uint64_t& out) {
        if (line.rfind(key, 0) != 0) return;
        unsigned long long kib = 0;
        if (std::sscanf(line.c_str() + std::char_traits<char>::length(key), " %llu", &kib) == 1)
            out = uint64_t(kib) * 1024;
    };
    while (std::getline(status, line)) {
        kib_after("VmRSS:", m.current_bytes);
        kib_after("VmHWM:", m.peak_bytes);
    }
    return m;
}

uint64_t physical_memory_bytes() {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
}

std::string format_bytes(uint64_t bytes) {
    char buf[32];
    if (bytes >= 1000ull * 1000 * 1000)
        std::snprintf(buf, sizeof(buf), "%.2f GB", double(bytes) / 1e9);
    else if (bytes >= 10ull * 1000 * 1000)
        std::snprintf(buf, sizeof(buf), "%.0f MB", double(bytes) / 1e6);
    else
        std::snprintf(buf, sizeof(buf), "%.2f MB", double(bytes) / 1e6);
    return buf;
}

}  // namespace rmvk::ui
