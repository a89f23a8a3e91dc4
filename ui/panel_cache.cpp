// Expert cache panel: per layer the device slots and the expert in each, coloured by what the
// last step did with it; the hit rate of every step of the conversation; bytes moved; and the
// eviction policy, prefetch and budget (slots per layer), changed live. Everything shown comes
// from the engine's CacheStepEvents (cache::LayerCache telemetry), nothing is estimated here.
#include <algorithm>
#include <cstdio>
#include <string>

#include <imgui.h>
#include <imgui_stdlib.h>

#include "ui/panels.h"
#include "ui/widgets.h"

namespace moe::ui {

namespace {

constexpr cache::Policy kLivePolicies[] = {cache::Policy::LRU, cache::Policy::LFU, cache::Policy::LFRU,
                                           cache::Policy::Static};
constexpr cache::SlotEvent kEvents[] = {cache::SlotEvent::Hit, cache::SlotEvent::Miss, cache::SlotEvent::Prefetched,
                                        cache::SlotEvent::Idle, cache::SlotEvent::Empty};

cache::CacheStats sum(const std::vector<cache::CacheStats>& v) {
    cache::CacheStats s;
    for (const auto& x : v) s += x;
    return s;
}

// Policy combo and prefetch switch; static asks where to learn its hot set before it applies.
void drawPolicyRow(CacheState& c, const Conversation& conv, UiActions& act) {
    const rt::CacheConfigEvent& cfg = c.config;
    const cache::Policy shown = c.choosingStatic ? cache::Policy::Static : cfg.policy;
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5.5f);
    if (ImGui::BeginCombo("policy", cache::policyName(shown))) {
        for (cache::Policy p : kLivePolicies)
            if (ImGui::Selectable(cache::policyName(p), p == shown)) {
                c.choosingStatic = p == cache::Policy::Static;
                if (!c.choosingStatic) act.cachePolicy = p;
            }
        ImGui::EndCombo();
    }
    helpMarker("Which resident expert a miss evicts. lru: least recently used; lfu: least often used; lfru: use "
               "count decayed with age; static: the hottest experts of a trace stay. Applies from the next token.");
    ImGui::SameLine(0, ImGui::GetFontSize());
    bool prefetch = cfg.prefetch;
    if (ImGui::Checkbox("prefetch", &prefetch)) act.prefetch = prefetch;
    helpMarker("Predicts the next layer's experts by applying its router to this layer's output, and uploads "
               "them while this layer computes.");
    if (!cfg.staticSource.empty() && !c.choosingStatic) {
        ImGui::SameLine();
        ImGui::TextDisabled("hot set: %s", cfg.staticSource.c_str());
    }
    if (!c.choosingStatic) return;
    // the static policy's source
    size_t routed = 0;
    for (const auto& t : conv.tokens) routed += t.routed;
    ImGui::TextUnformatted("learn the hot set from");
    ImGui::SameLine();
    int from = c.staticFromConversation ? 0 : 1;
    char label[64];
    std::snprintf(label, sizeof label, "this conversation (%zu tokens)", routed);
    ImGui::RadioButton(label, &from, 0);
    ImGui::SameLine();
    ImGui::RadioButton("trace file", &from, 1);
    c.staticFromConversation = from == 0;
    if (!c.staticFromConversation) {
        ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 8);
        ImGui::InputTextWithHint("##trace", "routing trace (.jsonl / .mstrace) of this model", &c.staticTrace);
    } else {
        ImGui::SameLine();
    }
    const bool ready = c.staticFromConversation ? routed > 0 : !c.staticTrace.empty();
    ImGui::SameLine();
    ImGui::BeginDisabled(!ready);
    if (ImGui::Button("learn & apply")) {
        act.cachePolicy = cache::Policy::Static;
        c.choosingStatic = false;
    }
    ImGui::EndDisabled();
    ImGui::SameLine();
    if (ImGui::Button("cancel")) c.choosingStatic = false;
}

