// GraphRunner with RunOptions::stream_weight_bytes: run() plans a segment of steps (uploading
// their weights), runs it and frees its weights before planning the next, so a runner made for
// one run never holds every weight beside its tensors.
#include "app/engine/graph_runner_impl.hpp"

namespace rmvk {

void GraphRunner::Impl::run_streamed() {
    // Weights uploaded while preparing (an initializer a view reads) stay for every run.
    const size_t kept = weights.size();
    const MemoryReport before = memory;
    uint64_t kept_bytes = 0, most_held = 0;
    for (const auto& w : weights) kept_bytes += w->size();
    // The segment's weights go, with the names that pointed into them, its scratch and its
    // plans: once it has run, and when planning or running it throws, so that the next run
    // starts from the state this one started from.
    auto release_segment = [&](size_t first, size_t last) {
        std::unordered_set<const Buffer*> gone;
        for (size_t w = kept; w < weights.size(); ++w) gone.insert(weights[w].get());
        std::erase_if(tensors, [&](const auto& t) { return gone.count(t.second.buffer) > 0; });
        weights.resize(kept);
        for (auto& b : scratch) b.reset();
        for (size_t si = first; si < last; ++si) {
            steps[si].dispatches.clear();
            steps[si].conv.clear();
        }
    };
    // The last segment's command buffer and descriptor sets name freed buffers.
    auto release_commands = [&] {
        if (cmd != VK_NULL_HANDLE)
            vkFreeCommandBuffers(ctx.device, ctx.command_pool.get(), 1, &cmd);
        cmd = VK_NULL_HANDLE;
        arena.reset();
    };
    for (size_t first = 0; first < steps.size();) {
        std::fill(std::begin(scratch_elements), std::end(scratch_elements), 0);
        uint64_t segment_bytes = 0;
        size_t last = first;
        try {
            while (last < steps.size() && segment_bytes < options.stream_weight_bytes) {
                Step& s = steps[last++];
                if (is_view(nodes[s.node].op)) continue;  // planned with the buffers
                const size_t uploaded = weights.size();
                s.dispatches = plan_step(s);
                for (size_t w = uploaded; w < weights.size(); ++w)
                    segment_bytes += weights[w]->size();
            }
            realize_conv_steps(first, last);
            record(first, last);
            ctx.submit_and_wait(cmd);
        } catch (...) {
            release_segment(first, last);
            release_commands();
            memory = before;
            throw;
        }
        most_held = std::max(most_held, kept_bytes + segment_bytes);
        release_segment(first, last);
        first = last;
    }
    memory.weight_bytes = most_held;
    release_commands();
}

}  // namespace rmvk
