// Routing views of the conversation: the router probabilities of one token (layer x expert
// heatmap, selected experts outlined) and the history of every token (tokens x layers, each
// cell coloured by the experts the layer selected).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <imgui.h>

#include "ui/conversation.h"
#include "ui/panels.h"
#include "ui/widgets.h"

namespace moe::ui {

namespace {

// Rank of expert e among a layer's selected experts, or -1.
int selectedRank(const TokenView& t, uint32_t layer, int32_t e) {
    for (uint32_t j = 0; j < t.kMax; ++j)
        if (t.ids[size_t(layer) * t.kMax + j] == e) return int(j);
    return -1;
}

void tokenHeader(const Conversation& conv, int32_t pos) {
    const TokenView& t = conv.tokens[size_t(pos)];
    ImGui::Text("token %d", pos);
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(1, 0.9f, 0.5f, 1), "'%s'", visibleText(t.piece).c_str());
    ImGui::SameLine();
    ImGui::TextDisabled("id %d, %s%s", t.id, t.generated ? "generated" : "prompt", conv.pinned == pos ? ", pinned" : "");
}

void heatmapTooltip(const TokenView& t, uint32_t layer, int32_t e, uint32_t nExpert) {
    const float p = t.probs[size_t(layer) * nExpert + size_t(e)];
    const int rank = selectedRank(t, layer, e);
    ImGui::BeginTooltip();
    ImGui::Text("layer %u, expert %d", layer, e);
    ImGui::Text("router probability %.5f", p);
    if (rank >= 0) ImGui::Text("selected (rank %d), weight %.5f", rank + 1, t.weights[size_t(layer) * t.kMax + size_t(rank)]);
    else ImGui::TextDisabled("not selected");
    ImGui::EndTooltip();
}

}  // namespace