// Slots per layer; a change rebuilds the model (the conversation stays).
void drawBudgetRow(CacheState& c, bool busy, UiActions& act) {
    const rt::CacheConfigEvent& cfg = c.config;
    const int lo = int(std::max<uint32_t>(1, cfg.expertsUsed)), hi = int(std::max<uint32_t>(1, cfg.experts));
    c.budget = std::clamp(c.budget, lo, hi);
    const uint64_t bytes = cfg.experts ? cfg.routedBytes / cfg.experts * uint64_t(c.budget) : 0;
    char fmt[96];
    std::snprintf(fmt, sizeof fmt, c.budget == hi ? "%%d: all resident" : "%%d of %d slots/layer", hi);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 10);
    ImGui::SliderInt("##budget", &c.budget, lo, hi, fmt);
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip("%s of device memory for expert slots (of %s for every routed expert)", formatBytes(bytes).c_str(),
                          formatBytes(cfg.routedBytes).c_str());
    ImGui::SameLine();
    const bool same = uint32_t(c.budget) == cfg.slots;
    ImGui::BeginDisabled(same || busy);
    if (ImGui::Button(cfg.enabled ? "apply budget" : "set budget")) act.cacheBudget = c.budget;
    ImGui::EndDisabled();
    helpMarker("Rebuilds the model on the device with this many expert slots per layer (a reply being generated "
               "stops). The conversation stays; the next reply evaluates it again.");
}

void drawSummary(const CacheState& c) {
    const cache::CacheStats t = sum(c.totals);
    if (t.accesses == 0) return ImGui::TextDisabled("no step ran with this cache yet");
    ImGui::Text("hit rate %.1f%%", 100.0 * t.hitRate());
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip("%llu hits and %llu misses in %llu expert accesses since the cache was built; %llu "
                          "prefetched (%llu used, %llu wasted)",
                          (unsigned long long)t.hits, (unsigned long long)t.misses, (unsigned long long)t.accesses,
                          (unsigned long long)t.prefetches, (unsigned long long)t.prefetchUsed,
                          (unsigned long long)t.prefetchWasted);
    ImGui::SameLine();
    ImGui::TextDisabled("| moved %s, %s/token | %llu evictions", formatBytes(t.bytesUploaded).c_str(),
                        formatBytes(c.tokens ? t.bytesUploaded / c.tokens : 0).c_str(), (unsigned long long)t.evictions);
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip("%s uploaded over %llu evaluated tokens; %.2f ms waiting for uploads",
                          formatBytes(t.bytesUploaded).c_str(), (unsigned long long)c.tokens, t.waitMs);
}

// The slot colours, then prefetch's outcome when it ran (on the same line when it fits).
void drawLegend(const CacheState& c) {
    const float sq = ImGui::GetTextLineHeight() * 0.8f;
    for (cache::SlotEvent e : kEvents) {
        const ImVec2 p = ImGui::GetCursorScreenPos();
        const float y = p.y + (ImGui::GetTextLineHeight() - sq) * 0.5f;
        ImGui::GetWindowDrawList()->AddRectFilled(ImVec2(p.x, y), ImVec2(p.x + sq, y + sq), slotEventColor(e), 2.0f);
        ImGui::Dummy(ImVec2(sq, sq));
        ImGui::SameLine(0, 3);
        ImGui::TextDisabled("%s", slotEventName(e));
        ImGui::SameLine();
    }
    const cache::CacheStats t = sum(c.totals);
    char b[96];
    std::snprintf(b, sizeof b, "| prefetch: %llu used, %llu wasted", (unsigned long long)t.prefetchUsed,
                  (unsigned long long)t.prefetchWasted);
    if ((c.config.prefetch || t.prefetches) && ImGui::CalcTextSize(b).x < ImGui::GetContentRegionAvail().x)
        ImGui::TextDisabled("%s", b);
    else
        ImGui::NewLine();
}

