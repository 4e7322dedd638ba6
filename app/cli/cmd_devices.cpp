// rmvk devices: what Vulkan devices this machine has and the limits that matter to rmvk.
#include <cstdio>

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/table.hpp"
#include "app/engine/engine.hpp"
#include "app/report/bench_report.hpp"
#include "app/vulkan/vulkan_error.hpp"

namespace rmvk::cli {

namespace {

constexpr const char* kHelp =
    "usage: rmvk devices [--json]\n\n"
    "Lists every Vulkan device: index, name, vendor, type, driver, API version, the largest\n"
    "storage buffer, compute shared memory, subgroup size, compute units, fp16 and\n"
    "cooperative-matrix support, the compute queue family, timestamps and memory types.\n"
    "The device marked * is the default for run/bench; pick another with --device INDEX|NAME.\n\n"
    "  --json   print the list as JSON\n";

}  // namespace

int cmd_devices(const std::vector<std::string>& argv) {
    Args args(argv, {}, {"--json"});
    if (args.help()) {
        std::printf("%s", kHelp);
        return 0;
    }
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    auto devices = list_devices();
    if (devices.empty())
        throw VulkanError(
            "no Vulkan device found (install a Vulkan driver, e.g. mesa-vulkan-drivers for the "
            "CPU)");
    if (args.has("--json")) {
        std::printf("%s", devices_to_json(devices).c_str());
        return 0;
    }
    int chosen = choose_device(devices, "");
    for (const auto& d : devices) {
        std::printf("%s[%d] %s\n", d.index == chosen ? "*" : " ", d.index, d.name.c_str());
        std::printf("      vendor            %s (%s)\n", d.vendor.c_str(), d.type.c_str());
        std::printf("      driver            %s\n", d.driver.c_str());
        std::printf("      Vulkan API        %s\n", d.api_version.c_str());
        std::printf("      max storage buf   %s\n", fmt_bytes(d.max_storage_buffer_range).c_str());
        std::printf("      shared memory     %u KiB per workgroup, %u invocations max\n",
                    d.max_compute_shared_memory / 1024, d.max_workgroup_invocations);
        std::printf("      subgroup size     %u\n", d.subgroup_size);
        std::printf("      compute units     %u (%s)\n", d.compute_units,
                    d.compute_units_source == "default" ? "not reported: rmvk's default"
                                                        : d.compute_units_source.c_str());
        std::printf("      fp16              storage %s, arithmetic %s; cooperative matrix %s\n",
                    d.storage_buffer_16bit ? "yes" : "no", d.shader_float16 ? "yes" : "no",
                    d.cooperative_matrix ? "yes" : "no");
        std::printf("      compute queue     family %u\n", d.queue_family);
        if (d.timestamp_valid_bits)
            std::printf("      timestamps        %u bits, %.3g ns per tick\n",
                        d.timestamp_valid_bits, static_cast<double>(d.timestamp_period_ns));
        else
            std::printf(
                "      timestamps        not supported on the compute queue (bench uses wall "
                "time)\n");
        if (d.device_local_memory)
            std::printf("      device memory     %s\n", fmt_bytes(d.device_local_memory).c_str());
        for (size_t t = 0; t < d.memory_types.size(); ++t)
            std::printf("      memory type %-5zu %s\n", t, d.memory_types[t].c_str());
    }
    return 0;
}

}  // namespace rmvk::cli
