// The GUI's own copy of everything the panels show: plain structs filled from Session events.
// Panels read these (and edit the settings parts); nothing here points into the engine.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cpu/routing_policy.h"
#include "runtime/session.h"
#include "trace/expert_cache.h"

namespace moe::ui {

// One position of the context as the model saw it, with its routing once evaluated.
struct TokenView {
    int32_t id = 0;
    std::string piece;             // the token's text
    bool generated = false;        // sampled by the model (else prompt / template)
    bool routed = false;           // routing below is filled
    uint32_t kMax = 0;
    std::vector<int32_t> ids;      // (nLayer, kMax), -1 padded
    std::vector<float> weights;    // (nLayer, kMax)
    std::vector<int32_t> counts;   // (nLayer)
    std::vector<float> probs;      // (nLayer, nExpert)
    std::vector<int32_t> pred;     // (nLayer, kMax) the cross-layer gate's prediction, or empty
};

// Bytes [begin, end) of a text.
struct TextRange {
    uint32_t begin = 0, end = 0;
    bool operator==(const TextRange&) const = default;
};

struct MessageView {
    std::string role;     // "system", "user", "assistant"
    std::string content;  // assistant: the answer (the reply without its reasoning, tool calls and markers)
    int32_t firstPos = -1, endPos = -1;  // assistant: positions of its generated tokens
    // assistant replies, split by the model's reply format (tokenizer/chat_reply.h)
    std::string reasoning;               // thinking / gpt-oss's analysis channel, trimmed
    std::vector<ToolCall> toolCalls;
    std::string raw;                     // the reply as generated, markers included
    std::vector<ReplySpan> spans;        // of `raw`: which bytes are answer, reasoning, tool call, markup
    std::vector<TextRange> tokenText;    // per generated token (position firstPos + i): its text's bytes in raw
    bool inReasoning = false;            // the reply so far ends inside its reasoning
    bool completion = false;             // a completion-mode continuation: raw text, never split
};

// The conversation and the context tokens with their routing.
struct Conversation {
    std::vector<MessageView> messages;
    std::vector<TokenView> tokens;  // by position
    uint32_t nLayer = 0, nExpert = 0;
    int32_t pinned = -1;            // position pinned in the routing views (-1: follow the latest)
    std::string promptText;         // completion mode: the text last sent
    ReplyFormat replyFormat;        // the loaded model's: chat replies are split with it
    bool replyOpensReasoning = false;  // the streaming reply started inside a thinking block
};

struct ChatSettings {
    bool completion = false;        // raw text continuation instead of the chat template
    std::string system;
    rt::SamplerParams sampler;
    int32_t maxTokens = 256;
    // the template's enable_thinking / reasoning_effort (sent when the model's replies have reasoning)
    int32_t thinking = -1;          // -1: the template's default, 0 off, 1 on
    std::string reasoningEffort;    // "" (the template's default), "low", "medium", "high"
};

struct ChatState {
    ChatSettings settings;
    std::string input;
    int32_t editing = -1;           // message being edited
    std::string editBuffer;
    bool generating = false;        // a reply is streaming
    uint32_t repliesDone = 0;       // generations finished (autorun waits on it)
    std::string lastError;          // of the last generation; empty when it succeeded
    std::string stopReason;
    bool scrollToEnd = false;
    std::string status;             // last stop reason or error
};

struct ModelState {
    std::string pathInput;
    std::vector<std::string> recent;    // most recent first
    bool loading = false;
    std::string loadingPath;
    std::optional<rt::ModelFacts> facts;
    std::string error;                  // last load error (the previous model stays)
    rt::DevicesEvent devices;
    int32_t device = -1;                // -1: automatic
    bool cpu = false;                   // CPU reference
};

// The routing controls of one layer as a policy of the engine (cpu/routing_policy.h): its
// selection (model / top-k / top-p), k (k[0], also kMax: top-p's most experts), p, and a mask
// ("mask:*:E,.."). k and p keep their values while another selection is chosen.
inline routing::Policy defaultRoutingControls(uint32_t k, float p = 0.5f) {
    routing::Policy r;
    r.k = {int32_t(k)};
    r.kMax = int32_t(k);
    r.p = p;
    return r;
}

struct RoutingState {
    std::vector<routing::Policy> policies;  // per layer, as shown in the controls
    routing::Policy allLayers;              // the "all layers" row (k empty: not set yet)
    bool perLayerNormalise = true;            // heatmap colour relative to each layer's maximum
    int32_t maskLayer = -1;                   // layer whose mask popup is open
    std::string notice;
};

// One forward step of the cache timeline (a prefill or a decode token).
struct CacheStepView {
    bool prefill = false;
    uint32_t pos0 = 0, nTok = 0;
    uint32_t slots = 0;        // the budget it ran with
    cache::Policy policy = cache::Policy::LRU;
    bool prefetch = false;
    bool freshCache = false;   // the first step of a cache just built (every slot empty before it)
    cache::CacheStats stats;   // summed over layers
    std::vector<cache::CacheStats> layers;  // (nLayer)
};

struct CacheState {
    rt::CacheConfigEvent config;                       // as the engine last reported it
    bool known = false;                                // config is of the loaded model
    std::vector<std::vector<cache::SlotView>> slots;   // (nLayer, slots) after the last step
    std::vector<cache::CacheStats> lastStep;           // (nLayer) the last step
    std::vector<cache::CacheStats> totals;             // (nLayer) since the cache was built
    uint64_t tokens = 0;                               // evaluated since the cache was built
    std::vector<CacheStepView> steps;                  // timeline over the conversation
    bool nextStepFresh = false;                        // the cache was rebuilt since the last step
    // controls
    int32_t budget = 0;                // the budget slider, slots per layer (0: not set yet)
    bool choosingStatic = false;       // static picked in the combo, its source not applied yet
    bool staticFromConversation = true;  // static policy: learn from this conversation, else the file
    std::string staticTrace;           // static policy: trace file
    std::string notice;                // last cache command that could not be applied
    bool budgetPending = false;        // a budget change is rebuilding the model
    // what model loads ask for (--expert-cache, --expert-cache-mb, --cache-policy, --prefetch);
    // policy and prefetch follow the panel, the budget set in the panel is the loaded model's only
    rt::ExpertCacheOptions request;
    std::string requestStaticTrace;    // --cache-static
};

struct PerfState {
    rt::StatsEvent stats;
    std::vector<float> decodeRate;            // tok/s after each token of the current reply
    std::optional<rt::KernelTimesEvent> prefill, decode;
    bool showPrefill = false;
    rt::MemoryByTag memory{};
    bool profile = true;
    std::string backend;
    uint32_t engineValidationMessages = 0;
};

// Paths typed in the file dialogs (save/load conversation, export trace).
struct FileState {
    std::string conversationPath = "conversation.json";
    std::string tracePath = "routing-trace.jsonl";  // .jsonl or .mstrace (trace/trace.h, version 1)
    std::string message;
};

struct AppState {
    Conversation conv;
    ChatState chat;
    ModelState model;
    RoutingState routing;
    CacheState cache;
    PerfState perf;
    FileState files;
    float fontSize = 15.0f;
    bool resetLayout = false;
};

// What the panels ask for this frame; the app turns it into Session commands.
struct UiActions {
    std::optional<std::string> loadModel;
    bool send = false;                  // the chat input is ready
    bool resend = false;                // an edited message ends the conversation: reply to it
    bool stop = false;
    bool regenerate = false;
    bool newChat = false;
    bool routingChanged = false;
    std::optional<bool> profile;
    std::optional<cache::Policy> cachePolicy;  // the cache panel's policy (static: with its source)
    std::optional<bool> prefetch;
    std::optional<int64_t> cacheBudget;        // slots per layer (n_expert: every expert resident)
    bool saveConversation = false, loadConversation = false, exportTrace = false;
    bool quit = false;
};

}  // namespace moe::ui