// Per layer a row of slots (expert id in each, coloured by the last step) and the layer's hit
// rate since the cache was built.
void drawSlots(const CacheState& c, float height) {
    const uint32_t L = uint32_t(c.slots.size());
    if (L == 0) return ImGui::TextDisabled("the slots appear after the first step");
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float font = ImGui::GetFontSize();
    const float labelW = ImGui::CalcTextSize("L000").x, statW = ImGui::CalcTextSize("100%").x + 8;
    size_t maxSlots = 1;
    for (const auto& row : c.slots) maxSlots = std::max(maxSlots, row.size());
    const float avail = ImGui::GetContentRegionAvail().x;
    const float cellW = std::clamp((avail - labelW - statW) / float(maxSlots), 3.0f, font * 3.0f);
    const float rowH = std::clamp(height / float(L), 3.0f, font * 1.35f);
    const ImVec2 o = ImGui::GetCursorScreenPos();
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    const int labelEvery = std::max(1, int(font / rowH + 0.99f));
    for (uint32_t il = 0; il < L; ++il) {
        const float y = o.y + il * rowH;
        char b[24];
        if (il % uint32_t(labelEvery) == 0) {
            std::snprintf(b, sizeof b, "L%u", il);
            dl->AddText(ImVec2(o.x, y + (rowH - font) * 0.5f), ImGui::GetColorU32(ImGuiCol_TextDisabled), b);
        }
        const auto& row = c.slots[il];
        for (size_t k = 0; k < row.size(); ++k) {
            const cache::SlotView& v = row[k];
            const ImVec2 a(o.x + labelW + float(k) * cellW, y);
            const ImVec2 z(a.x + cellW - (cellW > 4 ? 1 : 0), y + rowH - (rowH > 4 ? 1 : 0));
            const ImU32 col = slotEventColor(v.last);
            dl->AddRectFilled(a, z, col, cellW > 8 ? 2.0f : 0.0f);
            if (v.expert >= 0 && cellW >= ImGui::CalcTextSize("00").x + 2 && rowH >= font * 0.9f) {
                std::snprintf(b, sizeof b, "%d", v.expert);
                const float tw = ImGui::CalcTextSize(b).x;
                dl->AddText(ImVec2(a.x + (cellW - tw) * 0.5f, y + (rowH - font) * 0.5f), contrastText(col), b);
            }
            if (ImGui::IsWindowHovered() && mouse.x >= a.x && mouse.x < z.x && mouse.y >= a.y && mouse.y < z.y) {
                if (v.expert >= 0) ImGui::SetTooltip("layer %u, slot %zu: expert %d, %s in the last step", il, k, v.expert,
                                                     slotEventName(v.last));
                else ImGui::SetTooltip("layer %u, slot %zu: empty", il, k);
            }
        }
        if (il < c.totals.size() && c.totals[il].accesses && rowH >= font * 0.8f) {
            std::snprintf(b, sizeof b, "%.0f%%", 100.0 * c.totals[il].hitRate());
            const float x = o.x + labelW + float(maxSlots) * cellW + 6;
            dl->AddText(ImVec2(x, y + (rowH - font) * 0.5f), ImGui::GetColorU32(ImGuiCol_Text), b);
            if (ImGui::IsWindowHovered() && mouse.x >= x && mouse.x < x + statW && mouse.y >= y && mouse.y < y + rowH) {
                const cache::CacheStats& t = c.totals[il];
                ImGui::SetTooltip("layer %u: %llu hits, %llu misses, %llu evictions, %s moved", il,
                                  (unsigned long long)t.hits, (unsigned long long)t.misses,
                                  (unsigned long long)t.evictions, formatBytes(t.bytesUploaded).c_str());
            }
        }
    }
    ImGui::Dummy(ImVec2(avail, rowH * float(L)));
}

