// Drawing helpers shared by the panels.
#include "ui/widgets.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace moe::ui {

ImU32 heatColor(float t) {
    // viridis at 6 stops, linearly interpolated
    static const float stops[6][3] = {{0.267f, 0.005f, 0.329f}, {0.254f, 0.265f, 0.530f}, {0.164f, 0.471f, 0.558f},
                                      {0.134f, 0.659f, 0.518f}, {0.478f, 0.821f, 0.318f}, {0.993f, 0.906f, 0.144f}};
    t = std::clamp(std::isfinite(t) ? t : 0.0f, 0.0f, 1.0f) * 5.0f;
    const int i = std::min(4, int(t));
    const float f = t - float(i);
    float c[3];
    for (int k = 0; k < 3; ++k) c[k] = stops[i][k] + (stops[i + 1][k] - stops[i][k]) * f;
    return ImGui::ColorConvertFloat4ToU32(ImVec4(c[0], c[1], c[2], 1.0f));
}

ImU32 expertColor(int32_t expert) {
    if (expert < 0) return IM_COL32(60, 60, 60, 255);
    const float h = std::fmod(0.11f + float(expert) * 0.6180339f, 1.0f);
    const float s = (expert / 7) % 2 ? 0.55f : 0.75f;
    const float v = (expert / 3) % 2 ? 0.80f : 0.95f;
    float r, g, b;
    ImGui::ColorConvertHSVtoRGB(h, s, v, r, g, b);
    return ImGui::ColorConvertFloat4ToU32(ImVec4(r, g, b, 1.0f));
}

ImU32 slotEventColor(cache::SlotEvent e) {
    switch (e) {
        case cache::SlotEvent::Hit: return IM_COL32(62, 176, 92, 255);
        case cache::SlotEvent::Miss: return IM_COL32(222, 78, 60, 255);
        case cache::SlotEvent::Prefetched: return IM_COL32(72, 140, 236, 255);
        case cache::SlotEvent::Idle: return IM_COL32(92, 96, 110, 255);
        case cache::SlotEvent::Empty: break;
    }
    return IM_COL32(36, 38, 44, 255);
}

const char* slotEventName(cache::SlotEvent e) {
    switch (e) {
        case cache::SlotEvent::Hit: return "hit";
        case cache::SlotEvent::Miss: return "miss";
        case cache::SlotEvent::Prefetched: return "prefetched";
        case cache::SlotEvent::Idle: return "idle";
        case cache::SlotEvent::Empty: break;
    }
    return "empty";
}

ImU32 contrastText(ImU32 bg) {
    const ImVec4 c = ImGui::ColorConvertU32ToFloat4(bg);
    const float lum = 0.299f * c.x + 0.587f * c.y + 0.114f * c.z;
    return lum > 0.55f ? IM_COL32(0, 0, 0, 255) : IM_COL32(255, 255, 255, 255);
}

std::string formatCount(uint64_t n) {
    char b[32];
    if (n >= 1000000000ull) std::snprintf(b, sizeof b, "%.2f B", double(n) / 1e9);
    else if (n >= 1000000ull) std::snprintf(b, sizeof b, "%.2f M", double(n) / 1e6);
    else if (n >= 10000ull) std::snprintf(b, sizeof b, "%.1f K", double(n) / 1e3);
    else std::snprintf(b, sizeof b, "%llu", static_cast<unsigned long long>(n));
    return b;
}

std::string formatBytes(uint64_t n) {
    char b[32];
    if (n >= (1ull << 30)) std::snprintf(b, sizeof b, "%.2f GiB", double(n) / double(1ull << 30));
    else if (n >= (1ull << 20)) std::snprintf(b, sizeof b, "%.1f MiB", double(n) / double(1ull << 20));
    else if (n >= (1ull << 10)) std::snprintf(b, sizeof b, "%.1f KiB", double(n) / double(1ull << 10));
    else std::snprintf(b, sizeof b, "%llu B", static_cast<unsigned long long>(n));
    return b;
}

std::string visibleText(const std::string& piece) {
    if (piece.empty()) return "\xE2\x88\x85";  // ∅
    std::string s;
    for (char ch : piece) {
        if (ch == '\n') s += "\xE2\x86\xB5";  // ↵
        else if (ch == '\t') s += "\xE2\x87\xA5";  // ⇥
        else if (static_cast<unsigned char>(ch) < 0x20) s += '?';
        else s += ch;
    }
    return s;
}

void beginTokenFlow() {
    ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(1.0f, 2.0f));
    ImGui::PushStyleVar(ImGuiStyleVar_SelectableTextAlign, ImVec2(0.0f, 0.0f));
}

bool tokenChip(const char* id, const std::string& text, bool selected, ImU32 tint) {
    const std::string shown = visibleText(text);
    const ImVec2 size = ImGui::CalcTextSize(shown.c_str());
    // wrap like text: a new line when the chip does not fit what is left of this one
    const float x = ImGui::GetCursorPosX();
    if (x > ImGui::GetCursorStartPos().x + 1.0f && ImGui::GetContentRegionAvail().x < size.x) ImGui::NewLine();
    ImGui::PushID(id);
    if (tint) {
        const ImVec2 p = ImGui::GetCursorScreenPos();
        ImGui::GetWindowDrawList()->AddRectFilled(p, ImVec2(p.x + size.x, p.y + size.y), tint, 2.0f);
    }
    const bool clicked = ImGui::Selectable(shown.c_str(), selected, 0, size);
    ImGui::PopID();
    if (!text.empty() && text.back() == '\n') return clicked;  // the next token starts a line
    ImGui::SameLine();
    return clicked;
}

void endTokenFlow() {
    ImGui::NewLine();  // ends the line the last chip left open
    ImGui::PopStyleVar(2);
}

void helpMarker(const char* text) {
    ImGui::SameLine();
    ImGui::TextDisabled("(?)");
    if (ImGui::IsItemHovered()) {
        ImGui::BeginTooltip();
        ImGui::PushTextWrapPos(ImGui::GetFontSize() * 30.0f);
        ImGui::TextUnformatted(text);
        ImGui::PopTextWrapPos();
        ImGui::EndTooltip();
    }
}

}  // namespace moe::ui
