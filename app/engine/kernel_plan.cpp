#include "app/engine/kernel_plan.hpp"

#include <algorithm>

namespace rmvk {

uint64_t KernelPlanner::max_elements() const {
    return max_binding_elements(ctx_.max_binding_range(element_bytes_), ctx_.offset_alignment(),
                                element_bytes_);
}

BufferRange KernelPlanner::bind(const TensorRef& t, uint64_t first, uint64_t count,
                                uint32_t& element_offset, uint64_t min_align) const {
    BindingRange r =
        binding_range(t.first, first, count, std::max<uint64_t>(ctx_.offset_alignment(), min_align),
                      ctx_.max_binding_range(element_bytes_), element_bytes_);
    element_offset = r.element_offset;
    return {t.buffer->handle(), r.offset, r.range};
}

const ComputePipeline& KernelPlanner::pipeline(std::string_view shader, uint32_t bindings,
                                               uint32_t push_bytes,
                                               std::span<const uint32_t> spec_constants,
                                               uint32_t texel_mask, uint32_t rgba_mask) {
    return ctx_.pipeline(shader, bindings, push_bytes, spec_constants, texel_mask, rgba_mask,
                         element_bytes_);
}

void KernelPlanner::grid_1d(uint64_t groups, uint32_t out[3]) {
    rmvk::grid_1d(groups, out);
}

}  // namespace rmvk
