// Model panel: which GGUF file (typed, picked from the recent list, or dropped on the window),
// on which device, and what the loaded model is.
#include <string>
#include <utility>

#include <imgui.h>
#include <imgui_stdlib.h>

#include "ui/panels.h"
#include "ui/widgets.h"

namespace moe::ui {

namespace {

void drawFileRow(ModelState& m, UiActions& act) {
    const float loadW = ImGui::CalcTextSize("Load").x + ImGui::GetStyle().FramePadding.x * 2;
    const float recentW = ImGui::GetFrameHeight();
    ImGui::SetNextItemWidth(-(loadW + recentW + ImGui::GetStyle().ItemSpacing.x * 2));
    const bool enter = ImGui::InputTextWithHint("##path", "GGUF file (or drop one on the window)", &m.pathInput,
                                                ImGuiInputTextFlags_EnterReturnsTrue);
    ImGui::SameLine(0, 0);
    if (ImGui::BeginCombo("##recent", nullptr, ImGuiComboFlags_NoPreview | ImGuiComboFlags_PopupAlignLeft)) {
        if (m.recent.empty()) ImGui::TextDisabled("no recent models");
        for (const auto& r : m.recent)
            if (ImGui::Selectable(r.c_str(), r == m.pathInput)) m.pathInput = r;
        ImGui::EndCombo();
    }
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("recent models");
    ImGui::SameLine();
    ImGui::BeginDisabled(m.loading || m.pathInput.empty());
    if (ImGui::Button("Load") || (enter && !m.loading && !m.pathInput.empty())) act.loadModel = m.pathInput;
    ImGui::EndDisabled();
}

void drawDeviceRow(ModelState& m) {
    const auto& d = m.devices;
    std::string current = m.cpu ? std::string("CPU reference")
                          : m.device < 0 ? "automatic" + (d.chosen >= 0 && size_t(d.chosen) < d.names.size()
                                                              ? " (" + d.names[size_t(d.chosen)] + ")"
                                                              : std::string())
                          : size_t(m.device) < d.names.size() ? d.names[size_t(m.device)] : std::string("?");
    ImGui::SetNextItemWidth(-ImGui::CalcTextSize("device").x - ImGui::GetStyle().ItemSpacing.x);
    if (ImGui::BeginCombo("device", current.c_str())) {
        if (ImGui::Selectable("automatic", !m.cpu && m.device < 0)) m.cpu = false, m.device = -1;
        for (size_t i = 0; i < d.names.size(); ++i) {
            const bool usable = i < d.notes.size() && d.notes[i].empty();
            ImGui::BeginDisabled(!usable);
            std::string label = std::to_string(i) + ": " + d.names[i] + (usable ? "" : " (lacks " + d.notes[i] + ")");
            if (ImGui::Selectable(label.c_str(), !m.cpu && m.device == int32_t(i))) m.cpu = false, m.device = int32_t(i);
            ImGui::EndDisabled();
        }
        if (ImGui::Selectable("CPU reference (slow)", m.cpu)) m.cpu = true;
        ImGui::EndCombo();
    }
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("applies to the next load");
    if (!d.error.empty()) ImGui::TextColored(ImVec4(1, 0.7f, 0.3f, 1), "Vulkan: %s", d.error.c_str());
}

void fact(const char* label, const std::string& value) {
    ImGui::TableNextColumn();
    ImGui::TextDisabled("%s", label);
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(value.c_str());
}

void drawFacts(const rt::ModelFacts& f) {
    ImGui::Text("%s", f.name.empty() ? "(unnamed model)" : f.name.c_str());
    ImGui::SameLine();
    ImGui::TextDisabled("on %s", f.backend.c_str());
    if (!ImGui::BeginTable("facts", 4, ImGuiTableFlags_SizingStretchProp)) return;
    auto u = [](uint64_t v) { return std::to_string(v); };
    fact("architecture", f.arch);
    fact("layers", u(f.layers));
    fact("experts", u(f.experts) + " (ff " + u(f.expertFf) + ")");
    fact("active", "top-" + u(f.expertsUsed));
    fact("shared", f.sharedExperts ? u(f.sharedExperts) + " (ff " + u(f.sharedFf) + ")" : std::string("none"));
    fact("embedding", u(f.embd));
    fact("params", formatCount(f.paramsTotal));
    fact("active params", formatCount(f.paramsActive));
    fact("context", u(f.contextLength) + " (using " + u(f.nCtx) + ")");
    fact("vocabulary", u(f.vocab));
    fact("file", formatBytes(f.fileBytes));
    fact("template", f.chatTemplate + (f.templateJinja ? " (own, Jinja)" : " (built-in)"));
    ImGui::EndTable();
    std::string types;
    for (const auto& [t, n] : f.tensorTypes) types += (types.empty() ? "" : ", ") + t + " x" + std::to_string(n);
    // long lists, wrapped below the table rather than widening its columns
    for (const auto& [label, text] : {std::pair<const char*, std::string>{"tensors", types},
                                      {"replies", f.replyFormat.describe()}}) {
        ImGui::TextDisabled("%s", label);
        ImGui::SameLine();
        ImGui::PushTextWrapPos(0.0f);
        ImGui::TextUnformatted(text.c_str());
        ImGui::PopTextWrapPos();
    }
    if (!f.templateWarning.empty()) ImGui::TextColored(ImVec4(1, 0.8f, 0.4f, 1), "%s", f.templateWarning.c_str());
}

}  // namespace

void drawModelPanel(ModelState& m, UiActions& act) {
    if (!ImGui::Begin(kModelWindow)) return ImGui::End();
    drawFileRow(m, act);
    drawDeviceRow(m);
    if (m.loading) ImGui::TextColored(ImVec4(0.6f, 0.8f, 1, 1), "loading %s ...", m.loadingPath.c_str());
    if (!m.error.empty()) {
        ImGui::PushTextWrapPos(0.0f);
        ImGui::TextColored(ImVec4(1, 0.45f, 0.4f, 1), "%s", m.error.c_str());
        ImGui::PopTextWrapPos();
        if (m.facts) ImGui::TextDisabled("the previous model stays loaded");
    }
    ImGui::Separator();
    if (m.facts) drawFacts(*m.facts);
    else if (!m.loading) ImGui::TextDisabled("no model loaded");
    ImGui::End();
}

}  // namespace moe::ui
