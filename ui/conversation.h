// The GUI's conversation: applying Session events to it, saving and loading it as JSON, and
// exporting its routing as a trace (JSON Lines, docs/trace-format.md version 0).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "tokenizer/chat_template.h"
#include "ui/state.h"

namespace moe::ui {

// A generation started: the context is now the prompt (positions past `reused` are new).
void applyPrompt(Conversation& c, const rt::PromptEvent& e);
// A token was sampled: appended to the context and to the last (assistant) message.
void applyToken(Conversation& c, const rt::TokenOutEvent& e);
// A token was evaluated: its routing.
void applyRouting(Conversation& c, const rt::TokenRoutingEvent& e);
// The context was shifted: positions [kept, kept + dropped) are gone, later ones move down.
void applyContextShift(Conversation& c, const rt::ContextShiftEvent& e);

// The messages the chat template renders (system prompt first when set).
std::vector<ChatMessage> chatMessages(const Conversation& c, const ChatSettings& s);
// Completion mode: the whole text so far (every message in order).
std::string completionText(const Conversation& c);

// Position whose routing the views show: the pinned one, else the last evaluated token; -1: none.
int32_t focusPosition(const Conversation& c);

// {"format": "moescope-conversation", "version": 1, "mode", "system", "sampler", "messages"}.
nlohmann::json conversationToJson(const Conversation& c, const ChatSettings& s);
Status conversationFromJson(const nlohmann::json& j, Conversation& c, ChatSettings& s);
Status saveConversation(const std::string& path, const Conversation& c, const ChatSettings& s);
Status loadConversation(const std::string& path, Conversation& c, ChatSettings& s);

// One trace object (version 0) of an evaluated token.
nlohmann::json tokenTraceJson(const TokenView& t, uint32_t position, uint32_t nLayer, uint32_t nExpert);
// Every evaluated token of the conversation, one JSON object per line. Returns lines written.
Result<size_t> exportTrace(const std::string& path, const Conversation& c);

}  // namespace moe::ui
