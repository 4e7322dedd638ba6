// Fuzz target: bench-report JSON (rmvk::bench_report_from_json, what `rmvk report` and the
// GUI's timing panel load, often from other machines). Any text must load or throw
// std::runtime_error; whatever loads must save and load again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "app/report/bench_report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    rmvk::BenchReport report;
    try {
        report =
            rmvk::bench_report_from_json(std::string(reinterpret_cast<const char*>(data), size));
    } catch (const std::runtime_error&) {
        return 0;
    }
    const rmvk::BenchReport again = rmvk::bench_report_from_json(rmvk::to_json(report));
    if (again.graphs.size() != report.graphs.size() || again.device.name != report.device.name)
        std::abort();
    return 0;
}
