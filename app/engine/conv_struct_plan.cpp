// Splitting a structured conv into block convs and the copy / merge epilogue.
#include "app/engine/conv_struct_plan.hpp"

#include <bit>

#include "rm/error.hpp"

namespace rmvk {

StructuredConv split_structured_conv(const ConvProblem& whole, const rm::ConvStructure& s,
                                     const rm::Tensor* bias) {
    if (!whole.attrs) throw rm::Error("internal error: a structured conv without attributes");
    const int64_t oc = s.out_channels();
    std::vector<std::vector<const rm::DiracEntry*>> entries(static_cast<size_t>(oc));
    for (const auto& d : s.diracs) entries.at(static_cast<size_t>(d.out)).push_back(&d);
    // Per row: the blocks writing it.
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
    // A block finishes its rows (bias, residual, ReLU fused) unless a merge or another block
    // adds to one of them.
    std::vector<bool> finished(s.blocks.size(), true);
    for (int64_t o = 0; o < oc; ++o)
        if (blocks_of[o].size() > 1 || (!blocks_of[o].empty() && !entries[o].empty()))
            for (int b : blocks_of[o]) finished[b] = false;

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
        if (!finished[bi]) {
            p.relu = false;
            p.residual.clear();
        }
        blk.accumulate = accumulate[bi];
        if (blk.accumulate) {
            p.residual = whole.y;
            p.residual_first = whole.y_first;
        }
        if (p.bias) {
            blk.bias = rm::Tensor(rm::Shape{b.out_count()});
            std::copy(bias->ptr() + b.out_begin, bias->ptr() + b.out_end, blk.bias.ptr());
        }
        out.blocks.push_back(std::move(blk));
    }
    std::vector<int64_t> rows;
    for (int64_t o = 0; o < oc; ++o)
        if (blocks_of[o].empty() || !finished[blocks_of[o][0]]) rows.push_back(o);
    if (rows.empty()) return out;
    const size_t r = rows.size();
    out.rows = static_cast<uint32_t>(r);
    out.table.assign(5 * r, 0);
    for (size_t i = 0; i < r; ++i) {
        const int64_t o = rows[i];
        out.table[4 * i] = u32(o);
        out.table[4 * i + 1] = u32(out.table.size());
        out.table[4 * i + 2] = u32(entries[o].size());
        const bool has_block = !blocks_of[o].empty();
        out.table[4 * i + 3] = has_block ? 1u : 0u;
        out.table[4 * r + i] = std::bit_cast<uint32_t>(bias ? bias->data.at(o) : 0.0f);
        for (const rm::DiracEntry* d : entries[o]) {
            out.table.push_back(u32(d->in));
            out.table.push_back(std::bit_cast<uint32_t>(d->scale));
            ++(has_block || (bias && bias->data.at(o) != 0.0f) ? out.merges : out.copies);
        }
    }
    return out;
}

ConvPlan plan_conv_epilogue(const ConvProblem& whole, const StructuredConv& sc,
                            const DeviceCaps& caps) {
    ConvPlan plan;
    if (sc.rows == 0) return plan;
    const rm::Attrs& a = *whole.attrs;
    const rm::Shape &xs = whole.x, &ys = whole.y;
    const bool residual = !whole.residual.empty();
    plan.name = "copy";
    ConvStructSpec spec{whole.relu ? 1u : 0u, residual ? 1u : 0u};
    plan.kernels.push_back({"conv_struct", spec_words(spec), 4, sizeof(ConvStructPush)});
    PlannedDispatch d;
    ConvStructPush push{};
    auto bind = [&](ConvOperand operand, uint64_t tensor_first, uint64_t count, uint32_t& off) {
        BindingRange r =
            binding_range(tensor_first, 0, count, caps.offset_alignment, caps.max_binding_bytes);
        off = r.element_offset;
        return PlannedBinding{operand, r.offset, r.range};
    };
    const uint64_t xn = static_cast<uint64_t>(rm::element_count(xs)),
                   yn = static_cast<uint64_t>(rm::element_count(ys));
    d.bindings.push_back(bind(ConvOperand::X, whole.x_first, xn, push.x_off));
    d.bindings.push_back(bind(ConvOperand::W, 0, sc.table.size(), push.t_off));
    d.bindings.push_back(bind(ConvOperand::Y, whole.y_first, yn, push.y_off));
    push.r_off = push.y_off;
    d.bindings.push_back(residual ? bind(ConvOperand::Residual, whole.residual_first,
                                         static_cast<uint64_t>(rm::element_count(whole.residual)),
                                         push.r_off)
                                  : d.bindings.back());
    push.n = u32(ys[0]);
    push.rows = sc.rows;
    push.h = u32(xs[2]);
    push.w = u32(xs[3]);
    push.x_image_stride = u32(xs[1] * xs[2] * xs[3]);
    push.oh = u32(ys[2]);
    push.ow = u32(ys[3]);
    push.y_image_stride = u32(ys[1] * ys[2] * ys[3]);
    push.r_image_stride = residual ? u32(whole.residual[1] * whole.residual[2] * whole.residual[3])
                                   : push.y_image_stride;
    push.sh = u32(a.strides.at(0));
    push.sw = u32(a.strides.at(1));
    const int64_t kh = sc.kh, kw = sc.kw;
    push.top = static_cast<int32_t>((kh / 2) * a.dilations.at(0) - a.pads.at(0));
    push.left = static_cast<int32_t>((kw / 2) * a.dilations.at(1) - a.pads.at(1));
    d.push = push;
    const uint64_t invocations = static_cast<uint64_t>(ys[0]) * sc.rows * ys[2] * ys[3];
    grid_1d((invocations + 255) / 256, d.groups);
    d.after_previous = !sc.blocks.empty();  // reads what the block convs stored
    plan.dispatches.push_back(std::move(d));
    return plan;
}

}  // namespace rmvk
