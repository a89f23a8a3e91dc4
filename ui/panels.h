// The panels: free functions over the plain state structs. Each draws one window and records
// what the user asked for in UiActions; none of them talks to the engine.
#pragma once
#include "ui/state.h"

namespace moe::ui {

// Window titles (also the keys of the layout in imgui.ini).
inline constexpr const char* kChatWindow = "Chat";
inline constexpr const char* kModelWindow = "Model";
inline constexpr const char* kHeatmapWindow = "Router: current token";
inline constexpr const char* kHistoryWindow = "Routing history";
inline constexpr const char* kLoadWindow = "Expert load";
inline constexpr const char* kPolicyWindow = "Routing policy";
inline constexpr const char* kPerfWindow = "Performance";
inline constexpr const char* kCacheWindow = "Expert cache";

// Conversation with streaming reply (its thinking collapsed, tool calls framed), stop,
// regenerate, edit and resend, the template line and warning, thinking controls, system prompt,
// sampler.
void drawChatPanel(ChatState& chat, Conversation& conv, const ModelState& model, const PerfState& perf, UiActions& act);
// Model file (path, recent, dropped files), device, facts, load errors.
void drawModelPanel(ModelState& model, UiActions& act);
// Layer x expert router probabilities of the focused token, selected experts marked.
void drawHeatmapPanel(const Conversation& conv, RoutingState& routing);
// Tokens x layers coloured by the selected experts; click a token to pin it.
void drawHistoryPanel(Conversation& conv);
// Per layer, how often each expert was selected over the conversation.
void drawExpertLoadPanel(const Conversation& conv);
// Policy, k, p and masks per layer, applied live.
void drawPolicyPanel(RoutingState& routing, const ModelState& model, UiActions& act);
// The expert cache: slots per layer coloured by the last step, hit-rate timeline, bytes moved;
// policy, prefetch and budget. `conv` tells whether the static policy can learn from it.
void drawCachePanel(CacheState& cache, const ModelState& model, const Conversation& conv, UiActions& act);
// tok/s, per-shader GPU time, device memory by kind.
void drawPerformancePanel(PerfState& perf, UiActions& act);
// Menu bar and the file dialogs (save / load conversation, export trace).
void drawMainMenu(AppState& s, UiActions& act);

}  // namespace moe::ui