void drawHeatmapPanel(const Conversation& conv, RoutingState& routing) {
    if (!ImGui::Begin(kHeatmapWindow)) return ImGui::End();
    const int32_t pos = focusPosition(conv);
    if (pos < 0 || conv.nLayer == 0 || conv.nExpert == 0) {
        ImGui::TextDisabled("no routing yet: send a message");
        return ImGui::End();
    }
    const TokenView& t = conv.tokens[size_t(pos)];
    const uint32_t L = conv.nLayer, NE = conv.nExpert;
    tokenHeader(conv, pos);
    ImGui::Checkbox("scale per layer", &routing.perLayerNormalise);
    helpMarker("Colour = router probability; relative to each layer's largest when checked. White outline: experts "
               "the layer selected. Hover a cell for exact values.");

    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float font = ImGui::GetFontSize();
    const float labelW = ImGui::CalcTextSize("L000").x;
    const float legendH = font * 1.4f;
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const float cw = std::max(2.0f, (avail.x - labelW) / float(NE));
    const float ch = std::clamp((avail.y - font - legendH) / float(L), 2.0f, font * 1.6f);
    const ImVec2 grid(origin.x + labelW, origin.y + font);
    // expert indices on top, as many as fit
    const int every = std::max(1, int(std::ceil(ImGui::CalcTextSize("000").x / cw)));
    for (uint32_t e = 0; e < NE; e += uint32_t(every)) {
        char b[16];
        std::snprintf(b, sizeof b, "%u", e);
        dl->AddText(ImVec2(grid.x + e * cw, origin.y), ImGui::GetColorU32(ImGuiCol_TextDisabled), b);
    }
    const int labelEvery = std::max(1, int(std::ceil(font / ch)));
    for (uint32_t il = 0; il < L; ++il) {
        const float y = grid.y + il * ch;
        if (il % uint32_t(labelEvery) == 0) {
            char b[16];
            std::snprintf(b, sizeof b, "L%u", il);
            dl->AddText(ImVec2(origin.x, y + (ch - font) * 0.5f), ImGui::GetColorU32(ImGuiCol_TextDisabled), b);
        }
        const float* p = &t.probs[size_t(il) * NE];
        const float rowMax = std::max(1e-12f, *std::max_element(p, p + NE));
        for (uint32_t e = 0; e < NE; ++e) {
            const float v = routing.perLayerNormalise ? p[e] / rowMax : p[e];
            const ImVec2 a(grid.x + e * cw, y), b(grid.x + (e + 1) * cw, y + ch);
            dl->AddRectFilled(a, ImVec2(b.x - (cw > 4 ? 1 : 0), b.y - (ch > 4 ? 1 : 0)), heatColor(v));
        }
        for (uint32_t j = 0; j < t.kMax; ++j) {
            const int32_t e = t.ids[size_t(il) * t.kMax + j];
            if (e < 0) continue;
            const ImVec2 a(grid.x + e * cw, y);
            dl->AddRect(a, ImVec2(a.x + cw - 1, a.y + ch - 1), IM_COL32(255, 255, 255, 255), 0, 0, ch > 6 ? 2.0f : 1.0f);
        }
    }
    const ImVec2 gridSize(cw * NE, ch * L);
    ImGui::SetCursorScreenPos(grid);
    ImGui::InvisibleButton("grid", ImVec2(std::max(1.0f, gridSize.x), std::max(1.0f, gridSize.y)));
    if (ImGui::IsItemHovered()) {
        const ImVec2 m = ImGui::GetIO().MousePos;
        const int e = std::clamp(int((m.x - grid.x) / cw), 0, int(NE) - 1);
        const int il = std::clamp(int((m.y - grid.y) / ch), 0, int(L) - 1);
        heatmapTooltip(t, uint32_t(il), e, NE);
    }
    // colour legend
    const ImVec2 lg(grid.x, grid.y + gridSize.y + font * 0.3f);
    const float lw = std::min(gridSize.x, font * 12);
    for (int i = 0; i < 32; ++i)
        dl->AddRectFilled(ImVec2(lg.x + lw * i / 32, lg.y), ImVec2(lg.x + lw * (i + 1) / 32, lg.y + font * 0.6f),
                          heatColor(i / 31.0f));
    dl->AddText(ImVec2(lg.x + lw + 6, lg.y - font * 0.25f), ImGui::GetColorU32(ImGuiCol_TextDisabled),
                routing.perLayerNormalise ? "0 .. layer max" : "0 .. 1");
    ImGui::Dummy(ImVec2(1, legendH));
    ImGui::End();
}

