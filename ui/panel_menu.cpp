// Main menu bar and its small file dialogs (a path field each: no native file picker).
#include <imgui.h>
#include <imgui_stdlib.h>

#include "ui/panels.h"

namespace moe::ui {

namespace {

// A modal with one path field; returns true when confirmed.
bool pathDialog(const char* title, const char* what, std::string& path, const char* action) {
    bool ok = false;
    ImGui::SetNextWindowSize(ImVec2(ImGui::GetFontSize() * 32, 0), ImGuiCond_Appearing);
    if (ImGui::BeginPopupModal(title, nullptr, ImGuiWindowFlags_NoResize)) {
        ImGui::TextUnformatted(what);
        ImGui::SetNextItemWidth(-1);
        if (ImGui::IsWindowAppearing()) ImGui::SetKeyboardFocusHere();
        const bool enter = ImGui::InputText("##path", &path, ImGuiInputTextFlags_EnterReturnsTrue);
        if ((ImGui::Button(action) || enter) && !path.empty()) {
            ok = true;
            ImGui::CloseCurrentPopup();
        }
        ImGui::SameLine();
        if (ImGui::Button("Cancel")) ImGui::CloseCurrentPopup();
        ImGui::EndPopup();
    }
    return ok;
}

}  // namespace

void drawMainMenu(AppState& s, UiActions& act) {
    const char* open = nullptr;
    if (ImGui::BeginMainMenuBar()) {
        if (ImGui::BeginMenu("File")) {
            if (ImGui::MenuItem("Save conversation...")) open = "Save conversation";
            if (ImGui::MenuItem("Load conversation...", nullptr, false, !s.chat.generating)) open = "Load conversation";
            if (ImGui::MenuItem("Export routing trace...")) open = "Export routing trace";
            ImGui::Separator();
            if (ImGui::MenuItem("Quit", "Ctrl+Q")) act.quit = true;
            ImGui::EndMenu();
        }
        if (ImGui::BeginMenu("View")) {
            if (ImGui::MenuItem("Reset layout")) s.resetLayout = true;
            ImGui::SliderFloat("font size", &s.fontSize, 11.0f, 24.0f, "%.0f px");
            if (ImGui::IsItemHovered()) ImGui::SetTooltip("applies on the next start");
            ImGui::EndMenu();
        }
        if (!s.files.message.empty()) {
            ImGui::SameLine(0, ImGui::GetFontSize() * 2);
            ImGui::TextDisabled("%s", s.files.message.c_str());
        }
        ImGui::EndMainMenuBar();
    }
    if (ImGui::GetIO().KeyCtrl && ImGui::IsKeyPressed('Q', false)) act.quit = true;
    if (open) ImGui::OpenPopup(open);
    act.saveConversation = pathDialog("Save conversation", "Conversation file (JSON):", s.files.conversationPath, "Save");
    act.loadConversation = pathDialog("Load conversation", "Conversation file (JSON):", s.files.conversationPath, "Load");
    act.exportTrace = pathDialog("Export routing trace", "Routing trace (.jsonl; .mstrace for the binary form):",
                                 s.files.tracePath, "Export");
}

}  // namespace moe::ui
