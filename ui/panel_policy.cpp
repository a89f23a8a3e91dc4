// Routing policy controls: per layer the selection policy (the model's, top-k, top-p), k, p and
// a mask of experts that may not be selected, edited as the engine's routing::Policy (the engine
// resolves and checks it). Changes apply from the next token, also while a reply is streaming.
#include <algorithm>
#include <cstdio>
#include <vector>

#include <imgui.h>

#include "ui/panels.h"
#include "ui/widgets.h"

namespace moe::ui {

namespace {

using Selection = routing::Policy::Selection;

uint32_t kOf(const routing::Policy& p, uint32_t fallback) { return p.k.empty() ? fallback : uint32_t(p.k[0]); }

// One row of controls; returns true when something changed.
bool policyControls(routing::Policy& p, uint32_t maxK, uint32_t modelK) {
    bool changed = false;
    int kind = int(p.selection);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 4.6f);
    if (ImGui::Combo("##kind", &kind, "model\0top-k\0top-p\0")) {
        p.selection = Selection(kind);
        changed = true;
    }
    ImGui::SameLine();
    ImGui::BeginDisabled(p.selection == Selection::Model);
    int k = int(std::min(kOf(p, modelK), maxK));
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 4);
    if (ImGui::SliderInt("##k", &k, 1, int(maxK), p.selection == Selection::TopP ? "max %d" : "k %d")) changed = true;
    // top-k's k is top-p's most experts: one slider, kept while another selection is chosen
    p.k = {int32_t(k)};
    p.kMax = int32_t(k);
    ImGui::SameLine();
    ImGui::BeginDisabled(p.selection != Selection::TopP);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 4);
    changed |= ImGui::SliderFloat("##p", &p.p, 0.05f, 1.0f, "p %.2f");
    ImGui::EndDisabled();
    ImGui::EndDisabled();
    return changed;
}

// The experts a layer's policy masks (its "mask:*:E,.." interventions), one flag per expert.
std::vector<uint8_t> maskOf(const routing::Policy& p, uint32_t nExpert) {
    std::vector<uint8_t> m(nExpert, 0);
    for (const auto& iv : p.interventions)
        if (iv.kind == routing::Intervention::Kind::Mask)
            for (int32_t e : iv.experts)
                if (e >= 0 && uint32_t(e) < nExpert) m[size_t(e)] = 1;
    return m;
}

void setMask(routing::Policy& p, const std::vector<uint8_t>& m) {
    std::erase_if(p.interventions, [](const auto& iv) { return iv.kind == routing::Intervention::Kind::Mask; });
    routing::Intervention iv;
    iv.kind = routing::Intervention::Kind::Mask;
    for (size_t e = 0; e < m.size(); ++e)
        if (m[e]) iv.experts.push_back(int32_t(e));
    if (!iv.experts.empty()) p.interventions.push_back(std::move(iv));
}

// Expert checkboxes in a grid, coloured like the routing views; returns true when changed.
bool maskGrid(routing::Policy& p, uint32_t nExpert) {
    std::vector<uint8_t> mask = maskOf(p, nExpert);
    bool changed = false;
    if (ImGui::SmallButton("none")) std::fill(mask.begin(), mask.end(), 0), changed = true;
    ImGui::SameLine();
    if (ImGui::SmallButton("invert")) {
        for (auto& m : mask) m = !m;
        changed = true;
    }
    ImGui::SameLine();
    ImGui::TextDisabled("checked = never selected");
    const int cols = 8;
    for (uint32_t e = 0; e < nExpert; ++e) {
        ImGui::PushID(int(e));
        if (e % cols) ImGui::SameLine();
        ImGui::ColorButton("##c", ImGui::ColorConvertU32ToFloat4(expertColor(int32_t(e))), ImGuiColorEditFlags_NoTooltip,
                           ImVec2(ImGui::GetFontSize() * 0.7f, ImGui::GetFontSize() * 0.7f));
        ImGui::SameLine(0, 2);
        bool on = mask[e] != 0;
        char label[12];
        std::snprintf(label, sizeof label, "%-3u", e);
        if (ImGui::Checkbox(label, &on)) {
            mask[e] = on;
            changed = true;
        }
        ImGui::PopID();
    }
    if (changed) setMask(p, mask);
    return changed;
}

uint32_t maskedCount(const routing::Policy& p, uint32_t nExpert) {
    const std::vector<uint8_t> m = maskOf(p, nExpert);
    return uint32_t(std::count(m.begin(), m.end(), uint8_t(1)));
}

}  // namespace

void drawPolicyPanel(RoutingState& routing, const ModelState& model, UiActions& act) {
    if (!ImGui::Begin(kPolicyWindow)) return ImGui::End();
    if (!model.facts) {
        ImGui::TextDisabled("load a model to steer its routing");
        return ImGui::End();
    }
    const uint32_t L = model.facts->layers, NE = model.facts->experts, modelK = model.facts->expertsUsed;
    const uint32_t maxK = uint32_t(cpu::routeWidthCap(NE));
    if (routing.policies.size() != L) routing.policies.assign(L, defaultRoutingControls(modelK));

    // every layer at once
    routing::Policy& all = routing.allLayers;
    if (all.k.empty()) all = defaultRoutingControls(std::min(maxK, modelK));
    ImGui::TextUnformatted("all layers");
    ImGui::SameLine();
    ImGui::PushID("all");
    policyControls(all, maxK, modelK);
    ImGui::SameLine();
    if (ImGui::Button("apply")) {
        for (auto& p : routing.policies) {  // the selection; each layer keeps its mask
            p.selection = all.selection;
            p.k = all.k;
            p.kMax = all.kMax;
            p.p = all.p;
        }
        act.routingChanged = true;
    }
    ImGui::SameLine();
    if (ImGui::Button("reset")) {
        routing.policies.assign(L, defaultRoutingControls(modelK));
        act.routingChanged = true;
    }
    ImGui::PopID();
    if (!routing.notice.empty()) ImGui::TextColored(ImVec4(1, 0.7f, 0.3f, 1), "%s", routing.notice.c_str());
    ImGui::Separator();

    if (ImGui::BeginTable("layers", 3, ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit)) {
        ImGui::TableSetupScrollFreeze(0, 1);
        ImGui::TableSetupColumn("layer");
        ImGui::TableSetupColumn("policy", ImGuiTableColumnFlags_WidthStretch);
        ImGui::TableSetupColumn("mask");
        ImGui::TableHeadersRow();
        for (uint32_t il = 0; il < L; ++il) {
            routing::Policy& p = routing.policies[il];
            ImGui::PushID(int(il));
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::Text("L%u", il);
            ImGui::TableNextColumn();
            act.routingChanged |= policyControls(p, maxK, modelK);
            ImGui::TableNextColumn();
            const uint32_t masked = maskedCount(p, NE);
            char label[32];
            std::snprintf(label, sizeof label, masked ? "%u masked" : "none", masked);
            if (ImGui::SmallButton(label)) ImGui::OpenPopup("mask");
            if (ImGui::BeginPopup("mask")) {
                ImGui::Text("layer %u: experts never selected", il);
                act.routingChanged |= maskGrid(p, NE);
                ImGui::EndPopup();
            }
            ImGui::PopID();
        }
        ImGui::EndTable();
    }
    ImGui::End();
}

}  // namespace moe::ui
