#include "app/engine/kernel_plan.hpp"

#include <algorithm>

namespace rmvk {

uint64_t KernelPlanner::max_elements() const {
    uint64_t limit = ctx_.max_binding_range();
    uint64_t align = std::max<uint64_t>(ctx_.offset_alignment(), 16);
    return limit > align ? (limit - align) / 4 : 0;
}

BufferRange KernelPlanner::bind(const TensorRef& t, uint64_t first, uint64_t count,
                                uint32_t& element_offset, uint64_t min_align) const {
    uint64_t align = std::max<uint64_t>(ctx_.offset_alignment(), min_align);
    uint64_t byte = (t.first + first) * 4;
    uint64_t start = byte - byte % align;
    uint64_t range = byte + std::max<uint64_t>(count, 1) * 4 - start;
    if (range > ctx_.max_binding_range())
        throw VulkanError("internal error: a binding of " + std::to_string(range) +
                          " bytes exceeds the device limit of " +
                          std::to_string(ctx_.max_binding_range()));
    element_offset = static_cast<uint32_t>((byte - start) / 4);
    return {t.buffer->handle(), start, range};
}

void KernelPlanner::grid_1d(uint64_t groups, uint32_t out[3]) {
    uint64_t gx = std::min<uint64_t>(std::max<uint64_t>(groups, 1), 65535);
    out[0] = static_cast<uint32_t>(gx);
    out[1] = static_cast<uint32_t>((groups + gx - 1) / gx);
    out[2] = 1;
    if (out[1] == 0) out[1] = 1;
}

}  // namespace rmvk
