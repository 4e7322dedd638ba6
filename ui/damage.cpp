#include "ui/damage.hpp"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace rmvk::ui {

namespace {

struct Bounds {
    float x0 = 1e30f, y0 = 1e30f, x1 = -1e30f, y1 = -1e30f;
    void grow(const DamageItem& d) {
        x0 = std::min(x0, d.x0);
        y0 = std::min(y0, d.y0);
        x1 = std::max(x1, d.x1);
        y1 = std::max(y1, d.y1);
    }
};

// Everything that decides a list's pixels, in one number.
uint64_t list_hash(const ImDrawList& list, const std::vector<DamageItem>* callbacks) {
    uint64_t h =
        hash_bytes(list.VtxBuffer.Data, size_t(list.VtxBuffer.Size) * sizeof(ImDrawVert), 1);
    h = hash_bytes(list.IdxBuffer.Data, size_t(list.IdxBuffer.Size) * sizeof(ImDrawIdx), h);
    for (const ImDrawCmd& cmd : list.CmdBuffer) {
        uint64_t fields[4] = {cmd.ElemCount, cmd.IdxOffset | (uint64_t(cmd.VtxOffset) << 32),
                              reinterpret_cast<uintptr_t>(cmd.TextureId),
                              reinterpret_cast<uintptr_t>(cmd.UserCallback)};
        h = hash_bytes(&cmd.ClipRect, sizeof(cmd.ClipRect), h);
        h = hash_bytes(fields, sizeof(fields), h);
    }
    if (callbacks)
        for (const DamageItem& item : *callbacks) h = hash_bytes(&item, sizeof(item), h);
    return h;
}

// One item per visible triangle of `list`, plus the callbacks' items; sorted by hash.
std::vector<DamageItem> list_items(const ImDrawList& list,
                                   const std::vector<DamageItem>* callbacks) {
    std::vector<DamageItem> items;
    if (callbacks) items = *callbacks;
    for (const ImDrawCmd& cmd : list.CmdBuffer) {
        if (cmd.UserCallback) continue;
        const ImVec4& clip = cmd.ClipRect;
        uint64_t cmd_seed =
            hash_bytes(&clip, sizeof(clip), reinterpret_cast<uintptr_t>(cmd.TextureId));
        for (unsigned int t = 0; t + 2 < cmd.ElemCount; t += 3) {
            const ImDrawVert* v[3];
            for (int k = 0; k < 3; ++k)
                v[k] = &list.VtxBuffer[int(list.IdxBuffer[int(cmd.IdxOffset + t) + k] +
                                           cmd.VtxOffset)];
            DamageItem item;
            item.x0 = std::max(clip.x, std::min({v[0]->pos.x, v[1]->pos.x, v[2]->pos.x}));
            item.y0 = std::max(clip.y, std::min({v[0]->pos.y, v[1]->pos.y, v[2]->pos.y}));
            item.x1 = std::min(clip.z, std::max({v[0]->pos.x, v[1]->pos.x, v[2]->pos.x}));
            item.y1 = std::min(clip.w, std::max({v[0]->pos.y, v[1]->pos.y, v[2]->pos.y}));
            if (item.x1 < item.x0 || item.y1 < item.y0) continue;  // clipped away: draws nothing
            uint64_t h = cmd_seed;
            for (const ImDrawVert* vert : v) h = hash_bytes(vert, sizeof(ImDrawVert), h);
            item.hash = h;
            items.push_back(item);
        }
    }
    std::sort(items.begin(), items.end(),
              [](const DamageItem& a, const DamageItem& b) { return a.hash < b.hash; });
    return items;
}

// Grows `out` by the items in one sorted list and not the other (as multisets).
void grow_by_difference(const std::vector<DamageItem>& a, const std::vector<DamageItem>& b,
                        Bounds& out) {
    size_t i = 0, j = 0;
    while (i < a.size() || j < b.size()) {
        if (j == b.size() || (i < a.size() && a[i].hash < b[j].hash)) {
            out.grow(a[i++]);
        } else if (i == a.size() || b[j].hash < a[i].hash) {
            out.grow(b[j++]);
        } else {
            ++i;
            ++j;
        }
    }
}

}  // namespace

uint64_t hash_bytes(const void* data, size_t count, uint64_t seed) {
    const auto* p = static_cast<const unsigned char*>(data);
    uint64_t h = seed ^ 0xcbf29ce484222325ull;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        uint64_t word;
        std::memcpy(&word, p + i, 8);
        h = (h ^ word) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < count; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h ^ (h >> 32);
}

DamageRect DamageTracker::update(const ImDrawData& data, const CallbackItems& callbacks, int width,
                                 int height) {
    Bounds changed;
    std::map<std::string, ListState> now;
    std::vector<std::string> order;
    for (int l = 0; l < data.CmdListsCount; ++l) {
        const ImDrawList& list = *data.CmdLists[l];
        std::string name = list._OwnerName ? list._OwnerName : "";
        while (now.count(name)) name += "+";  // keys stay unique
        auto cb = callbacks.find(&list);
        const std::vector<DamageItem>* extra = cb == callbacks.end() ? nullptr : &cb->second;
        ListState state;
        state.hash = list_hash(list, extra);
        auto old = lists_.find(name);
        if (old != lists_.end() && old->second.hash == state.hash) {
            state.items = std::move(old->second.items);
        } else {
            state.items = list_items(list, extra);
            grow_by_difference(old != lists_.end() ? old->second.items : std::vector<DamageItem>{},
                               state.items, changed);
        }
        if (old != lists_.end()) lists_.erase(old);
        order.push_back(name);
        now[name] = std::move(state);
    }
    for (const auto& [name, gone] : lists_)
        for (const DamageItem& item : gone.items) changed.grow(item);
    // Windows that swapped places (focus) change what is on top: redraw all.
    bool reordered = false;
    for (size_t i = 0, j = 0; i < order_.size() && j < order.size(); ++i) {
        if (!now.count(order_[i])) continue;
        while (j < order.size() && order[j] != order_[i]) ++j;
        if (j == order.size()) reordered = true;
    }
    lists_ = std::move(now);
    order_ = std::move(order);

    float sx = data.FramebufferScale.x, sy = data.FramebufferScale.y;
    if (whole_ || reordered) {
        whole_ = false;
        return {0, 0, width, height};
    }
    DamageRect r;
    if (changed.x1 < changed.x0) return r;
    // Whole pixels, one more on each side for anti-aliased edges.
    r.x0 = std::clamp(int(std::floor(changed.x0 * sx)) - 1, 0, width);
    r.y0 = std::clamp(int(std::floor(changed.y0 * sy)) - 1, 0, height);
    r.x1 = std::clamp(int(std::ceil(changed.x1 * sx)) + 1, 0, width);
    r.y1 = std::clamp(int(std::ceil(changed.y1 * sy)) + 1, 0, height);
    return r;
}

}  // namespace rmvk::ui
