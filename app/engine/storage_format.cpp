#include "app/engine/storage_format.hpp"

#include <cstring>

#include "rm/error.hpp"

namespace rmvk {

const char* precision_name(Precision p) {
    return p == Precision::Fp16 ? "fp16" : "fp32";
}

Precision parse_precision(const std::string& text) {
    if (text == "fp32") return Precision::Fp32;
    if (text == "fp16") return Precision::Fp16;
    throw rm::Error("unknown precision '" + text + "' (expected fp32 or fp16)");
}

uint32_t storage_element_bytes(const Context::Impl& ctx, Precision precision) {
    if (precision == Precision::Fp32) return 4;
    if (!ctx.info.storage_buffer_16bit)
        throw rm::Error("fp16 storage needs storageBuffer16BitAccess, which " + ctx.info.name +
                        " does not support (use --precision fp32)");
    return 2;
}

// The compiler's _Float16 (GCC >= 12 and Clang on x86-64 and AArch64) converts exactly as
// IEEE 754 says, in software where the CPU has no F16C.
void to_device_elements(void* dst, const float* src, size_t count, uint32_t element_bytes) {
    if (element_bytes == 4) {
        std::memcpy(dst, src, count * 4);
        return;
    }
    auto* h = static_cast<_Float16*>(dst);
    for (size_t i = 0; i < count; ++i) h[i] = static_cast<_Float16>(src[i]);
}

void from_device_elements(float* dst, const void* src, size_t count, uint32_t element_bytes) {
    if (element_bytes == 4) {
        std::memcpy(dst, src, count * 4);
        return;
    }
    const auto* h = static_cast<const _Float16*>(src);
    for (size_t i = 0; i < count; ++i) dst[i] = static_cast<float>(h[i]);
}

}  // namespace rmvk