// Hit rate of every step of the conversation, one bar each (prefill steps lighter); a mark where
// the budget changed.
void drawTimeline(const CacheState& c, float height) {
    const ImVec2 o = ImGui::GetCursorScreenPos();
    const float w = ImGui::GetContentRegionAvail().x;
    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->AddRectFilled(o, ImVec2(o.x + w, o.y + height), IM_COL32(30, 32, 38, 255));
    dl->AddLine(ImVec2(o.x, o.y + height * 0.5f), ImVec2(o.x + w, o.y + height * 0.5f), IM_COL32(70, 72, 80, 255));
    const size_t n = c.steps.size();
    if (n == 0) {
        dl->AddText(ImVec2(o.x + 4, o.y + 2), ImGui::GetColorU32(ImGuiCol_TextDisabled), "hit rate per step");
        ImGui::Dummy(ImVec2(w, height));
        return;
    }
    // the newest steps when there are more than pixels
    const size_t shown = std::min<size_t>(n, size_t(std::max(1.0f, w / 2.0f)));
    const size_t first = n - shown;
    const float bw = w / float(shown);
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    int hovered = -1;
    for (size_t i = first; i < n; ++i) {
        const CacheStepView& s = c.steps[i];
        const float x = o.x + float(i - first) * bw;
        const float hr = float(s.stats.hitRate());
        const ImU32 col = s.prefill ? IM_COL32(140, 200, 150, 255) : slotEventColor(cache::SlotEvent::Hit);
        const float right = x + std::max(1.0f, bw - (bw > 3 ? 1 : 0));
        dl->AddRectFilled(ImVec2(x, o.y + height * (1.0f - hr)), ImVec2(right, o.y + height), col);
        if (i > 0 && s.slots != c.steps[i - 1].slots)
            dl->AddLine(ImVec2(x, o.y), ImVec2(x, o.y + height), slotEventColor(cache::SlotEvent::Prefetched), 2.0f);
        if (mouse.x >= x && mouse.x < x + bw && mouse.y >= o.y && mouse.y < o.y + height) hovered = int(i);
    }
    char b[48];
    std::snprintf(b, sizeof b, "hit rate per step (%zu)", n);
    dl->AddText(ImVec2(o.x + 4, o.y + 2), ImGui::GetColorU32(ImGuiCol_Text), b);
    ImGui::Dummy(ImVec2(w, height));
    if (hovered >= 0 && ImGui::IsItemHovered()) {
        const CacheStepView& s = c.steps[size_t(hovered)];
        ImGui::SetTooltip("step %d: %s of %u token(s) at %u, %u slots/layer\n%llu of %llu hits (%.1f%%), %llu misses, "
                          "%llu evictions, %s moved",
                          hovered, s.prefill ? "prefill" : "decode", s.nTok, s.pos0, s.slots,
                          (unsigned long long)s.stats.hits, (unsigned long long)s.stats.accesses,
                          100.0 * s.stats.hitRate(), (unsigned long long)s.stats.misses,
                          (unsigned long long)s.stats.evictions, formatBytes(s.stats.bytesUploaded).c_str());
    }
}

}  // namespace

void drawCachePanel(CacheState& c, const ModelState& model, const Conversation& conv, UiActions& act) {
    if (!ImGui::Begin(kCacheWindow)) return ImGui::End();
    if (!model.facts || !c.known) {
        ImGui::TextDisabled("%s", model.loading ? "loading ..."
                                  : model.facts ? "waiting for the engine's cache setup"
                                                : "load a model to see its expert cache");
        return ImGui::End();
    }
    const rt::CacheConfigEvent& cfg = c.config;
    if (!cfg.available) {
        ImGui::PushTextWrapPos(0.0f);
        ImGui::TextDisabled("The expert cache is a Vulkan feature: the CPU reference reads every expert from host "
                           "memory. Choose a Vulkan device in the model panel.");
        ImGui::PopTextWrapPos();
        return ImGui::End();
    }
    drawPolicyRow(c, conv, act);
    if (!cfg.enabled) {
        ImGui::PushTextWrapPos(0.0f);
        ImGui::TextColored(ImVec4(0.6f, 0.8f, 1, 1),
                           "Every expert is resident (%u per layer in %u layers, %s): no expert cache. Set a budget "
                           "below %u slots per layer to run with one.",
                           cfg.experts, cfg.layers, formatBytes(cfg.routedBytes).c_str(), cfg.experts);
        ImGui::PopTextWrapPos();
    }
    drawBudgetRow(c, model.loading, act);
    if (cfg.enabled) {
        ImGui::SameLine();
        ImGui::TextDisabled("slots: %s", formatBytes(cfg.slotBytes).c_str());
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip("%u of %u experts per layer resident in %s of device memory (all: %s)", cfg.slots,
                              cfg.experts, formatBytes(cfg.slotBytes).c_str(), formatBytes(cfg.routedBytes).c_str());
    }
    if (!cfg.note.empty()) ImGui::TextDisabled("%s", cfg.note.c_str());
    if (!c.notice.empty()) {
        ImGui::PushTextWrapPos(0.0f);
        ImGui::TextColored(ImVec4(1, 0.7f, 0.3f, 1), "%s", c.notice.c_str());
        ImGui::PopTextWrapPos();
    }
    if (!cfg.enabled) return ImGui::End();
    ImGui::Separator();
    drawSummary(c);
    drawLegend(c);
    const float font = ImGui::GetFontSize();
    const float timelineH = std::max(font * 2.0f, std::min(font * 3.5f, ImGui::GetContentRegionAvail().y * 0.3f));
    const float gridH = std::max(font, ImGui::GetContentRegionAvail().y - timelineH - ImGui::GetStyle().ItemSpacing.y * 2);
    drawSlots(c, gridH);
    drawTimeline(c, timelineH);
    ImGui::End();
}

}  // namespace moe::ui
