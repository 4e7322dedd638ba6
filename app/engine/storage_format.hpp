#pragma once
// Tensor elements as the device stores them (RunOptions::precision): fp32, or fp16 converted on
// the host on the way in and out (round to nearest even; Inf and NaN kept, overflow to Inf).
#include <cstddef>
#include <cstdint>

#include "app/engine/context_impl.hpp"

namespace rmvk {

// Bytes per element for `precision` on this device: 4, or 2 for fp16. Throws rm::Error (one
// line naming the device and the feature) when the device cannot store fp16.
uint32_t storage_element_bytes(const Context::Impl& ctx, Precision precision);

// `count` floats into device elements of `element_bytes` (4 or 2) at dst, and back.
void to_device_elements(void* dst, const float* src, size_t count, uint32_t element_bytes);
void from_device_elements(float* dst, const void* src, size_t count, uint32_t element_bytes);

}  // namespace rmvk
