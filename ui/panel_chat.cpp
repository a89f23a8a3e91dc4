// Chat panel: the conversation with the streaming reply as clickable tokens (its reasoning in a
// collapsed node, its tool calls as blocks), the input box, and the generation settings (mode,
// template and its thinking controls, system prompt, sampler).
#include <algorithm>
#include <cstdio>

#include <imgui.h>
#include <imgui_stdlib.h>
#include <nlohmann/json.hpp>

#include "ui/conversation.h"
#include "ui/panels.h"
#include "ui/widgets.h"

namespace moe::ui {

namespace {

const ImVec4 kWarningColor(1, 0.8f, 0.4f, 1);

// enable_thinking and reasoning_effort, for a model whose replies have reasoning.
void drawThinkingControls(ChatSettings& s, const ReplyFormat& f) {
    ImGui::PushItemWidth(ImGui::GetFontSize() * 9);
    int thinking = s.thinking < 0 ? 0 : s.thinking ? 1 : 2;
    if (ImGui::Combo("Thinking", &thinking, "template default\0on\0off\0")) s.thinking = thinking == 0 ? -1 : thinking == 1 ? 1 : 0;
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("the template's enable_thinking (default: left undefined)");
    if (f.syntax == ReplyFormat::Syntax::Harmony) {
        static const char* const kEfforts[] = {"", "low", "medium", "high"};
        int effort = 0;
        for (int i = 1; i < 4; ++i)
            if (s.reasoningEffort == kEfforts[i]) effort = i;
        ImGui::SameLine();
        if (ImGui::Combo("Reasoning effort", &effort, "default\0low\0medium\0high\0")) s.reasoningEffort = kEfforts[effort];
    }
    ImGui::PopItemWidth();
}

void drawSettings(ChatState& chat, const ModelState& model) {
    ChatSettings& s = chat.settings;
    int mode = s.completion ? 1 : 0;
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 11.5f);
    if (ImGui::Combo("##mode", &mode, "Chat (template)\0Completion (raw text)\0")) s.completion = mode == 1;
    if (model.facts) {
        const std::string line = s.completion ? std::string("prompt sent as is") : templateLine(*model.facts);
        ImGui::SameLine();
        if (ImGui::GetContentRegionAvail().x < ImGui::CalcTextSize(line.c_str()).x) ImGui::NewLine();  // too long to follow
        ImGui::TextDisabled("%s", line.c_str());
        if (!s.completion && !model.facts->templateWarning.empty()) {
            ImGui::PushTextWrapPos(0.0f);
            ImGui::TextColored(kWarningColor, "%s", model.facts->templateWarning.c_str());
            ImGui::PopTextWrapPos();
        }
        if (!s.completion && model.facts->replyFormat.hasReasoning()) drawThinkingControls(s, model.facts->replyFormat);
    }
    if (!s.completion && ImGui::CollapsingHeader("System prompt")) {
        std::string hint = model.facts && !model.facts->defaultSystem.empty()
                               ? "default: " + model.facts->defaultSystem
                               : std::string("none");
        ImGui::InputTextMultiline("##system", &s.system, ImVec2(-1, ImGui::GetTextLineHeight() * 3));
        if (s.system.empty()) ImGui::TextDisabled("%s", hint.c_str());
    }
    if (ImGui::CollapsingHeader("Sampler")) {
        auto& sp = s.sampler;
        ImGui::PushItemWidth(ImGui::GetFontSize() * 8);
        ImGui::SliderFloat("temperature", &sp.temperature, 0.0f, 2.0f, sp.temperature <= 0 ? "greedy" : "%.2f");
        ImGui::SameLine();
        ImGui::SliderInt("top-k", &sp.topK, 0, 200, sp.topK == 0 ? "off" : "%d");
        ImGui::SliderFloat("top-p", &sp.topP, 0.0f, 1.0f, "%.2f");
        ImGui::SameLine();
        ImGui::SliderFloat("min-p", &sp.minP, 0.0f, 1.0f, "%.2f");
        ImGui::SliderFloat("repeat penalty", &sp.repeatPenalty, 1.0f, 2.0f, "%.2f");
        ImGui::SameLine();
        ImGui::SliderInt("max tokens", &s.maxTokens, 1, 2048);
        int seed = int(sp.seed);
        if (ImGui::InputInt("seed", &seed)) sp.seed = uint64_t(std::max(0, seed));
        ImGui::PopItemWidth();
    }
}

// True when s does not end inside a UTF-8 character (a byte-level or byte-fallback token may
// carry only part of one; its neighbours complete it).
bool endsOnCharacter(const std::string& s) {
    const size_t n = s.size();
    for (size_t back = 1; back <= 4 && back <= n; ++back) {
        const auto c = static_cast<unsigned char>(s[n - back]);
        if ((c & 0xC0) == 0x80) continue;  // continuation byte
        const size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        return need <= back;
    }
    return true;
}

// Tokens [p, q) shown as one chip: p and the tokens that complete its last character.
int32_t chipEnd(const Conversation& conv, int32_t p, int32_t end, std::string& text) {
    text = conv.tokens[size_t(p)].piece;
    int32_t q = p + 1;
    while (q < end && q - p < 4 && !endsOnCharacter(text)) text += conv.tokens[size_t(q++)].piece;
    return q;
}

// Which tokens of a reply a chip row shows: those of one part (parts[i] is position first + i).
struct PartFilter {
    const std::vector<ReplyPart>* parts = nullptr;  // null: every token
    int32_t first = 0;
    ReplyPart part = ReplyPart::Answer;
    ReplyPart at(int32_t p) const {
        const size_t i = size_t(p - first);
        return p >= first && i < parts->size() ? (*parts)[i] : ReplyPart::Answer;
    }
    bool keeps(int32_t p) const { return !parts || at(p) == part; }
};

// Tokens [first, end) as chips that wrap like text (only the filter's); clicking one pins its routing.
void drawTokenChips(Conversation& conv, int32_t first, int32_t end, const char* idPrefix, bool tintByKind,
                    const PartFilter& filter = {}) {
    beginTokenFlow();
    end = std::min(end, int32_t(conv.tokens.size()));
    std::string text;
    for (int32_t p = first; p < end;) {
        if (!filter.keeps(p)) {
            ++p;
            continue;
        }
        int32_t runEnd = p + 1;  // a chip never joins tokens of two parts
        while (runEnd < end && filter.keeps(runEnd)) ++runEnd;
        const int32_t q = chipEnd(conv, p, runEnd, text);
        const TokenView& t = conv.tokens[size_t(p)];
        char id[32];
        std::snprintf(id, sizeof id, "%s%d", idPrefix, p);
        const ImU32 tint = !tintByKind ? 0 : t.generated ? IM_COL32(60, 110, 60, 120) : IM_COL32(70, 70, 90, 120);
        const bool pinned = conv.pinned >= p && conv.pinned < q;
        if (tokenChip(id, text, pinned, tint)) conv.pinned = pinned ? -1 : p;
        if (ImGui::IsItemHovered()) {
            ImGui::BeginTooltip();
            for (int32_t i = p; i < q; ++i) {
                const TokenView& ti = conv.tokens[size_t(i)];
                ImGui::Text("position %d, token id %d%s", i, ti.id, ti.routed ? "" : " (not evaluated yet)");
            }
            ImGui::TextDisabled("click to pin its routing");
            ImGui::EndTooltip();
        }
        p = q;
    }
    endTokenFlow();
}

// The whole context as the model saw it (template markup included), every token clickable.
void drawContextTokens(Conversation& conv) {
    char title[64];
    std::snprintf(title, sizeof title, "Context as tokens (%zu)###context", conv.tokens.size());
    if (conv.tokens.empty() || !ImGui::CollapsingHeader(title)) return;
    drawTokenChips(conv, 0, int32_t(conv.tokens.size()), "ctx", true);
    ImGui::Separator();
}

void wrappedText(const std::string& text, const ImVec4* color = nullptr) {
    ImGui::PushTextWrapPos(0.0f);
    if (color) ImGui::PushStyleColor(ImGuiCol_Text, *color);
    ImGui::TextUnformatted(text.c_str());
    if (color) ImGui::PopStyleColor();
    ImGui::PopTextWrapPos();
}

// One tool call in a frame: its name and its arguments, indented as JSON when they parse.
void drawToolCall(const ToolCall& call, bool beingWritten) {
    const ImGuiStyle& st = ImGui::GetStyle();
    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->ChannelsSplit(2);  // the frame's background goes under its text
    dl->ChannelsSetCurrent(1);
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    ImGui::Indent(st.FramePadding.x);
    ImGui::Dummy(ImVec2(0, st.FramePadding.y));
    ImGui::BeginGroup();
    // a block still being written has no name until it parses
    const char* name = !call.name.empty() ? call.name.c_str() : beingWritten ? "..." : "(unreadable)";
    ImGui::TextColored(ImVec4(0.85f, 0.75f, 1.0f, 1.0f), "tool call: %s%s", name, beingWritten ? " (being written)" : "");
    const auto args = nlohmann::json::parse(call.arguments, nullptr, false);
    wrappedText(args.is_discarded() || call.arguments.empty() ? call.arguments : args.dump(2, ' ', false,
                                                                                          nlohmann::json::error_handler_t::replace));
    ImGui::EndGroup();
    ImGui::Dummy(ImVec2(0, st.FramePadding.y));
    ImGui::Unindent(st.FramePadding.x);
    const ImVec2 p1(p0.x + ImGui::GetContentRegionAvail().x, ImGui::GetItemRectMax().y);
    dl->ChannelsSetCurrent(0);
    dl->AddRectFilled(p0, p1, IM_COL32(60, 50, 90, 90), 3.0f);
    dl->AddRect(p0, p1, IM_COL32(150, 130, 210, 200), 3.0f);
    dl->ChannelsMerge();
}

// An assistant reply: its reasoning in a node collapsed by default, the answer, each tool call in
// a frame. With its tokens in the context every piece is clickable chips (the markers stay in
// "Context as tokens"); a reply loaded from a file, or of an earlier model, is text.
void drawReply(Conversation& conv, const MessageView& m, bool streaming) {
    const bool tokens = m.firstPos >= 0 && m.endPos > m.firstPos;
    const std::vector<ReplyPart> parts = tokenParts(m);
    const int32_t nReasoning = int32_t(std::count(parts.begin(), parts.end(), ReplyPart::Reasoning));
    const int32_t nAnswer = int32_t(std::count(parts.begin(), parts.end(), ReplyPart::Answer));
    if (!m.reasoning.empty() || nReasoning > 0 || (streaming && m.inReasoning)) {
        char label[64];
        if (streaming && m.inReasoning) std::snprintf(label, sizeof label, "Thinking...###thinking");
        else if (tokens && nReasoning > 0) std::snprintf(label, sizeof label, "Thinking (%d tokens)###thinking", nReasoning);
        else std::snprintf(label, sizeof label, "Thinking###thinking");
        if (ImGui::TreeNodeEx(label, ImGuiTreeNodeFlags_SpanAvailWidth)) {
            const ImVec4 dim = ImGui::GetStyle().Colors[ImGuiCol_TextDisabled];
            if (tokens && nReasoning > 0)
                drawTokenChips(conv, m.firstPos, m.endPos, "think", false, {&parts, m.firstPos, ReplyPart::Reasoning});
            else wrappedText(m.reasoning, &dim);
            ImGui::TreePop();
        }
    }
    if (tokens && nAnswer > 0) drawTokenChips(conv, m.firstPos, m.endPos, "tok", false, {&parts, m.firstPos, ReplyPart::Answer});
    else if (!m.content.empty()) wrappedText(m.content);
    // the call the reply is writing now is shown as it grows
    size_t open = m.toolCalls.size();
    if (streaming && !m.spans.empty() && m.spans.back().part == ReplyPart::ToolCall && !m.spans.back().closed)
        open = m.spans.back().firstCall;
    for (size_t i = 0; i < m.toolCalls.size(); ++i) {
        ImGui::PushID(int(i));
        drawToolCall(m.toolCalls[i], i >= open);
        ImGui::PopID();
    }
    if (!streaming && m.content.empty() && m.toolCalls.empty() && !m.reasoning.empty())
        ImGui::TextDisabled("(no answer after the thinking)");
    // nothing to show yet (no token, or only markers)
    if (streaming && m.content.empty() && m.reasoning.empty() && m.toolCalls.empty() && !m.inReasoning)
        ImGui::TextDisabled("...");
}

void drawMessages(ChatState& chat, Conversation& conv, UiActions& act) {
    drawContextTokens(conv);
    const ImVec4 userColor(0.55f, 0.75f, 1.0f, 1.0f), modelColor(0.6f, 0.9f, 0.6f, 1.0f);
    for (int32_t i = 0; i < int32_t(conv.messages.size()); ++i) {
        MessageView& m = conv.messages[size_t(i)];
        ImGui::PushID(i);
        const bool user = m.role == "user";
        ImGui::TextColored(user ? userColor : modelColor, "%s", user ? (chat.settings.completion ? "Text" : "You")
                                                                      : m.role == "assistant" ? "Model" : m.role.c_str());
        if (user && !chat.generating && chat.editing != i) {
            ImGui::SameLine();
            if (ImGui::SmallButton("edit")) {
                chat.editing = i;
                chat.editBuffer = m.content;
            }
        }
        if (chat.editing == i) {
            ImGui::InputTextMultiline("##edit", &chat.editBuffer, ImVec2(-1, ImGui::GetTextLineHeight() * 4));
            if (ImGui::Button("Resend")) {
                m.content = chat.editBuffer;
                conv.messages.resize(size_t(i) + 1);  // the conversation continues from the edited message
                chat.editing = -1;
                act.resend = true;
            }
            ImGui::SameLine();
            if (ImGui::Button("Cancel")) chat.editing = -1;
        } else if (m.role == "assistant" && !m.completion) {
            drawReply(conv, m, chat.generating && i + 1 == int32_t(conv.messages.size()));
        } else if (m.role == "assistant" && m.firstPos >= 0 && m.endPos > m.firstPos) {
            drawTokenChips(conv, m.firstPos, m.endPos, "tok", false);
        } else if (m.content.empty() && chat.generating && i + 1 == int32_t(conv.messages.size())) {
            ImGui::TextDisabled("...");
        } else {
            ImGui::PushTextWrapPos(0.0f);
            ImGui::TextUnformatted(m.content.c_str());
            ImGui::PopTextWrapPos();
        }
        ImGui::Spacing();
        ImGui::PopID();
    }
    if (chat.scrollToEnd) {
        ImGui::SetScrollHereY(1.0f);
        chat.scrollToEnd = false;
    }
}

void drawInput(ChatState& chat, const Conversation& conv, const ModelState& model, const PerfState& perf,
               UiActions& act) {
    const bool ready = model.facts.has_value() && !model.loading;
    const float lineH = ImGui::GetTextLineHeight();
    // Enter sends, Ctrl+Enter starts a new line
    const bool enter = ImGui::InputTextMultiline("##input", &chat.input, ImVec2(-1, lineH * 3.2f),
                                                 ImGuiInputTextFlags_CtrlEnterForNewLine | ImGuiInputTextFlags_EnterReturnsTrue);
    if (chat.generating) {
        if (ImGui::Button("Stop")) act.stop = true;
    } else {
        ImGui::BeginDisabled(!ready || chat.input.empty());
        if (ImGui::Button("Send") || (enter && ready && !chat.input.empty())) act.send = true;
        ImGui::EndDisabled();
        ImGui::SameLine();
        const bool canRegen = ready && !conv.messages.empty() && conv.messages.back().role == "assistant";
        ImGui::BeginDisabled(!canRegen);
        if (ImGui::Button("Regenerate")) act.regenerate = true;
        ImGui::EndDisabled();
    }
    ImGui::SameLine();
    ImGui::BeginDisabled(chat.generating);
    if (ImGui::Button("New chat")) act.newChat = true;
    ImGui::EndDisabled();
    ImGui::SameLine();
    if (perf.stats.generatedTokens > 0)
        ImGui::TextDisabled("%.1f tok/s  %u tokens", perf.stats.decodeTokPerSec, perf.stats.generatedTokens);
    if (!chat.status.empty()) ImGui::TextDisabled("%s", chat.status.c_str());
    if (!ready) ImGui::TextDisabled(model.loading ? "loading the model..." : "load a model to start");
}

}  // namespace

void drawChatPanel(ChatState& chat, Conversation& conv, const ModelState& model, const PerfState& perf, UiActions& act) {
    if (!ImGui::Begin(kChatWindow)) return ImGui::End();
    drawSettings(chat, model);
    ImGui::Separator();
    const float inputH = ImGui::GetTextLineHeight() * 3.2f + ImGui::GetFrameHeightWithSpacing() * 2.2f +
                         ImGui::GetStyle().ItemSpacing.y * 2;
    if (ImGui::BeginChild("messages", ImVec2(0, -inputH), false)) drawMessages(chat, conv, act);
    ImGui::EndChild();
    drawInput(chat, conv, model, perf, act);
    ImGui::End();
}

}  // namespace moe::ui
