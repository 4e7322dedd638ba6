// GraphRunner: weights and tensors on the device, every step planned, activation buffers
// reused by liveness, and the one command buffer recorded.
#include "app/engine/graph_runner_impl.hpp"

namespace rmvk {

TensorRef GraphRunner::Impl::upload(const rm::Tensor& t) {
    auto buf = std::make_unique<Buffer>(
        ctx, static_cast<uint64_t>(std::max<int64_t>(t.size(), 1)) * element_bytes,
        MemoryKind::DeviceLocal);
    TensorRef ref{buf.get(), 0, t.shape};
    memory.weight_bytes += buf->size();
    weights.push_back(std::move(buf));
    write_buffer(ref, t.ptr());
    return ref;
}

TensorRef GraphRunner::Impl::weight(const std::string& name) {
    auto it = tensors.find(name);
    if (it != tensors.end()) return it->second;
    rm::Tensor holder;
    return tensors[name] = upload(dense(name, holder));
}

const rm::Tensor& GraphRunner::Impl::dense(const std::string& name, rm::Tensor& holder) const {
    if (auto it = graph.initializers.find(name); it != graph.initializers.end()) return it->second;
    holder = graph.materialise(name);
    return holder;
}

void GraphRunner::Impl::write_buffer(const TensorRef& dst, const float* src) {
    const auto count = static_cast<size_t>(rm::element_count(dst.shape));
    const uint64_t bytes = count * element_bytes;
    if (bytes == 0) return;
    if (dst.buffer->mapped()) {
        to_device_elements(static_cast<char*>(dst.buffer->mapped()) + dst.first * element_bytes,
                           src, count, element_bytes);
        return;
    }
    Buffer staging(ctx, bytes, MemoryKind::Staging);
    to_device_elements(staging.mapped(), src, count, element_bytes);
    ctx.submit_and_wait([&](VkCommandBuffer c) {
        VkBufferCopy region{0, dst.first * element_bytes, bytes};
        vkCmdCopyBuffer(c, staging.handle(), dst.buffer->handle(), 1, &region);
    });
}

void GraphRunner::Impl::read_buffer(const TensorRef& src, float* dst) const {
    const auto count = static_cast<size_t>(rm::element_count(src.shape));
    const uint64_t bytes = count * element_bytes;
    if (bytes == 0) return;
    if (src.buffer->mapped()) {
        from_device_elements(
            dst, static_cast<const char*>(src.buffer->mapped()) + src.first * element_bytes, count,
            element_bytes);
        return;
    }
    Buffer staging(ctx, bytes, MemoryKind::Staging);
    ctx.submit_and_wait([&](VkCommandBuffer c) {
        VkBufferCopy region{src.first * element_bytes, 0, bytes};
        vkCmdCopyBuffer(c, src.buffer->handle(), staging.handle(), 1, &region);
    });
    from_device_elements(dst, staging.mapped(), count, element_bytes);
}

std::vector<Dispatch> GraphRunner::Impl::plan_step(Step& s) {
    const rm::Node& n = nodes[s.node];
    auto in = [&](size_t k) -> TensorRef {
        const std::string& name = n.inputs.at(k);
        if (graph.is_initializer(name)) return weight(name);
        return tensors.at(name);
    };
    const TensorRef& y = tensors.at(s.output);
    switch (n.op) {
        case rm::Op::Conv:
            plan_conv_step(s);
            return {};  // realized once the scratch buffers exist (allocate_and_plan)
        case rm::Op::BatchNormalization: {
            int64_t c = graph.initializers.at(n.inputs[1]).size();
            const std::vector<double> scale = rm::bn_affine(graph, n, c).scale;
            rm::Tensor params(rm::Shape{c * 3});
            for (int64_t ch = 0; ch < c; ++ch) {
                params.data[3 * ch] = static_cast<float>(scale[ch]);
                params.data[3 * ch + 1] = graph.initializers.at(n.inputs[3]).data[ch];
                params.data[3 * ch + 2] = graph.initializers.at(n.inputs[2]).data[ch];
            }
            return plan_batchnorm(planner, in(0), upload(params), y, s.relu);
        }
        case rm::Op::Relu:
            return plan_relu(planner, in(0), y);
        case rm::Op::Add:
            return plan_binary(planner, BinaryOp::Add, in(0), in(1), y, s.relu);
        case rm::Op::Mul:
            return plan_binary(planner, BinaryOp::Mul, in(0), in(1), y, s.relu);
        case rm::Op::Clip:
        case rm::Op::PRelu:
        case rm::Op::Max:
        case rm::Op::Min: {
            const rm::Shape& x = shapes.at(n.inputs.at(0));
            if (auto c = rm::as_channel_clamp(graph, n, x.size() > 1 ? x[1] : 1)) {
                rm::Tensor params(rm::Shape{2 * c->channels()});
                for (int64_t ch = 0; ch < c->channels(); ++ch) {
                    params.data[2 * ch] = c->lo[ch];
                    params.data[2 * ch + 1] = c->hi[ch];
                }
                const bool constant_first = graph.is_initializer(n.inputs[0]);
                return plan_clamp(planner, in(constant_first ? 1 : 0), upload(params), y);
            }
            const BinaryOp op = n.op == rm::Op::Max   ? BinaryOp::Max
                                : n.op == rm::Op::Min ? BinaryOp::Min
                                                      : BinaryOp::PRelu;
            return plan_binary(planner, op, in(0), in(1), y, false);
        }
        case rm::Op::ReduceMean:  // over H and W (infer_shapes): [N, C] or [N, C, 1, 1]
            return plan_global_avg_pool(planner, in(0), y);
        case rm::Op::MaxPool:
            return plan_pool(planner, in(0), y, n.attrs, false);
        case rm::Op::AveragePool:
            return plan_pool(planner, in(0), y, n.attrs, true);
        case rm::Op::GlobalAveragePool:
            return plan_global_avg_pool(planner, in(0), y);
        case rm::Op::Gemm: {
            bool has_c = n.inputs.size() > 2 && !n.inputs[2].empty();
            TensorRef c = has_c ? in(2) : TensorRef{};
            return plan_gemm(planner, in(0), in(1), has_c ? &c : nullptr, y, n.attrs);
        }
        case rm::Op::MatMul:
            return plan_matmul(planner, in(0), in(1), y);
        case rm::Op::Softmax:
            return plan_softmax(planner, in(0), y, n.attrs.axis);
        default:
            return {};
    }
}

void GraphRunner::Impl::allocate_and_plan() {
    std::unordered_set<std::string> pinned(graph.outputs.begin(), graph.outputs.end());
    // Aliases: a view's output shares its input's buffer, so liveness is tracked per root tensor.
    std::unordered_map<std::string, std::string> root;
    auto root_of = [&](const std::string& t) {
        auto it = root.find(t);
        return it == root.end() ? t : it->second;
    };
    for (const auto& s : steps) {
        const rm::Node& n = nodes[s.node];
        if (is_view(n.op) && !graph.is_initializer(n.inputs.at(0)))
            root[s.output] = root_of(n.inputs.at(0));
    }
    std::unordered_set<std::string> pinned_roots;
    for (const auto& o : pinned) pinned_roots.insert(root_of(o));
    std::unordered_map<std::string, size_t> last_use;
    for (size_t si = 0; si < steps.size(); ++si) {
        for (const auto& in : nodes[steps[si].node].inputs) {
            if (in.empty() || graph.is_initializer(in)) continue;
            last_use[root_of(in)] = si;
            // Elided copies are read from the tensors that hold them.
            if (auto e = elided.find(in); e != elided.end())
                for (const auto& [home, channel] : e->second)
                    if (!home.empty()) last_use[root_of(home)] = si;
        }
        if (!steps[si].residual.empty()) last_use[root_of(steps[si].residual)] = si;
        last_use.try_emplace(root_of(steps[si].output), si);
    }

    // Graph inputs: their own buffers, written by run().
    for (const auto& vi : graph.inputs) {
        const auto& shape = shapes.at(vi.name);
        auto buf = std::make_unique<Buffer>(
            ctx,
            static_cast<uint64_t>(std::max<int64_t>(rm::element_count(shape), 1)) * element_bytes,
            MemoryKind::DeviceLocal);
        tensors[vi.name] = {buf.get(), 0, shape};
        readable.insert(vi.name);
        activations.push_back(std::move(buf));
    }
    std::multimap<uint64_t, Buffer*> free_buffers;  // by size
    std::unordered_map<std::string, Buffer*> owner;
    for (size_t si = 0; si < steps.size(); ++si) {
        Step& s = steps[si];
        const rm::Node& n = nodes[s.node];
        const rm::Shape& shape = shapes.at(s.output);
        if (is_view(n.op)) {
            const std::string& src = n.inputs.at(0);
            TensorRef ref = graph.is_initializer(src) ? weight(src) : tensors.at(src);
            ref.shape = shape;
            tensors[s.output] = ref;
        } else {
            uint64_t bytes = static_cast<uint64_t>(std::max<int64_t>(rm::element_count(shape), 1)) *
                             element_bytes;
            Buffer* buf = nullptr;
            auto it =
                options.keep_intermediates ? free_buffers.end() : free_buffers.lower_bound(bytes);
            if (it != free_buffers.end()) {
                buf = it->second;
                free_buffers.erase(it);
            } else {
                activations.push_back(
                    std::make_unique<Buffer>(ctx, bytes, MemoryKind::DeviceLocal));
                buf = activations.back().get();
                activation_bytes += bytes;
            }
            owner[s.output] = buf;
            tensors[s.output] = {buf, 0, shape};
            if (options.stream_weight_bytes == 0) s.dispatches = plan_step(s);
        }
        // Release buffers whose last reader was this step.
        if (options.keep_intermediates) continue;
        for (auto& [tensor, last] : last_use) {
            if (last != si || pinned_roots.count(tensor) || !owner.count(tensor)) continue;
            Buffer* b = owner[tensor];
            owner.erase(tensor);
            free_buffers.emplace(b->size(), b);
        }
    }
    if (options.stream_weight_bytes == 0) realize_conv_steps(0, steps.size());
    for (const auto& o : graph.outputs) readable.insert(o);
    if (options.keep_intermediates)
        for (const auto& [name, ref] : tensors)
            if (!graph.is_initializer(name)) readable.insert(name);
}

void GraphRunner::Impl::plan_staging() {
    std::vector<StagedTensor> in, out;
    uint64_t total = 0;
    auto stage = [&](std::vector<StagedTensor>& list, const std::string& name) {
        const TensorRef& ref = tensors.at(name);
        if (ref.buffer->mapped()) return;
        const uint64_t bytes =
            static_cast<uint64_t>(std::max<int64_t>(rm::element_count(ref.shape), 1)) *
            element_bytes;
        total += bytes;
        list.push_back({name, ref, nullptr});
    };
    for (const auto& vi : graph.inputs) stage(in, vi.name);
    std::unordered_set<std::string> seen;
    for (const auto& o : graph.outputs)
        if (!graph.is_initializer(o) && tensors.count(o) && seen.insert(o).second) stage(out, o);
    if (total > kMaxRunStagingBytes) return;
    for (auto* list : {&in, &out})
        for (auto& t : *list)
            t.staging = std::make_unique<Buffer>(
                ctx,
                static_cast<uint64_t>(std::max<int64_t>(rm::element_count(t.device.shape), 1)) *
                    element_bytes,
                MemoryKind::Staging);
    staged_inputs = std::move(in);
    staged_outputs = std::move(out);
}

void GraphRunner::Impl::record(size_t first, size_t last) {
    if (cmd != VK_NULL_HANDLE) vkFreeCommandBuffers(ctx.device, ctx.command_pool.get(), 1, &cmd);
    cmd = VK_NULL_HANDLE;
    arena.reset();
    uint32_t sets = 0, bindings = 0;
    query_count = 0;
    for (size_t si = first; si < last; ++si) {
        Step& s = steps[si];
        if (!s.dispatches.empty()) s.query = query_count++;
        for (const auto& d : s.dispatches) {
            ++sets;
            bindings += static_cast<uint32_t>(d.ranges.size());
        }
    }
    arena = std::make_unique<DescriptorArena>(ctx, sets, bindings);
    timestamps = options.timestamps && options.stream_weight_bytes == 0 && ctx.has_timestamps();
    if (timestamps) queries = ctx.make_timestamp_pool(2 * std::max<uint32_t>(query_count, 1));

    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = ctx.command_pool.get();
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    vk_check(vkAllocateCommandBuffers(ctx.device, &ai, &cmd), "allocating a command buffer");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    vk_check(vkBeginCommandBuffer(cmd, &bi), "beginning a command buffer");
    if (timestamps)
        vkCmdResetQueryPool(cmd, queries.get(), 0, 2 * std::max<uint32_t>(query_count, 1));
    auto copy = [&](const StagedTensor& t, bool in) {
        const uint64_t bytes =
            static_cast<uint64_t>(rm::element_count(t.device.shape)) * element_bytes;
        if (bytes == 0) return;
        const VkBufferCopy region{in ? 0 : t.device.first * element_bytes,
                                  in ? t.device.first * element_bytes : 0, bytes};
        vkCmdCopyBuffer(cmd, in ? t.staging->handle() : t.device.buffer->handle(),
                        in ? t.device.buffer->handle() : t.staging->handle(), 1, &region);
    };
    if (first == 0)
        for (const auto& t : staged_inputs) copy(t, true);  // the first step's barrier follows
    for (size_t si = first; si < last; ++si) {
        const Step& s = steps[si];
        if (s.dispatches.empty()) continue;
        compute_barrier(cmd);
        if (timestamps)
            vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, queries.get(),
                                2 * s.query);
        for (const auto& d : s.dispatches) {
            VkDescriptorSet set = arena->make_set(*d.pipeline, d.ranges);
            if (d.after_previous) compute_barrier(cmd);
            record_dispatch(cmd, *d.pipeline, set, d.push.data(), d.push.size(), d.groups[0],
                            d.groups[1], d.groups[2]);
        }
        if (timestamps)
            vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, queries.get(),
                                2 * s.query + 1);
    }
    compute_barrier(cmd);
    if (last == steps.size() && !staged_outputs.empty()) {
        for (const auto& t : staged_outputs) copy(t, false);
        VkMemoryBarrier to_host{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
        to_host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                             &to_host, 0, nullptr, 0, nullptr);
    }
    vk_check(vkEndCommandBuffer(cmd), "recording the graph's command buffer");
}

}  // namespace rmvk
