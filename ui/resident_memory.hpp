#pragma once
// The app's own memory use as the kernel counts it (resident set size), for the status bar and
// the state dump. On a CPU Vulkan device (lavapipe) device buffers are host memory and count too.
#include <cstdint>
#include <string>

namespace rmvk::ui {

struct ResidentMemory {
    uint64_t current_bytes = 0;  // VmRSS
    uint64_t peak_bytes = 0;     // VmHWM: the most it has been since the process started
};

// Reads /proc/self/status; zeros where it cannot be read (no error: a display figure).
ResidentMemory resident_memory();
// The machine's physical memory (0 when unknown).
uint64_t physical_memory_bytes();
// "1.23 GB" / "456 MB" / "0.68 MB": decimal units, as /usr/bin/time and the README state them.
std::string format_bytes(uint64_t bytes);

}  // namespace rmvk::ui
