// Expert load: per layer, how often each expert was selected over the evaluated tokens of the
// conversation, as one stacked bar per layer (segment width = share of selections).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include <imgui.h>

#include "ui/panels.h"
#include "ui/widgets.h"

namespace moe::ui {

namespace {

// counts[layer * nExpert + e]: selections of expert e in a layer.
std::vector<uint32_t> selectionCounts(const Conversation& conv, uint32_t& tokens) {
    const uint32_t L = conv.nLayer, NE = conv.nExpert;
    std::vector<uint32_t> c(size_t(L) * NE, 0);
    tokens = 0;
    for (const auto& t : conv.tokens) {
        if (!t.routed) continue;
        ++tokens;
        for (uint32_t il = 0; il < L; ++il)
            for (uint32_t j = 0; j < t.kMax; ++j) {
                const int32_t e = t.ids[size_t(il) * t.kMax + j];
                if (e >= 0 && uint32_t(e) < NE) ++c[size_t(il) * NE + size_t(e)];
            }
    }
    return c;
}

}  // namespace

void drawExpertLoadPanel(const Conversation& conv) {
    if (!ImGui::Begin(kLoadWindow)) return ImGui::End();
    const uint32_t L = conv.nLayer, NE = conv.nExpert;
    uint32_t tokens = 0;
    const std::vector<uint32_t> counts = L && NE ? selectionCounts(conv, tokens) : std::vector<uint32_t>{};
    if (tokens == 0) {
        ImGui::TextDisabled("no routed tokens yet");
        return ImGui::End();
    }
    ImGui::TextDisabled("%u tokens; bar = share of selections per expert; max/mean = imbalance", tokens);
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float font = ImGui::GetFontSize();
    const float labelW = ImGui::CalcTextSize("L000").x, statW = ImGui::CalcTextSize("x00.0").x + 6;
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const float rowH = std::clamp(avail.y / float(L), 3.0f, font * 1.3f);
    const float barW = std::max(10.0f, avail.x - labelW - statW);
    const ImVec2 o = ImGui::GetCursorScreenPos();
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    const int labelEvery = std::max(1, int(std::ceil(font / rowH)));
    for (uint32_t il = 0; il < L; ++il) {
        const uint32_t* c = &counts[size_t(il) * NE];
        uint64_t total = 0;
        uint32_t mx = 0;
        for (uint32_t e = 0; e < NE; ++e) total += c[e], mx = std::max(mx, c[e]);
        const float y = o.y + il * rowH;
        char b[16];
        if (il % uint32_t(labelEvery) == 0) {
            std::snprintf(b, sizeof b, "L%u", il);
            dl->AddText(ImVec2(o.x, y + (rowH - font) * 0.5f), ImGui::GetColorU32(ImGuiCol_TextDisabled), b);
        }
        if (total == 0) continue;
        float x = o.x + labelW;
        for (uint32_t e = 0; e < NE; ++e) {
            if (!c[e]) continue;
            const float w = barW * float(c[e]) / float(total);
            const ImVec2 a(x, y), z(x + w, y + rowH - (rowH > 4 ? 1 : 0));
            dl->AddRectFilled(a, ImVec2(std::max(a.x + 1, z.x - (w > 3 ? 1 : 0)), z.y), expertColor(int32_t(e)));
            if (w > ImGui::CalcTextSize("00").x + 4 && rowH >= font) {
                std::snprintf(b, sizeof b, "%u", e);
                dl->AddText(ImVec2(x + 2, y + (rowH - font) * 0.5f), contrastText(expertColor(int32_t(e))), b);
            }
            if (ImGui::IsWindowHovered() && mouse.x >= a.x && mouse.x < z.x && mouse.y >= a.y && mouse.y < z.y)
                ImGui::SetTooltip("layer %u, expert %u: %u of %llu selections (%.1f%%)", il, e, c[e],
                                  static_cast<unsigned long long>(total), 100.0 * c[e] / double(total));
            x += w;
        }
        // imbalance: the busiest expert's load over the mean load
        std::snprintf(b, sizeof b, "x%.1f", double(mx) * NE / double(total));
        if (rowH >= font * 0.8f) dl->AddText(ImVec2(o.x + labelW + barW + 6, y + (rowH - font) * 0.5f), ImGui::GetColorU32(ImGuiCol_Text), b);
    }
    ImGui::Dummy(ImVec2(avail.x, rowH * L));
    ImGui::End();
}

}  // namespace moe::ui
