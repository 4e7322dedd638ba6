#include "rm/conv_structure.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "rm/error.hpp"
#include "rm/graph.hpp"
#include "rm/thread_pool.hpp"

namespace rm {

namespace {

int64_t taps_of(const Shape& s) {
    return s[2] * s[3];
}
int64_t centre_of(const Shape& s) {
    return (s[2] / 2) * s[3] + s[3] / 2;
}

// Where block-group `bg` of block `b` sits: its first output row and first input channel, and
// how many of each it has.
struct SubBlock {
    int64_t out0, in0, outs, ins;
};
SubBlock sub_block(const DenseBlock& b, int64_t bg) {
    const int64_t outs = b.out_count() / b.group, ins = b.in_count() / b.group;
    return {b.out_begin + bg * outs, b.in_begin + bg * ins, outs, ins};
}

bool inside_block(const DenseBlock& b, int64_t out, int64_t in) {
    if (out < b.out_begin || out >= b.out_end) return false;
    const SubBlock sb = sub_block(b, (out - b.out_begin) / (b.out_count() / b.group));
    return in >= sb.in0 && in < sb.in0 + sb.ins;
}

// A run of input channels (local to the conv group) with the same kind of non-zero taps.
struct Segment {
    uint8_t kind;  // 1: only the centre tap is non-zero, 2: other taps too
    int64_t begin, end;
    bool operator==(const Segment&) const = default;
};

}  // namespace

int64_t ConvStructure::stored_values() const {
    int64_t n = static_cast<int64_t>(diracs.size());
    for (const auto& b : blocks) n += b.weight ? b.weight->size() : 0;
    return n;
}

int64_t ConvStructure::block_macs_per_pixel() const {
    int64_t macs = 0;
    for (const auto& b : blocks)
        macs += b.out_count() * (b.in_count() / b.group) * (b.centre_only ? 1 : taps_of(shape));
    return macs;
}

void check_structure(const ConvStructure& s, const std::string& what) {
    auto fail = [&](const std::string& m) { throw Error(what + ": structured weight " + m); };
    if (s.shape.size() != 4) fail("needs a 4-D shape, has " + to_string(s.shape));
    for (int64_t d : s.shape)
        if (d <= 0) fail("has an empty shape " + to_string(s.shape));
    if (s.group < 1 || s.shape[0] % s.group)
        fail("group " + std::to_string(s.group) + " does not divide " + std::to_string(s.shape[0]) +
             " output channels");
    const int64_t oc = s.out_channels(), ic = s.in_channels(), ocg = oc / s.group, icg = s.shape[1];
    auto range = [](int64_t b, int64_t e, int64_t end) { return 0 <= b && b < e && e <= end; };
    for (size_t i = 0; i < s.blocks.size(); ++i) {
        const DenseBlock& b = s.blocks[i];
        const std::string name = "block " + std::to_string(i);
        if (!range(b.out_begin, b.out_end, oc) || !range(b.in_begin, b.in_end, ic))
            fail(name + " lies outside " + to_string(s.shape));
        if (b.group < 1 || b.out_count() % b.group || b.in_count() % b.group)
            fail(name + " has group " + std::to_string(b.group) + " that does not divide it");
        const Shape want{b.out_count(), b.in_count() / b.group, b.centre_only ? 1 : s.shape[2],
                         b.centre_only ? 1 : s.shape[3]};
        if (!b.weight || b.weight->shape != want)
            fail(name + " needs a weight of shape " + to_string(want));
        for (int64_t bg = 0; bg < b.group; ++bg) {
            const SubBlock sb = sub_block(b, bg);
            const int64_t g = sb.out0 / ocg;
            if ((sb.out0 + sb.outs - 1) / ocg != g || sb.in0 / icg != g ||
                (sb.in0 + sb.ins - 1) / icg != g)
                fail(name + " straddles the conv's groups");
        }
        for (size_t j = 0; j < i; ++j) {
            const DenseBlock& o = s.blocks[j];
            if (b.out_begin < o.out_end && o.out_begin < b.out_end && b.in_begin < o.in_end &&
                o.in_begin < b.in_end)
                fail(name + " overlaps block " + std::to_string(j));
        }
    }
    for (size_t i = 0; i < s.diracs.size(); ++i) {
        const DiracEntry& d = s.diracs[i];
        if (d.out < 0 || d.out >= oc || d.in < 0 || d.in >= ic || d.in / icg != d.out / ocg)
            fail("Dirac entry (" + std::to_string(d.out) + ", " + std::to_string(d.in) +
                 ") lies outside the conv's groups");
        if (i > 0 && (s.diracs[i - 1].out > d.out ||
                      (s.diracs[i - 1].out == d.out && s.diracs[i - 1].in >= d.in)))
            fail("Dirac entries are not sorted by (out, in) or repeat one");
        for (const auto& b : s.blocks)
            if (inside_block(b, d.out, d.in))
                fail("Dirac entry (" + std::to_string(d.out) + ", " + std::to_string(d.in) +
                     ") lies inside a block");
    }
}

ConvStructure describe_conv(const Tensor& weight, int64_t group) {
    const Shape& shape = weight.shape;
    if (shape.size() != 4 || group < 1 || shape[0] % group || element_count(shape) <= 0)
        throw Error("describe_conv: weight " + to_string(shape) + " with group " +
                    std::to_string(group) + " is not a conv weight");
    const int64_t oc = shape[0], icg = shape[1], taps = taps_of(shape), centre = centre_of(shape);
    const int64_t ocg = oc / group;
    ConvStructure s;
    s.shape = shape;
    s.group = group;

    // Per (row, local input channel): 0 all taps zero, 1 only the centre, 2 other taps too.
    std::vector<uint8_t> kind(static_cast<size_t>(oc * icg));
    for (int64_t o = 0; o < oc; ++o)
        for (int64_t j = 0; j < icg; ++j) {
            const float* k = weight.ptr() + (o * icg + j) * taps;
            bool other = false;
            for (int64_t t = 0; t < taps && !other; ++t) other = t != centre && k[t] != 0.0f;
            kind[o * icg + j] = other ? 2 : k[centre] != 0.0f ? 1 : 0;
        }
    auto value = [&](int64_t o, int64_t j) { return weight.data[(o * icg + j) * taps + centre]; };
    auto in_of = [&](int64_t o, int64_t j) { return (o / ocg) * icg + j; };

    // Rows whose only non-zero value is one centre tap are Dirac entries on their own.
    std::vector<bool> dense_row(static_cast<size_t>(oc), false);
    for (int64_t o = 0; o < oc; ++o) {
        int64_t nonzero = 0, last = -1;
        for (int64_t j = 0; j < icg; ++j)
            if (kind[o * icg + j]) ++nonzero, last = j;
        if (nonzero == 1 && kind[o * icg + last] == 1)
            s.diracs.push_back({o, in_of(o, last), value(o, last)});
        else
            dense_row[o] = nonzero > 0;
    }
    // Among the other rows of a conv group, an input channel whose only non-zero value is one
    // centre tap is merged in by a Dirac entry (an identity shortcut).
    for (int64_t g = 0; g < group; ++g)
        for (int64_t j = 0; j < icg; ++j) {
            int64_t readers = 0, row = -1;
            for (int64_t o = g * ocg; o < (g + 1) * ocg && readers < 2; ++o)
                if (dense_row[o] && kind[o * icg + j]) ++readers, row = o;
            if (readers == 1 && kind[row * icg + j] == 1) {
                s.diracs.push_back({row, in_of(row, j), value(row, j)});
                kind[row * icg + j] = 0;
            }
        }
    std::sort(s.diracs.begin(), s.diracs.end(), [](const DiracEntry& a, const DiracEntry& b) {
        return a.out != b.out ? a.out < b.out : a.in < b.in;
    });

    // What is left: runs of rows with the same segments of non-zero input channels.
    auto segments = [&](int64_t o) {
        std::vector<Segment> out;
        for (int64_t j = 0; j < icg; ++j) {
            uint8_t k = kind[o * icg + j];
            if (taps == 1 && k) k = 2;  // a 1x1 kernel is all centre: a plain block
            if (!k) continue;
            if (!out.empty() && out.back().kind == k && out.back().end == j)
                out.back().end = j + 1;
            else
                out.push_back({k, j, j + 1});
        }
        return out;
    };
    struct Run {
        int64_t group, begin, end;
        std::vector<Segment> segments;
    };
    std::vector<Run> runs;
    for (int64_t g = 0; g < group; ++g) {
        bool open = false;
        for (int64_t o = g * ocg; o < (g + 1) * ocg; ++o) {
            std::vector<Segment> seg = dense_row[o] ? segments(o) : std::vector<Segment>{};
            if (seg.empty()) {
                open = false;
            } else if (open && runs.back().segments == seg) {
                runs.back().end = o + 1;
            } else {
                runs.push_back({g, o, o + 1, std::move(seg)});
                open = true;
            }
        }
    }
    auto make_block = [&](int64_t out0, int64_t out1, int64_t in0, int64_t in1, int64_t groups,
                          bool centre_only) {
        DenseBlock b{out0, out1, in0, in1, groups, centre_only, nullptr};
        const int64_t ins = (in1 - in0) / groups, k = centre_only ? 1 : taps;
        auto t = std::make_shared<Tensor>(
            Shape{out1 - out0, ins, centre_only ? 1 : shape[2], centre_only ? 1 : shape[3]});
        for (int64_t o = out0; o < out1; ++o) {
            const int64_t j0 =
                sub_block(b, (o - out0) / ((out1 - out0) / groups)).in0 - (o / ocg) * icg;
            float* dst = t->ptr() + (o - out0) * ins * k;
            const float* src = weight.ptr() + (o * icg + j0) * taps;
            if (!centre_only)
                std::memcpy(dst, src, sizeof(float) * ins * taps);
            else
                for (int64_t j = 0; j < ins; ++j) dst[j] = src[j * taps + centre];
        }
        b.weight = std::move(t);
        s.blocks.push_back(std::move(b));
    };
    // Whole conv groups that are one full segment each join into one grouped block.
    auto whole = [&](const Run& r) {
        return r.begin == r.group * ocg && r.end == (r.group + 1) * ocg && r.segments.size() == 1 &&
               r.segments[0].begin == 0 && r.segments[0].end == icg;
    };
    for (size_t i = 0; i < runs.size();) {
        const Run& r = runs[i];
        if (whole(r)) {
            size_t e = i + 1;
            while (e < runs.size() && whole(runs[e]) && runs[e].group == runs[e - 1].group + 1 &&
                   runs[e].segments[0].kind == r.segments[0].kind)
                ++e;
            const int64_t g1 = runs[e - 1].group + 1;
            make_block(r.group * ocg, g1 * ocg, r.group * icg, g1 * icg, g1 - r.group,
                       r.segments[0].kind == 1);
            i = e;
            continue;
        }
        for (const Segment& seg : r.segments)
            make_block(r.begin, r.end, r.group * icg + seg.begin, r.group * icg + seg.end, 1,
                       seg.kind == 1);
        ++i;
    }
    return s;
}

bool is_plain_dense(const ConvStructure& s) {
    if (!s.diracs.empty() || s.blocks.size() != 1) return false;
    const DenseBlock& b = s.blocks[0];
    return b.out_begin == 0 && b.out_end == s.out_channels() && b.in_begin == 0 &&
           b.in_end == s.in_channels() && b.group == s.group &&
           (!b.centre_only || taps_of(s.shape) == 1);
}

void materialise_rows(const ConvStructure& s, int64_t row_begin, int64_t row_end, float* dst) {
    const int64_t icg = s.shape[1], taps = taps_of(s.shape), centre = centre_of(s.shape);
    const int64_t ocg = s.out_channels() / s.group, row = icg * taps;
    std::fill(dst, dst + (row_end - row_begin) * row, 0.0f);
    for (const auto& b : s.blocks) {
        const int64_t lo = std::max(b.out_begin, row_begin), hi = std::min(b.out_end, row_end);
        const int64_t outs = b.out_count() / b.group, ins = b.in_count() / b.group;
        const int64_t k = b.centre_only ? 1 : taps;
        for (int64_t o = lo; o < hi; ++o) {
            const SubBlock sb = sub_block(b, (o - b.out_begin) / outs);
            const float* src = b.weight->ptr() + (o - b.out_begin) * ins * k;
            float* d = dst + (o - row_begin) * row + (sb.in0 - (o / ocg) * icg) * taps;
            if (!b.centre_only)
                std::memcpy(d, src, sizeof(float) * ins * taps);
            else
                for (int64_t j = 0; j < ins; ++j) d[j * taps + centre] = src[j];
        }
    }
    auto first = std::lower_bound(s.diracs.begin(), s.diracs.end(), row_begin,
                                  [](const DiracEntry& d, int64_t o) { return d.out < o; });
    for (auto it = first; it != s.diracs.end() && it->out < row_end; ++it)
        dst[(it->out - row_begin) * row + (it->in - (it->out / ocg) * icg) * taps + centre] =
            it->scale;
}

Tensor materialise(const ConvStructure& s) {
    Tensor t;
    t.shape = s.shape;
    t.data.resize(static_cast<size_t>(element_count(s.shape)));  // every value written below
    materialise_rows(s, 0, s.out_channels(), t.ptr());
    return t;
}

ConvStructure scale_rows(const ConvStructure& s, const std::vector<double>& scale) {
    if (static_cast<int64_t>(scale.size()) != s.out_channels())
        throw Error("scale_rows: " + std::to_string(scale.size()) + " factors for " +
                    std::to_string(s.out_channels()) + " output channels");
    ConvStructure out = s;
    for (auto& b : out.blocks) {
        auto t = std::make_shared<Tensor>(*b.weight);
        const int64_t per = b.out_count() ? t->size() / b.out_count() : 0;
        for (int64_t o = 0; o < b.out_count(); ++o)
            for (int64_t j = 0; j < per; ++j) {
                float& v = t->data[o * per + j];
                v = static_cast<float>(double(v) * scale[b.out_begin + o]);
            }
        b.weight = std::move(t);
    }
    for (auto& d : out.diracs) d.scale = static_cast<float>(double(d.scale) * scale[d.out]);
    return out;
}

Attrs block_attrs(const ConvStructure& s, const DenseBlock& b, const Attrs& conv) {
    Attrs a = conv;
    a.group = b.group;
    a.kernel = {s.shape[2], s.shape[3]};
    if (!b.centre_only) return a;
    const int64_t kh = s.shape[2], kw = s.shape[3], dh = conv.dilations.at(0),
                  dw = conv.dilations.at(1);
    a.kernel = {1, 1};
    a.pads = {conv.pads.at(0) - (kh / 2) * dh, conv.pads.at(1) - (kw / 2) * dw,
              conv.pads.at(2) - (kh - 1 - kh / 2) * dh, conv.pads.at(3) - (kw - 1 - kw / 2) * dw};
    a.dilations = {1, 1};
    return a;
}

const char* region_kind_name(RegionKind kind) {
    switch (kind) {
        case RegionKind::Block:
            return "block";
        case RegionKind::Copy:
            return "copy";
        case RegionKind::ScaledCopy:
            return "scaled copy";
        case RegionKind::Merge:
            return "merge";
        case RegionKind::Zero:
            return "zero";
    }
    return "?";
}

std::vector<ConvRegion> conv_regions(const ConvStructure& s, const Tensor* bias) {
    const int64_t oc = s.out_channels();
    std::vector<ConvRegion> blocks, rows;
    std::vector<bool> has_block(static_cast<size_t>(oc), false);
    for (size_t i = 0; i < s.blocks.size(); ++i) {
        const DenseBlock& b = s.blocks[i];
        blocks.push_back({RegionKind::Block, b.out_begin, b.out_end, b.in_begin, b.in_end, 1.0f,
                          static_cast<int64_t>(i)});
        for (int64_t o = b.out_begin; o < b.out_end; ++o) has_block[o] = true;
    }
    std::vector<int> diracs_in_row(static_cast<size_t>(oc), 0);
    for (const auto& d : s.diracs) ++diracs_in_row[d.out];
    auto zero_bias = [&](int64_t o) { return !bias || bias->data.at(o) == 0.0f; };
    auto add = [&](RegionKind kind, int64_t out, int64_t in, float scale) {
        if (!rows.empty()) {
            ConvRegion& r = rows.back();
            if (r.kind == kind && r.scale == scale && r.out_end == out &&
                (kind == RegionKind::Zero || r.in_end == in)) {
                ++r.out_end;
                if (kind != RegionKind::Zero) ++r.in_end;
                return;
            }
        }
        rows.push_back({kind, out, out + 1, in, kind == RegionKind::Zero ? in : in + 1, scale, -1});
    };
    size_t next = 0;
    for (int64_t o = 0; o < oc; ++o) {
        if (!has_block[o] && diracs_in_row[o] == 0) add(RegionKind::Zero, o, 0, 1.0f);
        for (; next < s.diracs.size() && s.diracs[next].out == o; ++next) {
            const DiracEntry& d = s.diracs[next];
            RegionKind kind = RegionKind::Merge;
            if (!has_block[o] && diracs_in_row[o] == 1 && zero_bias(o))
                kind = d.scale == 1.0f ? RegionKind::Copy : RegionKind::ScaledCopy;
            add(kind, o, d.in,
                kind == RegionKind::ScaledCopy || kind == RegionKind::Merge ? d.scale : 1.0f);
        }
    }
    blocks.insert(blocks.end(), rows.begin(), rows.end());
    return blocks;
}

// False when every kernel of `w` has a non-zero tap off the centre (or, for 1x1 kernels, is
// non-zero): then describe_conv would find one full block. A cheap scan that stops early.
bool may_have_structure(const Tensor& w) {
    const int64_t taps = taps_of(w.shape), centre = centre_of(w.shape);
    const int64_t kernels = taps ? w.size() / taps : 0;
    for (int64_t k = 0; k < kernels; ++k) {
        const float* p = w.ptr() + k * taps;
        bool full = false;
        for (int64_t t = 0; t < taps && !full; ++t) full = (t != centre || taps == 1) && p[t] != 0;
        if (!full) return true;
    }
    return false;
}

void structure_conv_weights(Graph& graph) {
    // Weights that only Conv nodes read as their weight, with one group for all of them.
    std::unordered_map<std::string, int64_t> group_of;
    std::unordered_set<std::string> excluded;
    for (const auto& n : graph.nodes)
        for (size_t i = 0; i < n.inputs.size(); ++i) {
            const std::string& name = n.inputs[i];
            if (!graph.initializers.count(name)) continue;
            if (n.op != Op::Conv || i != 1) {
                excluded.insert(name);
                continue;
            }
            auto [it, fresh] = group_of.emplace(name, n.attrs.group);
            if (!fresh && it->second != n.attrs.group) excluded.insert(name);
        }
    for (const auto& o : graph.outputs) excluded.insert(o);
    std::vector<std::string> names;
    for (const auto& [name, g] : group_of) {
        const Tensor& t = graph.initializers.at(name);
        if (!excluded.count(name) && t.shape.size() == 4 && element_count(t.shape) > 0 && g >= 1 &&
            t.shape[0] % g == 0)
            names.push_back(name);
    }
    std::vector<ConvStructure> found(names.size());
    std::vector<char> structured(names.size(), 0);  // not vector<bool>: written concurrently
    parallel_for(static_cast<int64_t>(names.size()), 0, [&](int64_t i) {
        const Tensor& w = graph.initializers.at(names[i]);
        if (!may_have_structure(w)) return;
        found[i] = describe_conv(w, group_of.at(names[i]));
        structured[i] = !is_plain_dense(found[i]);
    });
    for (size_t i = 0; i < names.size(); ++i) {
        if (!structured[i]) continue;
        graph.initializers.erase(names[i]);
        graph.structured_weights[names[i]] = std::move(found[i]);
    }
}

void materialise_all(Graph& graph) {
    for (auto& [name, s] : graph.structured_weights) graph.initializers[name] = materialise(s);
    graph.structured_weights.clear();
}

}  // namespace rm
