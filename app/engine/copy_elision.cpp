// Deciding which reserved copies stay unstored (copy_elision.hpp).
#include "app/engine/copy_elision.hpp"

#include <algorithm>

#include "rm/error.hpp"

namespace rmvk {

ConvInputs conv_inputs(const std::string& x, const ElidedChannels& elided,
                       const TensorLookup& facts, std::vector<std::string>* names) {
    ConvInputs in;
    std::vector<std::string> local;
    std::vector<std::string>& n = names ? *names : local;
    n.assign(1, x);
    const TensorFacts fx = facts(x);
    in.sources.push_back({fx.shape, fx.first, fx.nonnegative});
    auto it = elided.find(x);
    if (it == elided.end()) return in;
    for (size_t c = 0; c < it->second.size(); ++c) {
        const auto& [home, k] = it->second[c];
        if (home.empty()) {
            in.channels.push_back({0, static_cast<int64_t>(c)});
            continue;
        }
        auto at = std::find(n.begin(), n.end(), home);
        if (at == n.end()) {
            const TensorFacts f = facts(home);
            in.sources.push_back({f.shape, f.first, f.nonnegative});
            at = n.insert(n.end(), home);
        }
        in.channels.push_back({static_cast<int>(at - n.begin()), k});
    }
    return in;
}

ElisionPlan plan_copy_elision(const std::vector<ElisionConv>& convs,
                              const std::unordered_set<std::string>& other_readers,
                              const TensorLookup& facts) {
    ElisionPlan plan;
    plan.structured.assign(convs.size(), false);
    plan.may_elide.resize(convs.size());
    std::unordered_map<std::string, std::vector<size_t>> readers;  // tensor -> convs reading it
    for (size_t i = 0; i < convs.size(); ++i) {
        readers[convs[i].x].push_back(i);
        if (!convs[i].structure) continue;
        try {
            split_structured_conv(convs[i].problem, *convs[i].structure, convs[i].bias);
            plan.structured[i] = true;
        } catch (const rm::Error&) {
        }
    }
    for (size_t i = 0; i < convs.size(); ++i) {
        const ElisionConv& c = convs[i];
        if (!plan.structured[i] || other_readers.count(c.y)) continue;
        const std::vector<size_t>& rs = readers[c.y];
        if (rs.empty() || std::any_of(rs.begin(), rs.end(),
                                      [&](size_t r) { return !plan.structured[r] || r <= i; }))
            continue;
        std::vector<std::string> names;
        const ConvInputs in = conv_inputs(c.x, plan.elided, facts, &names);
        const int64_t oc = c.structure->out_channels();
        std::vector<bool> mask(static_cast<size_t>(oc), true);
        const StructuredConv sc = split_structured_conv(c.problem, *c.structure, c.bias, in, &mask);
        std::fill(mask.begin(), mask.end(), false);
        std::vector<ChannelRef> from(static_cast<size_t>(oc));
        for (const ElidedRun& e : sc.elided)
            for (int64_t k = 0; k < e.channels; ++k) {
                mask[e.out_begin + k] = true;
                from[e.out_begin + k] = {e.from.source, e.from.channel + k};
            }
        // A reader's dense block must read either none of the elided rows or a window that is
        // all elided and consecutive channels of one source (it then reads that source).
        for (bool changed = true; changed;) {
            changed = false;
            for (size_t r : rs)
                for (const rm::DenseBlock& b : convs[r].structure->blocks) {
                    bool any = false, all = true, one = true;
                    for (int64_t k = b.in_begin; k < b.in_end; ++k) {
                        any = any || mask[k];
                        all = all && mask[k];
                        one = one &&
                              (k == b.in_begin ||
                               from[k] == ChannelRef{from[b.in_begin].source,
                                                     from[b.in_begin].channel + (k - b.in_begin)});
                    }
                    if (!any || (all && one)) continue;
                    for (int64_t k = b.in_begin; k < b.in_end; ++k) mask[k] = false;
                    changed = true;
                }
        }
        if (std::none_of(mask.begin(), mask.end(), [](bool m) { return m; })) continue;
        std::vector<ChannelHome> homes(static_cast<size_t>(oc));
        for (int64_t k = 0; k < oc; ++k)
            homes[k] = mask[k] ? ChannelHome{names.at(static_cast<size_t>(from[k].source)),
                                             from[k].channel}
                               : ChannelHome{"", k};
        plan.elided[c.y] = std::move(homes);
        plan.may_elide[i] = std::move(mask);
    }
    return plan;
}

}  // namespace rmvk
