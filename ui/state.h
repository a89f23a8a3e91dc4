// The GUI's own copy of everything the panels show: plain structs filled from Session events.
// Panels read these (and edit the settings parts); nothing here points into the engine.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/session.h"

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
};

struct MessageView {
    std::string role;     // "system", "user", "assistant"
    std::string content;
    int32_t firstPos = -1, endPos = -1;  // assistant: positions of its generated tokens
};

// The conversation and the context tokens with their routing.
struct Conversation {
    std::vector<MessageView> messages;
    std::vector<TokenView> tokens;  // by position
    uint32_t nLayer = 0, nExpert = 0;
    int32_t pinned = -1;            // position pinned in the routing views (-1: follow the latest)
    std::string promptText;         // completion mode: the text last sent
};

struct ChatSettings {
    bool completion = false;        // raw text continuation instead of the chat template
    std::string system;
    rt::SamplerParams sampler;
    int32_t maxTokens = 256;
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

struct RoutingState {
    std::vector<rt::RoutingPolicy> policies;  // per layer, as shown in the controls
    rt::RoutingPolicy allLayers{.k = 0};      // the "all layers" row (k 0: not set yet)
    bool perLayerNormalise = true;            // heatmap colour relative to each layer's maximum
    int32_t maskLayer = -1;                   // layer whose mask popup is open
    std::string notice;
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
    std::string tracePath = "routing-trace.jsonl";
    std::string message;
};

struct AppState {
    Conversation conv;
    ChatState chat;
    ModelState model;
    RoutingState routing;
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
    bool saveConversation = false, loadConversation = false, exportTrace = false;
    bool quit = false;
};

}  // namespace moe::ui
