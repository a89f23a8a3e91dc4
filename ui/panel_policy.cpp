// Routing policy controls: per layer the selection policy (the model's, top-k, top-p), k, p and
// a mask of experts that may not be selected. Changes apply from the next token, also while a
// reply is streaming.
#include <algorithm>
#include <cstdio>

#include <imgui.h>

#include "ui/panels.h"
#include "ui/widgets.h"

namespace moe::ui {

namespace {

using Kind = rt::RoutingPolicy::Kind;

// One row of controls; returns true when something changed.
bool policyControls(rt::RoutingPolicy& p, uint32_t maxK) {
    bool changed = false;
    int kind = int(p.kind);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 4.6f);
    changed |= ImGui::Combo("##kind", &kind, "model\0top-k\0top-p\0");
    p.kind = Kind(kind);
    ImGui::SameLine();
    ImGui::BeginDisabled(p.kind == Kind::Model);
    int k = int(p.k);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 4);
    if (ImGui::SliderInt("##k", &k, 1, int(maxK), p.kind == Kind::TopP ? "max %d" : "k %d")) {
        p.k = uint32_t(k);
        changed = true;
    }
    ImGui::SameLine();
    ImGui::BeginDisabled(p.kind != Kind::TopP);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 4);
    changed |= ImGui::SliderFloat("##p", &p.p, 0.05f, 1.0f, "p %.2f");
    ImGui::EndDisabled();
    ImGui::EndDisabled();
    return changed;
}

// Expert checkboxes in a grid, coloured like the routing views; returns true when changed.
bool maskGrid(rt::RoutingPolicy& p, uint32_t nExpert) {
    p.mask.resize(nExpert, 0);
    bool changed = false;
    if (ImGui::SmallButton("none")) std::fill(p.mask.begin(), p.mask.end(), 0), changed = true;
    ImGui::SameLine();
    if (ImGui::SmallButton("invert")) {
        for (auto& m : p.mask) m = !m;
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
        bool on = p.mask[e] != 0;
        char label[12];
        std::snprintf(label, sizeof label, "%-3u", e);
        if (ImGui::Checkbox(label, &on)) {
            p.mask[e] = on;
            changed = true;
        }
        ImGui::PopID();
    }
    return changed;
}

uint32_t maskedCount(const rt::RoutingPolicy& p) {
    return uint32_t(std::count_if(p.mask.begin(), p.mask.end(), [](uint8_t m) { return m != 0; }));
}

}  // namespace

void drawPolicyPanel(RoutingState& routing, const ModelState& model, UiActions& act) {
    if (!ImGui::Begin(kPolicyWindow)) return ImGui::End();
    if (!model.facts) {
        ImGui::TextDisabled("load a model to steer its routing");
        return ImGui::End();
    }
    const uint32_t L = model.facts->layers, NE = model.facts->experts;
    const uint32_t maxK = std::min<uint32_t>(NE, 64);
    if (routing.policies.size() != L) routing.policies.assign(L, rt::RoutingPolicy{.k = model.facts->expertsUsed});

    // every layer at once
    rt::RoutingPolicy& all = routing.allLayers;
    if (all.k == 0 || all.k > maxK) all.k = std::min(maxK, model.facts->expertsUsed);
    ImGui::TextUnformatted("all layers");
    ImGui::SameLine();
    ImGui::PushID("all");
    policyControls(all, maxK);
    ImGui::SameLine();
    if (ImGui::Button("apply")) {
        for (auto& p : routing.policies) {
            p.kind = all.kind;
            p.k = all.k;
            p.p = all.p;
        }
        act.routingChanged = true;
    }
    ImGui::SameLine();
    if (ImGui::Button("reset")) {
        routing.policies.assign(L, rt::RoutingPolicy{.k = model.facts->expertsUsed});
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
            rt::RoutingPolicy& p = routing.policies[il];
            ImGui::PushID(int(il));
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::Text("L%u", il);
            ImGui::TableNextColumn();
            act.routingChanged |= policyControls(p, maxK);
            ImGui::TableNextColumn();
            const uint32_t masked = maskedCount(p);
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
