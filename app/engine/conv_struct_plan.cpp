// Splitting a structured conv into block convs and the copy / merge passes.
#include "app/engine/conv_struct_plan.hpp"

#include <algorithm>
#include <optional>

#include "rm/error.hpp"

namespace rmvk {

bool ConvInputs::one_source(int64_t begin, int64_t end) const {
    if (begin >= end) return true;
    const ChannelRef r0 = at(begin);
    for (int64_t c = begin + 1; c < end; ++c)
        if (at(c) != ChannelRef{r0.source, r0.channel + (c - begin)}) return false;
    return true;
}

namespace {

// Output pixel p of `whole` reads input pixel p under the kernel centre (stride 1, the centre
// on its own pixel, the same size).
bool same_grid(const ConvProblem& whole, int64_t kh, int64_t kw) {
    const rm::Attrs& a = *whole.attrs;
    return a.strides.at(0) == 1 && a.strides.at(1) == 1 &&
           (kh / 2) * a.dilations.at(0) == a.pads.at(0) &&
           (kw / 2) * a.dilations.at(1) == a.pads.at(1) && whole.x.at(2) == whole.y.at(2) &&
           whole.x.at(3) == whole.y.at(3);
}

}  // namespace

StructuredConv split_structured_conv(const ConvProblem& whole, const rm::ConvStructure& s,
                                     const rm::Tensor* bias, const ConvInputs& given,
                                     const std::vector<bool>* may_elide) {
    if (!whole.attrs) throw rm::Error("internal error: a structured conv without attributes");
    ConvInputs inputs = given;
    if (inputs.sources.empty()) inputs.sources.push_back({whole.x, whole.x_first, false});
    const int64_t oc = s.out_channels();
    std::vector<const rm::DiracEntry*> entry(static_cast<size_t>(oc), nullptr);
    for (const auto& d : s.diracs) {
        if (entry.at(static_cast<size_t>(d.out)))
            throw rm::Error("a conv row with more than one Dirac entry");
        entry[d.out] = &d;
    }
    // Per row: the blocks writing it, in order.
    std::vector<std::vector<int>> blocks_of(static_cast<size_t>(oc));
    std::vector<bool> accumulate(s.blocks.size(), false);
    for (size_t b = 0; b < s.blocks.size(); ++b) {
        int64_t written = 0;
        for (int64_t o = s.blocks[b].out_begin; o < s.blocks[b].out_end; ++o) {
            written += !blocks_of[o].empty();
            blocks_of[o].push_back(static_cast<int>(b));
        }
        if (written != 0 && written != s.blocks[b].out_count())
            throw rm::Error("a conv block partly overlaps the rows of another");
        accumulate[b] = written != 0;
    }
    const bool residual = !whole.residual.empty();
    const bool grid = same_grid(whole, s.shape.at(2), s.shape.at(3));
    // A block alone on its rows, each with an identity merge of the next channel of one source:
    // that source is its residual (merged[b]: the first of those channels).
    std::vector<std::optional<ChannelRef>> merged(s.blocks.size());
    for (size_t b = 0; b < s.blocks.size() && grid && !residual; ++b) {
        const rm::DenseBlock& blk = s.blocks[b];
        bool ok = true;
        for (int64_t o = blk.out_begin; o < blk.out_end && ok; ++o) {
            const rm::DiracEntry* d = entry[o];
            ok = d && d->scale == 1.0f && blocks_of[o].size() == 1 &&
                 d->in - entry[blk.out_begin]->in == o - blk.out_begin;
        }
        if (ok && inputs.one_source(entry[blk.out_begin]->in, entry[blk.out_end - 1]->in + 1))
            merged[b] = inputs.at(entry[blk.out_begin]->in);
    }
    // A block finishes its rows (ReLU and residual fused) when it writes them last, no merge
    // adds to them (or its merges became its residual), and it does not already use the
    // residual operand to accumulate.
    std::vector<bool> finishes(s.blocks.size(), true);
    for (int64_t o = 0; o < oc; ++o)
        for (size_t k = 0; k < blocks_of[o].size(); ++k) {
            const int b = blocks_of[o][k];
            if (k + 1 < blocks_of[o].size() || (entry[o] && !merged[b]) ||
                (accumulate[b] && residual))
                finishes[b] = false;
        }

    StructuredConv out;
    out.kh = s.shape.at(2);
    out.kw = s.shape.at(3);
    for (size_t bi = 0; bi < s.blocks.size(); ++bi) {
        const rm::DenseBlock& b = s.blocks[bi];
        StructuredConvBlock blk;
        blk.attrs = std::make_unique<rm::Attrs>(rm::block_attrs(s, b, *whole.attrs));
        blk.weight = b.weight;
        blk.group = b.group;
        ConvProblem& p = blk.problem;
        p = whole;
        p.attrs = blk.attrs.get();
        p.in_channels = b.in_count();
        p.x_channel = b.in_begin;
        if (!inputs.one_source(b.in_begin, b.in_end))
            throw rm::Error("a conv block reads channels held in different tensors");
        if (const ChannelRef r = inputs.at(b.in_begin); r.source != 0) {
            const ConvSource& src = inputs.sources.at(static_cast<size_t>(r.source));
            blk.x_source = r.source;
            p.x = src.shape;
            p.x_first = src.first;
            p.x_channel = r.channel;
        }
        p.out_channels = b.out_count();
        p.y_channel = b.out_begin;
        p.residual_channel = b.out_begin;
        p.bias = bias != nullptr && !accumulate[bi];
        if (!finishes[bi]) {
            p.relu = false;
            p.residual.clear();
        } else if (merged[bi]) {
            const ConvSource& src = inputs.sources.at(static_cast<size_t>(merged[bi]->source));
            blk.residual_source = merged[bi]->source;
            p.residual = src.shape;
            p.residual_first = src.first;
            p.residual_channel = merged[bi]->channel;
        }
        blk.accumulate = accumulate[bi];
        if (blk.accumulate) {
            p.residual = whole.y;
            p.residual_first = whole.y_first;
            p.residual_channel = b.out_begin;
        }
        if (p.bias) {
            blk.bias = rm::Tensor(rm::Shape{b.out_count()});
            std::copy(bias->ptr() + b.out_begin, bias->ptr() + b.out_end, blk.bias.ptr());
        }
        out.blocks.push_back(std::move(blk));
    }
    // A copy row's value is exactly its source channel: start zero (or a zero bias), scale 1,
    // no residual, the same pixel, no clamp, and a ReLU only over non-negative values.
    auto elidable = [&](int64_t o, const rm::DiracEntry& d) {
        if (!may_elide || !(*may_elide).at(static_cast<size_t>(o)) || residual || !grid ||
            whole.clamp || d.scale != 1.0f || (bias && bias->data.at(o) != 0.0f))
            return false;
        const ChannelRef r = inputs.at(d.in);
        return !whole.relu || inputs.sources.at(static_cast<size_t>(r.source)).nonnegative;
    };
    // Passes: runs of consecutive unfinished rows alike (start, scale, consecutive inputs).
    for (int64_t o = 0; o < oc; ++o) {
        if (!blocks_of[o].empty() && finishes[blocks_of[o].back()]) continue;
        if (blocks_of[o].empty() && entry[o] && elidable(o, *entry[o])) {
            const ChannelRef from = inputs.at(entry[o]->in);
            if (!out.elided.empty()) {
                ElidedRun& last = out.elided.back();
                if (last.out_begin + last.channels == o && last.from.source == from.source &&
                    last.from.channel + last.channels == from.channel) {
                    ++last.channels;
                    continue;
                }
            }
            out.elided.push_back({o, 1, from});
            continue;
        }
        EpiloguePass r;
        r.out_begin = o;
        r.channels = 1;
        r.start = !blocks_of[o].empty() ? EpiloguePass::Start::Stored
                  : bias                ? EpiloguePass::Start::Bias
                                        : EpiloguePass::Start::Zero;
        if (const rm::DiracEntry* d = entry[o]) {
            const ChannelRef from = inputs.at(d->in);
            r.has_input = true;
            r.source = from.source;
            r.in_begin = from.channel;
            r.scale = d->scale;
        }
        if (!out.passes.empty()) {
            EpiloguePass& last = out.passes.back();
            if (last.out_begin + last.channels == o && last.start == r.start &&
                last.has_input == r.has_input &&
                (!r.has_input || (last.scale == r.scale && last.source == r.source &&
                                  last.in_begin + last.channels == r.in_begin))) {
                ++last.channels;
                continue;
            }
        }
        out.passes.push_back(r);
    }
    // Each pass's grid is (pixels / 256, channels, images): within the 65535 of every device.
    if (!out.passes.empty() &&
        (oc > 65535 || whole.y.at(0) > 65535 || whole.y.at(2) * whole.y.at(3) > 65535 * 256))
        throw rm::Error("a structured conv too large for its copy passes");
    return out;
}

std::vector<int> epilogue_sources(const StructuredConv& sc) {
    std::vector<int> out;
    for (const auto& e : sc.passes)
        if (std::find(out.begin(), out.end(), e.source) == out.end()) out.push_back(e.source);
    std::sort(out.begin(), out.end());
    return out;
}

ConvPlan plan_conv_epilogue(const ConvProblem& whole, const StructuredConv& sc,
                            const DeviceCaps& caps, int source) {
    ConvPlan plan;
    std::vector<const EpiloguePass*> passes;
    for (const auto& e : sc.passes)
        if (e.source == source) passes.push_back(&e);
    if (passes.empty()) return plan;
    const rm::Attrs& a = *whole.attrs;
    const rm::Shape &xs = whole.x, &ys = whole.y;
    const bool residual = !whole.residual.empty();
    plan.name = "copy";
    ConvStructPush base{};
    auto bind = [&](ConvOperand operand, uint64_t tensor_first, uint64_t count, uint32_t& off) {
        BindingRange r = binding_range(tensor_first, 0, count, caps.offset_alignment,
                                       caps.max_binding_bytes, caps.element_bytes);
        off = r.element_offset;
        return PlannedBinding{operand, r.offset, r.range};
    };
    std::vector<PlannedBinding> bindings;
    bindings.push_back(bind(ConvOperand::X, whole.x_first,
                            static_cast<uint64_t>(rm::element_count(xs)), base.x_off));
    bindings.push_back(whole.bias ? bind(ConvOperand::Bias, 0, static_cast<uint64_t>(ys[1]),
                                         base.b_off)
                                  : bindings.back());  // unused: any valid range
    bindings.push_back(bind(ConvOperand::Y, whole.y_first,
                            static_cast<uint64_t>(rm::element_count(ys)), base.y_off));
    base.r_off = base.y_off;
    bindings.push_back(residual ? bind(ConvOperand::Residual, whole.residual_first,
                                       static_cast<uint64_t>(rm::element_count(whole.residual)),
                                       base.r_off)
                                : bindings.back());
    base.h = u32(xs[2]);
    base.w = u32(xs[3]);
    base.x_image_stride = u32(xs[1] * xs[2] * xs[3]);
    base.oh = u32(ys[2]);
    base.ow = u32(ys[3]);
    base.y_image_stride = u32(ys[1] * ys[2] * ys[3]);
    base.r_image_stride = residual ? u32(whole.residual[1] * whole.residual[2] * whole.residual[3])
                                   : base.y_image_stride;
    base.sh = u32(a.strides.at(0));
    base.sw = u32(a.strides.at(1));
    base.top = static_cast<int32_t>((sc.kh / 2) * a.dilations.at(0) - a.pads.at(0));
    base.left = static_cast<int32_t>((sc.kw / 2) * a.dilations.at(1) - a.pads.at(1));
    const bool same_grid = base.sh == 1 && base.sw == 1 && base.top == 0 && base.left == 0 &&
                           base.h == base.oh && base.w == base.ow;
    ConvStructSpec spec{whole.relu ? 1u : 0u, residual ? 1u : 0u, same_grid ? 1u : 0u};
    plan.kernels.push_back({"conv_struct", spec_words(spec), 4, sizeof(ConvStructPush)});
    for (size_t i = 0; i < passes.size(); ++i) {
        const EpiloguePass& e = *passes[i];
        PlannedDispatch d;
        d.bindings = bindings;
        ConvStructPush push = base;
        push.out_begin = u32(e.out_begin);
        push.in_begin = u32(e.in_begin);
        push.has_input = e.has_input ? 1u : 0u;
        push.start = static_cast<uint32_t>(e.start);
        push.scale = e.scale;
        d.push = push;
        d.groups[0] = u32((ys[2] * ys[3] + 255) / 256);
        d.groups[1] = u32(e.channels);
        d.groups[2] = u32(ys[0]);
        // The first pass reads what the blocks stored; passes write disjoint rows.
        d.after_previous = i == 0 && !sc.blocks.empty();
        plan.dispatches.push_back(std::move(d));
    }
    return plan;
}

}  // namespace rmvk
