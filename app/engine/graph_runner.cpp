// GraphRunner: prepares a graph for one device and batch (fusion, weights, activation buffers
// reused by liveness, one recorded command buffer) and runs it.
#include "app/engine/graph_runner_impl.hpp"
#include "rm/cpu_ops.hpp"

namespace rmvk {

GraphRunner::GraphRunner(Context& context, const rm::Graph& graph, int64_t batch,
                         const RunOptions& options)
    : impl_(std::make_unique<Impl>(context.impl(), graph, batch, options)) {
    if (batch < 1) throw rm::Error("batch size must be at least 1, got " + std::to_string(batch));
    Impl& m = *impl_;
    m.shapes = rm::infer_shapes_of(m.graph, batch, &m.nodes);
    for (const auto& n : m.nodes)
        if (n.op == rm::Op::Conv && (m.shapes.at(n.inputs.at(0)).size() != 4))
            throw rm::Error("node '" + n.name + "' (Conv): only 2-D convolutions run on the GPU");
    auto cost = rm::compute_cost(m.graph, m.shapes);
    m.macs.assign(m.nodes.size(), 0);
    for (size_t i = 0; i < cost.nodes.size() && i < m.macs.size(); ++i)
        m.macs[i] = cost.nodes[i].macs;
    m.plan_fusion();
    m.plan_elision();
    m.allocate_and_plan();
    m.plan_staging();
    if (options.stream_weight_bytes > 0) return;  // planned and recorded by each run
    m.record(0, m.steps.size());
    if (options.warm_up) m.ctx.submit_and_wait(m.cmd);
}

GraphRunner::~GraphRunner() = default;

RunResult GraphRunner::run(const std::map<std::string, rm::Tensor>& inputs) {
    Impl& m = *impl_;
    if (m.weights_released)
        throw rm::Error("graph '" + m.graph.name + "': its weights were released, it cannot run");
    auto start = Clock::now();
    RunResult r;
    for (const auto& vi : m.graph.inputs) {
        auto it = inputs.find(vi.name);
        if (it == inputs.end()) throw rm::Error("missing input '" + vi.name + "'");
        const auto& expect = m.shapes.at(vi.name);
        if (it->second.shape != expect)
            throw rm::Error("input '" + vi.name + "' has shape " + rm::to_string(it->second.shape) +
                            ", the GPU runner was prepared for " + rm::to_string(expect));
        auto staged = std::find_if(m.staged_inputs.begin(), m.staged_inputs.end(),
                                   [&](const StagedTensor& t) { return t.name == vi.name; });
        if (staged != m.staged_inputs.end())
            to_device_elements(staged->staging->mapped(), it->second.ptr(),
                               static_cast<size_t>(it->second.size()), m.element_bytes);
        else
            m.write_buffer(m.tensors.at(vi.name), it->second.ptr());
    }
    r.upload_ms = ms_since(start);
    if (m.options.stream_weight_bytes > 0)
        m.run_streamed();
    else
        m.ctx.submit_and_wait(m.cmd);
    auto down = Clock::now();
    for (const auto& o : m.graph.outputs) {
        auto staged = std::find_if(m.staged_outputs.begin(), m.staged_outputs.end(),
                                   [&](const StagedTensor& t) { return t.name == o; });
        if (staged == m.staged_outputs.end()) {
            r.outputs[o] = read_tensor(o);
            continue;
        }
        rm::Tensor t(staged->device.shape);
        from_device_elements(t.ptr(), staged->staging->mapped(), static_cast<size_t>(t.size()),
                             m.element_bytes);
        r.outputs[o] = std::move(t);
    }
    r.download_ms = ms_since(down);

    std::vector<double> step_ms(m.steps.size(), 0.0);
    if (m.timestamps) {
        std::vector<uint64_t> ticks(2 * m.query_count, 0);
        if (!ticks.empty())
            vk_check(vkGetQueryPoolResults(m.ctx.device, m.queries.get(), 0,
                                           static_cast<uint32_t>(ticks.size()), ticks.size() * 8,
                                           ticks.data(), 8,
                                           VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
                     "reading GPU timestamps");
        uint64_t mask = m.ctx.info.timestamp_valid_bits >= 64
                            ? ~0ull
                            : ((1ull << m.ctx.info.timestamp_valid_bits) - 1);
        for (size_t si = 0; si < m.steps.size(); ++si)
            if (!m.steps[si].dispatches.empty())
                step_ms[si] =
                    static_cast<double>(
                        (ticks[2 * m.steps[si].query + 1] - ticks[2 * m.steps[si].query]) & mask) *
                    m.ctx.timestamp_period_ns() * 1e-6;
    }
    std::vector<double> node_ms(m.nodes.size(), 0.0);
    for (size_t si = 0; si < m.steps.size(); ++si) node_ms[m.steps[si].node] = step_ms[si];
    std::vector<const std::string*> method(m.nodes.size(), nullptr);
    std::vector<int> dispatches(m.nodes.size(), 0);
    for (const auto& s : m.steps) {
        if (!s.method.empty()) method[s.node] = &s.method;
        dispatches[s.node] = static_cast<int>(s.dispatches.size());
    }
    for (size_t i = 0; i < m.nodes.size(); ++i) {
        const auto& n = m.nodes[i];
        r.timings.push_back({n.name, n.op, node_ms[i], m.macs[i], m.fused_into[i],
                             method[i] ? *method[i] : std::string(), dispatches[i]});
        r.device_total_ms += node_ms[i];
    }
    r.wall_ms = ms_since(start);
    return r;
}

rm::Tensor GraphRunner::read_tensor(const std::string& name) const {
    const Impl& m = *impl_;
    if (m.graph.is_initializer(name)) return m.graph.materialise(name);
    if (auto r = m.relu_of.find(name); r != m.relu_of.end())
        return rm::cpu::relu(read_tensor(r->second));
    if (auto f = m.fused_away.find(name); f != m.fused_away.end() && !m.tensors.count(name))
        throw rm::Error("tensor '" + name + "' was fused into node '" + f->second +
                        "' and never stored (prepare the runner with fuse = false to see it)");
    auto it = m.tensors.find(name);
    if (it == m.tensors.end())
        throw rm::Error("no tensor named '" + name + "' in graph '" + m.graph.name + "'");
    if (!m.readable.count(name))
        throw rm::Error("tensor '" + name +
                        "' is not kept after a run (prepare the runner with keep_intermediates)");
    rm::Tensor t(it->second.shape);
    m.read_buffer(it->second, t.ptr());
    if (auto e = m.elided.find(name); e != m.elided.end()) {
        // Reserved copies that were not stored: the channels they copy.
        const int64_t n = t.shape.at(0), c = t.shape.at(1), plane = t.shape.at(2) * t.shape.at(3);
        std::map<std::string, rm::Tensor> homes;
        for (int64_t ch = 0; ch < c; ++ch) {
            const auto& [home, from] = e->second[static_cast<size_t>(ch)];
            if (home.empty()) continue;
            auto h = homes.find(home);
            if (h == homes.end()) h = homes.emplace(home, read_tensor(home)).first;
            const rm::Tensor& src = h->second;
            for (int64_t i = 0; i < n; ++i)
                std::copy_n(src.ptr() + (i * src.shape.at(1) + from) * plane, plane,
                            t.ptr() + (i * c + ch) * plane);
        }
    }
    return t;
}

void GraphRunner::release_weights() {
    Impl& m = *impl_;
    std::unordered_set<const Buffer*> gone;
    for (const auto& w : m.weights) gone.insert(w.get());
    // Views of an initializer point into a weight buffer: they go too.
    for (auto it = m.tensors.begin(); it != m.tensors.end();)
        if (gone.count(it->second.buffer)) {
            m.readable.erase(it->first);
            it = m.tensors.erase(it);
        } else {
            ++it;
        }
    m.weights.clear();
    for (auto& s : m.scratch) s.reset();
    m.release_relu_outputs();
    // The recorded command buffer refers to the freed buffers: it is never submitted again.
    m.weights_released = true;
}

void GraphRunner::Impl::release_relu_outputs() {
    std::unordered_map<const Buffer*, int> names;  // a view's output shares its input's buffer
    for (const auto& [name, ref] : tensors) ++names[ref.buffer];
    const std::unordered_set<std::string> outputs(graph.outputs.begin(), graph.outputs.end());
    std::unordered_set<const Buffer*> gone;
    for (const Step& s : steps) {
        const rm::Node& n = nodes[s.node];
        if (n.op != rm::Op::Relu || !s.fused.empty() || outputs.count(s.output)) continue;
        const std::string& in = n.inputs.at(0);
        auto out = tensors.find(s.output);
        if (out == tensors.end() || !readable.count(in) || !readable.count(s.output) ||
            elided.count(in) || elided.count(s.output) || names[out->second.buffer] != 1)
            continue;
        gone.insert(out->second.buffer);
        tensors.erase(out);
        relu_of[s.output] = in;
    }
    std::erase_if(activations, [&](const auto& b) {
        if (!gone.count(b.get())) return false;
        activation_bytes -= b->size();
        return true;
    });
}

MemoryReport GraphRunner::memory() const {
    MemoryReport r = impl_->memory;
    r.activation_bytes = impl_->activation_bytes;
    return r;
}

}  // namespace rmvk
