// Splitting a structured conv into block convs and the copy / merge passes.
#include "app/engine/conv_struct_plan.hpp"

#include "rm/error.hpp"

namespace rmvk {

StructuredConv split_structured_conv(const ConvProblem& whole, const rm::ConvStructure& s,
                                     const rm::Tensor* bias) {
    if (!whole.attrs) throw rm::Error("internal error: a structured conv without attributes");
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
    // A block finishes its rows (ReLU and residual fused) when it writes them last, no merge
    // adds to them, and it does not already use the residual operand to accumulate.
    const bool residual = !whole.residual.empty();
    std::vector<bool> finishes(s.blocks.size(), true);
    for (int64_t o = 0; o < oc; ++o)
        for (size_t k = 0; k < blocks_of[o].size(); ++k) {
            const int b = blocks_of[o][k];
            if (k + 1 < blocks_of[o].size() || entry[o] || (accumulate[b] && residual))
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
        p.out_channels = b.out_count();
        p.y_channel = b.out_begin;
        p.residual_channel = b.out_begin;
        p.bias = bias != nullptr && !accumulate[bi];
        if (!finishes[bi]) {
            p.relu = false;
            p.residual.clear();
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
    // Passes: runs of consecutive unfinished rows alike (start, scale, consecutive inputs).
    for (int64_t o = 0; o < oc; ++o) {
        if (!blocks_of[o].empty() && finishes[blocks_of[o].back()]) continue;
        EpiloguePass r;
        r.out_begin = o;
        r.channels = 1;
        r.start = !blocks_of[o].empty() ? EpiloguePass::Start::Stored
                  : bias                ? EpiloguePass::Start::Bias
                                        : EpiloguePass::Start::Zero;
        if (const rm::DiracEntry* d = entry[o]) {
            r.has_input = true;
            r.in_begin = d->in;
            r.scale = d->scale;
        }
        if (!out.passes.empty()) {
            EpiloguePass& last = out.passes.back();
            if (last.out_begin + last.channels == o && last.start == r.start &&
                last.has_input == r.has_input &&
                (!r.has_input ||
                 (last.scale == r.scale && last.in_begin + last.channels == r.in_begin))) {
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

ConvPlan plan_conv_epilogue(const ConvProblem& whole, const StructuredConv& sc,
                            const DeviceCaps& caps) {
    ConvPlan plan;
    if (sc.passes.empty()) return plan;
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
    for (size_t i = 0; i < sc.passes.size(); ++i) {
        const EpiloguePass& e = sc.passes[i];
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