void drawHistoryPanel(Conversation& conv) {
    if (!ImGui::Begin(kHistoryWindow)) return ImGui::End();
    const uint32_t L = conv.nLayer;
    if (L == 0 || conv.tokens.empty()) {
        ImGui::TextDisabled("no routing yet");
        return ImGui::End();
    }
    const int32_t focus = focusPosition(conv);
    if (conv.pinned >= 0) {
        ImGui::Text("pinned token %d", conv.pinned);
        ImGui::SameLine();
        if (ImGui::SmallButton("unpin")) conv.pinned = -1;
    } else {
        ImGui::TextDisabled("following the latest token; click a column to pin it");
    }
    const float font = ImGui::GetFontSize();
    const float labelW = ImGui::CalcTextSize("L000").x;
    const float cw = std::max(4.0f, font * 0.6f);
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const float stripH = avail.y - ImGui::GetStyle().ScrollbarSize - 2;
    const float markH = 4.0f;
    const float ch = std::max(2.0f, (stripH - markH - 2) / float(L));
    // layer labels stay put while the strip scrolls
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImVec2 o = ImGui::GetCursorScreenPos();
    const int labelEvery = std::max(1, int(std::ceil(font / ch)));
    for (uint32_t il = 0; il < L; il += uint32_t(labelEvery)) {
        char b[16];
        std::snprintf(b, sizeof b, "L%u", il);
        dl->AddText(ImVec2(o.x, o.y + markH + 2 + il * ch + (ch - font) * 0.5f), ImGui::GetColorU32(ImGuiCol_TextDisabled), b);
    }
    ImGui::SetCursorScreenPos(ImVec2(o.x + labelW, o.y));
    const size_t n = conv.tokens.size();
    ImGui::SetNextWindowContentSize(ImVec2(cw * float(n), 0));
    if (ImGui::BeginChild("strip", ImVec2(0, avail.y), false, ImGuiWindowFlags_HorizontalScrollbar)) {
        ImDrawList* sdl = ImGui::GetWindowDrawList();
        const ImVec2 s = ImGui::GetCursorScreenPos();  // moves left as the strip scrolls
        const float scroll = ImGui::GetScrollX(), width = ImGui::GetWindowWidth();
        const size_t first = size_t(std::max(0.0f, scroll / cw)), last = std::min(n, size_t((scroll + width) / cw) + 2);
        for (size_t p = first; p < last; ++p) {
            const TokenView& t = conv.tokens[p];
            const float x = s.x + cw * float(p);
            sdl->AddRectFilled(ImVec2(x, s.y), ImVec2(x + cw - 1, s.y + markH),
                               t.generated ? IM_COL32(110, 220, 110, 255) : IM_COL32(120, 120, 140, 255));
            for (uint32_t il = 0; il < L && t.routed; ++il) {
                const float y = s.y + markH + 2 + il * ch;
                const float h = ch >= 8 ? ch - 2 : ch;  // a gap between layers when there is room
                const uint32_t k = uint32_t(std::max(1, std::min<int32_t>(t.counts[il], int32_t(t.kMax))));
                const uint32_t stripes = h >= 2.0f * float(k) ? k : 1;  // all selected experts when they fit
                for (uint32_t j = 0; j < stripes; ++j)
                    sdl->AddRectFilled(ImVec2(x, y + h * j / stripes), ImVec2(x + cw - 1, y + h * (j + 1) / stripes),
                                       expertColor(t.ids[size_t(il) * t.kMax + j]));
            }
            if (int32_t(p) == focus)
                sdl->AddRect(ImVec2(x - 1, s.y), ImVec2(x + cw, s.y + markH + 2 + L * ch), IM_COL32(255, 255, 255, 255),
                             0, 0, 2.0f);
        }
        ImGui::InvisibleButton("cells", ImVec2(std::max(1.0f, cw * float(n)), std::max(1.0f, markH + 2 + L * ch)));
        if (ImGui::IsItemHovered()) {
            const ImVec2 m = ImGui::GetIO().MousePos;
            const size_t p = std::min(n - 1, size_t(std::max(0.0f, (m.x - s.x) / cw)));
            const int il = std::clamp(int((m.y - s.y - markH - 2) / ch), 0, int(L) - 1);
            const TokenView& t = conv.tokens[p];
            ImGui::BeginTooltip();
            ImGui::Text("token %zu '%s' (id %d, %s)", p, visibleText(t.piece).c_str(), t.id, t.generated ? "generated" : "prompt");
            if (t.routed) {
                ImGui::Text("layer %d:", il);
                for (uint32_t j = 0; j < t.kMax; ++j) {
                    const int32_t e = t.ids[size_t(il) * t.kMax + j];
                    if (e < 0) continue;
                    ImGui::ColorButton("##c", ImGui::ColorConvertU32ToFloat4(expertColor(e)), ImGuiColorEditFlags_NoTooltip,
                                       ImVec2(font * 0.8f, font * 0.8f));
                    ImGui::SameLine();
                    ImGui::Text("expert %d  weight %.4f", e, t.weights[size_t(il) * t.kMax + j]);
                }
            } else {
                ImGui::TextDisabled("not evaluated yet");
            }
            ImGui::EndTooltip();
            if (ImGui::IsItemClicked()) conv.pinned = conv.pinned == int32_t(p) ? -1 : int32_t(p);
        }
        // follow the latest token unless one is pinned
        if (conv.pinned < 0 && ImGui::GetScrollMaxX() > 0) ImGui::SetScrollX(ImGui::GetScrollMaxX());
    }
    ImGui::EndChild();
    ImGui::End();
}

}  // namespace moe::ui
