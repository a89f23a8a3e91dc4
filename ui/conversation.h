// The GUI's conversation: applying Session events to it, saving and loading it as JSON, and
// its routing as a trace (engine/trace/trace.h, docs/trace-format.md version 1).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "tokenizer/chat_template.h"
#include "trace/trace.h"
#include "ui/state.h"

namespace moe::ui {

// A generation started: the context is now the prompt (positions past `reused` are new).
void applyPrompt(Conversation& c, const rt::PromptEvent& e);
// A token was sampled: appended to the context and to the last (assistant) message, whose raw
// text is split again into reasoning, answer and tool calls (c.replyFormat; a completion's
// continuation stays raw text).
void applyToken(Conversation& c, const rt::TokenOutEvent& e);
// A token was evaluated: its routing.
void applyRouting(Conversation& c, const rt::TokenRoutingEvent& e);
// The context was shifted: positions [kept, kept + dropped) are gone, later ones move down.
void applyContextShift(Conversation& c, const rt::ContextShiftEvent& e);

// The part of the reply (answer, reasoning, tool call, markup) each generated token of `m` is of,
// in position order from m.firstPos: the part of the span holding its first byte. A token that
// starts in markup and goes on into text (a marker the tokenizer has no single token for) is of
// that text, so that no text is hidden with the markers.
std::vector<ReplyPart> tokenParts(const MessageView& m);

// The messages the chat template renders (system prompt first when set); assistant turns carry
// their answer, reasoning and tool calls, the template decides what later turns keep.
std::vector<ChatMessage> chatMessages(const Conversation& c, const ChatSettings& s);
// Completion mode: the whole text so far (every message in order).
std::string completionText(const Conversation& c);

// Position whose routing the views show: the pinned one, else the last evaluated token; -1: none.
int32_t focusPosition(const Conversation& c);

// How the chat panel names the loaded model's template: "template: the model's own (Jinja),
// chatml family" or "template: built-in chatml".
std::string templateLine(const rt::ModelFacts& f);

// {"format": "moescope-conversation", "version": 1, "mode", "system", "thinking",
// "reasoning_effort", "sampler", "messages"}; assistant messages may have "reasoning",
// "tool_calls" ([{"name", "arguments"}]) and "raw" (the reply with its markers), all optional.
nlohmann::json conversationToJson(const Conversation& c, const ChatSettings& s);
Status conversationFromJson(const nlohmann::json& j, Conversation& c, ChatSettings& s);
Status saveConversation(const std::string& path, const Conversation& c, const ChatSettings& s);
Status loadConversation(const std::string& path, Conversation& c, ChatSettings& s);

// The routing controls of every layer in the policy text of a trace header: one policy when one
// expresses them all ("topk:2,2,4,4 mask:1:3"), else each layer's, in order, separated by " | ".
std::string routingText(const std::vector<routing::Policy>& layers, uint32_t modelK);
// The trace header of the loaded model as the app runs it (model, backend, policy, context,
// expert sizes, the expert cache's setting).
trace::TraceInfo traceInfo(const AppState& s);
// Every evaluated token of the conversation, in position order, as a trace with `info`'s header
// (its layer, expert and row counts come from the tokens), with the cross-layer gate's
// predictions when every token has them. With the cache timeline `steps`: when its forward steps
// are exactly the evaluated tokens and ran with one cache built for them, with info.cache's
// setting, the tokens are grouped into those steps with the live cache's counters (a simulator
// replaying the trace meets the engine's cache states); otherwise one token per step, without
// counters. Error: no evaluated token.
Result<trace::Trace> conversationTrace(const Conversation& c, const trace::TraceInfo& info,
                                       const std::vector<CacheStepView>* steps = nullptr);
// conversationTrace written as JSON Lines, or binary when the path ends in ".mstrace".
// Returns the tokens written.
Result<size_t> exportTrace(const std::string& path, const Conversation& c, const trace::TraceInfo& info,
                           const std::vector<CacheStepView>* steps = nullptr);

}  // namespace moe::ui
