// The tuning variables (RMVK_CONV_TILE, RMVK_CONV_CU, RMVK_WINOGRAD) as the planner reads
// them: a value a kernel could not run with is refused with a message naming it, never run.
#include <doctest/doctest.h>

#include <string>

#include "app/engine/conv_plan.hpp"
#include "app/vulkan/vulkan_error.hpp"

using namespace rmvk;

namespace {

DeviceCaps gpu() {
    DeviceCaps caps;
    caps.type = "discrete";
    caps.subgroup_shuffle = true;
    caps.subgroup_size = 32;
    caps.max_workgroup_invocations = 1024;
    caps.max_shared_memory = 49152;
    return caps;
}

// The message of the VulkanError that apply_tuning_overrides throws ("" when it accepts).
std::string refusal(const char* tile, const char* cu = nullptr, const char* winograd = nullptr,
                    DeviceCaps caps = gpu()) {
    try {
        apply_tuning_overrides(caps, winograd, tile, cu);
    } catch (const VulkanError& e) {
        return e.what();
    }
    return "";
}

bool has(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("tiles the kernels can run are accepted and used") {
    CHECK(refusal("tiled:64:64:16:4:4") == "");
    CHECK(refusal("conv2d:32:64:16:2:4") == "");
    CHECK(refusal("direct:16:256:1:16:4") == "");
    DeviceCaps caps = gpu();
    apply_tuning_overrides(caps, nullptr, "tiled:32:32:8:2:2", "4");
    CHECK(caps.tile == "tiled:32:32:8:2:2");
    CHECK(caps.cu == 4);
    // Unset and empty variables change nothing.
    DeviceCaps unset = gpu();
    apply_tuning_overrides(unset, "", "", nullptr);
    CHECK(unset.tile.empty());
    CHECK(unset.cu == 0);
    CHECK(unset.winograd == DeviceCaps::Winograd::Auto);
}

TEST_CASE("a tiled tile with fewer invocations than its width is refused, not run") {
    // (64/8) x (64/16) = 32 invocations for a 64-wide im2col tile: the loader would loop forever.
    std::string m = refusal("tiled:64:64:16:8:16");
    CHECK(has(m, "RMVK_CONV_TILE=tiled:64:64:16:8:16: "));
    CHECK(has(m, "32 invocations to be a multiple of TN = 64"));
    CHECK(has(refusal("tiled:48:32:16:4:8"), "48 invocations to be a multiple of TN = 32"));
}

TEST_CASE("malformed tiles and tiles beyond the device's limits are refused") {
    CHECK(has(refusal("64:64:16:4:4"), "expected name:TM:TN:TK:RM:RN"));
    CHECK(has(refusal("tiled:64:64:16:4"), "expected name:TM:TN:TK:RM:RN"));
    CHECK(has(refusal("fast:64:64:16:4:4"), "unknown kernel 'fast'"));
    CHECK(has(refusal("tiled:64:64:0:4:4"), "'0' is not a size"));
    CHECK(has(refusal("tiled:64:6x4:16:4:4"), "'6x4' is not a size"));
    CHECK(has(refusal("tiled:64:64:16:-4:4"), "'-4' is not a size"));
    CHECK(has(refusal("tiled:64:64:16:3:4"), "RM must divide TM"));
    CHECK(has(refusal("tiled:128:128:16:16:16"), "256 accumulators"));
    CHECK(has(refusal("tiled:128:128:8:2:2"), "4096 invocations exceeds the device's 1024"));
    // Two buffers of 128 rows of 64 + 4 floats each for W and im2col(X).
    CHECK(has(refusal("tiled:64:64:128:4:4"), "139264 bytes of shared memory"));
    CHECK(has(refusal("tiled:30:32:16:3:2"), "TM to be a multiple of 4"));
    // The direct kernel: TM = RM (a multiple of 4), TK = 1, whole subgroups, shuffles.
    CHECK(has(refusal("direct:32:256:1:16:4"), "TM = RM"));
    CHECK(has(refusal("direct:16:48:1:16:4"), "multiple of the subgroup size 32"));
    DeviceCaps no_shuffle = gpu();
    no_shuffle.subgroup_shuffle = false;
    CHECK(has(refusal("direct:16:256:1:16:4", nullptr, nullptr, no_shuffle), "subgroup shuffles"));
}

TEST_CASE("RMVK_CONV_CU and RMVK_WINOGRAD take only the values they document") {
    CHECK(has(refusal(nullptr, "0"), "RMVK_CONV_CU=0: expected"));
    CHECK(has(refusal(nullptr, "lots"), "RMVK_CONV_CU=lots"));
    CHECK(has(refusal(nullptr, "17"), "from 1 to 16"));
    CHECK(has(refusal(nullptr, nullptr, "3"), "RMVK_WINOGRAD=3: expected 0"));
    CHECK(has(refusal(nullptr, nullptr, "on"), "RMVK_WINOGRAD=on"));
    DeviceCaps caps = gpu();
    apply_tuning_overrides(caps, "4", nullptr, nullptr);
    CHECK(caps.winograd == DeviceCaps::Winograd::On);
    CHECK(caps.winograd_m == 4);
    // The API's choice wins over the variable (still checked).
    caps = gpu();
    caps.winograd = DeviceCaps::Winograd::Off;
    apply_tuning_overrides(caps, "1", nullptr, nullptr);
    CHECK(caps.winograd == DeviceCaps::Winograd::Off);
}
