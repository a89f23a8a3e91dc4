// Performance panel: prefill and decode tokens/s, GPU time per shader from timestamps (last
// prefill or decode step), and device memory in use by kind.
#include <algorithm>
#include <cstdio>

#include <imgui.h>

#include "ui/panels.h"
#include "ui/widgets.h"

namespace moe::ui {

namespace {

// Horizontal bars: label, bar proportional to value / maxValue, value text.
void barRow(const char* label, float frac, const char* value, ImU32 color, float labelW) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImVec2 o = ImGui::GetCursorScreenPos();
    const float h = ImGui::GetTextLineHeight();
    const float valueW = ImGui::CalcTextSize("0000.000 ms x000").x;
    const float barW = std::max(10.0f, ImGui::GetContentRegionAvail().x - labelW - valueW);
    ImGui::TextUnformatted(label);
    dl->AddRectFilled(ImVec2(o.x + labelW, o.y + 2), ImVec2(o.x + labelW + std::max(1.0f, barW * frac), o.y + h - 1), color);
    dl->AddText(ImVec2(o.x + labelW + barW + 6, o.y), ImGui::GetColorU32(ImGuiCol_Text), value);
}

void drawRates(const PerfState& p) {
    ImGui::Text("prefill %.1f tok/s", p.stats.prefillTokPerSec);
    ImGui::SameLine(ImGui::GetFontSize() * 11);
    ImGui::Text("decode %.1f tok/s", p.stats.decodeTokPerSec);
    ImGui::TextDisabled("%u prompt tokens, %u generated%s%s", p.stats.promptTokens, p.stats.generatedTokens,
                        p.backend.empty() ? "" : ", ", p.backend.c_str());
    if (p.decodeRate.size() > 1)
        ImGui::PlotLines("##rate", p.decodeRate.data(), int(p.decodeRate.size()), 0, "decode tok/s per token", 0.0f,
                         FLT_MAX, ImVec2(ImGui::GetContentRegionAvail().x, ImGui::GetFontSize() * 2.2f));
}

void drawKernels(PerfState& p, UiActions& act) {
    bool profile = p.profile;
    if (ImGui::Checkbox("GPU timestamps", &profile)) act.profile = profile;
    helpMarker("Records a timestamp after every dispatch. Switching rebuilds the forward pass (the next reply "
               "evaluates the whole context again).");
    ImGui::SameLine();
    int which = p.showPrefill ? 1 : 0;
    ImGui::RadioButton("decode step", &which, 0);
    ImGui::SameLine();
    ImGui::RadioButton("prefill", &which, 1);
    p.showPrefill = which == 1;
    const auto& k = p.showPrefill ? p.prefill : p.decode;
    if (!p.profile) return ImGui::TextDisabled("timestamps are off");
    if (!k || k->kernels.empty()) return ImGui::TextDisabled("no step profiled yet");
    double sum = 0;
    for (const auto& s : k->kernels) sum += s.ms;
    ImGui::TextDisabled("%u token(s): GPU %.3f ms over %zu shaders, step %.3f ms wall", k->nTok, sum, k->kernels.size(),
                        k->stepMs);
    float labelW = 0;
    for (const auto& s : k->kernels) labelW = std::max(labelW, ImGui::CalcTextSize(s.name.c_str()).x);
    labelW = std::min(labelW + 8, ImGui::GetContentRegionAvail().x * 0.4f);
    const double mx = std::max(1e-9, k->kernels.front().ms);
    for (const auto& s : k->kernels) {
        char v[48];
        std::snprintf(v, sizeof v, "%.3f ms x%u", s.ms, s.calls);
        barRow(s.name.c_str(), float(s.ms / mx), v, IM_COL32(90, 160, 230, 255), labelW);
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip("%s: %.4f ms in %u dispatches (%.1f%% of the step's GPU time)", s.name.c_str(), s.ms, s.calls,
                              100.0 * s.ms / std::max(1e-9, sum));
    }
}

void drawMemory(const PerfState& p) {
    uint64_t total = 0, mx = 1;
    for (uint64_t b : p.memory) total += b, mx = std::max(mx, b);
    ImGui::Text("device memory %s", formatBytes(total).c_str());
    float labelW = 0;
    for (size_t i = 0; i < p.memory.size(); ++i)
        labelW = std::max(labelW, ImGui::CalcTextSize(vk::memoryTagName(vk::MemoryTag(i))).x + 8);
    for (size_t i = 0; i < p.memory.size(); ++i) {
        if (!p.memory[i]) continue;
        barRow(vk::memoryTagName(vk::MemoryTag(i)), float(double(p.memory[i]) / double(mx)), formatBytes(p.memory[i]).c_str(),
               IM_COL32(200, 140, 80, 255), labelW);
    }
}

}  // namespace

void drawPerformancePanel(PerfState& p, UiActions& act) {
    if (!ImGui::Begin(kPerfWindow)) return ImGui::End();
    drawRates(p);
    uint64_t total = 0;
    for (uint64_t b : p.memory) total += b;
    if (total) {
        ImGui::Text("device memory %s", formatBytes(total).c_str());
        ImGui::SameLine();
        auto bytes = [&](vk::MemoryTag t) { return formatBytes(p.memory[size_t(t)]); };
        ImGui::TextDisabled("(weights %s, KV cache %s, scratch %s)", bytes(vk::MemoryTag::Weights).c_str(),
                            bytes(vk::MemoryTag::KvCache).c_str(), bytes(vk::MemoryTag::Scratch).c_str());
    }
    ImGui::Separator();
    if (ImGui::BeginTabBar("perf")) {
        if (ImGui::BeginTabItem("GPU time per shader")) {
            drawKernels(p, act);
            ImGui::EndTabItem();
        }
        if (ImGui::BeginTabItem("Memory")) {
            drawMemory(p);
            ImGui::EndTabItem();
        }
        ImGui::EndTabBar();
    }
    ImGui::End();
}

}  // namespace moe::ui
