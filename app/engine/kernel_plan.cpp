#include "app/engine/kernel_plan.hpp"

#include <algorithm>

namespace rmvk {

uint64_t KernelPlanner::max_elements() const {
    return max_binding_elements(ctx_.max_binding_range(), ctx_.offset_alignment());
}

BufferRange KernelPlanner::bind(const TensorRef& t, uint64_t first, uint64_t count,
                                uint32_t& element_offset, uint64_t min_align) const {
    BindingRange r =
        binding_range(t.first, first, count, std::max<uint64_t>(ctx_.offset_alignment(), min_align),
                      ctx_.max_binding_range());
    element_offset = r.element_offset;
    return {t.buffer->handle(), r.offset, r.range};
}

void KernelPlanner::grid_1d(uint64_t groups, uint32_t out[3]) {
    rmvk::grid_1d(groups, out);
}

}  // namespace rmvk
