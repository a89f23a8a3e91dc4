// The engine thread of one loaded model. Commands go in (load a model, generate, change the
// routing policy, the expert cache's policy, prefetch and budget, profiling on/off), events come
// out (model loaded or failed, prompt, tokens, per-token routing, per-step cache telemetry,
// stats, kernel times, memory). The two queues and a stop flag are all the caller shares with
// it: the GUI polls events each frame and never blocks on the engine.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "cpu/routing_policy.h"
#include "runtime/generate.h"
#include "runtime/session_backend.h"
#include "tokenizer/chat_template.h"
#include "trace/expert_cache.h"
#include "trace/trace.h"

namespace moe::rt {

// What the model panel shows about a loaded model.
struct ModelFacts {
    std::string path, name, arch;
    std::string backend;            // "Vulkan (<device>)" or "CPU reference"
    uint32_t layers = 0, experts = 0, expertsUsed = 0, sharedExperts = 0;
    uint32_t contextLength = 0;     // the model's (<arch>.context_length)
    uint32_t nCtx = 0;              // the session's KV cache
    uint32_t vocab = 0, embd = 0, expertFf = 0, sharedFf = 0;
    uint64_t paramsTotal = 0, paramsActive = 0;
    uint64_t fileBytes = 0;
    std::vector<std::pair<std::string, uint32_t>> tensorTypes;  // type name -> number of tensors
    std::string chatTemplate;       // family name ("chatml", ..., "plain")
    bool templateJinja = false;     // the model's own template is rendered (else the family's built-in format)
    ReplyFormat replyFormat;        // its reasoning / channel / tool-call markers
    std::string templateWarning;
    std::string defaultSystem;      // the template's default system prompt, if any
};
ModelFacts describeModel(const Model& model, const std::string& path);

// ---- commands
struct LoadModelCmd {
    std::string path;
    BackendOptions backend;  // backend.profile is ignored: SetProfileCmd sets it
    // backend.expertCache.policy Static: the trace its hot set is learned from (`--cache-static`)
    std::string cacheStaticTrace;
};
// A conversation longer than the context is shifted, never refused: the PromptEvent then holds
// the context window (system prompt + the newest tokens) and generation shifts again at nCtx.
struct GenerateCmd {
    bool completion = false;              // true: `prompt` as raw text (BOS as the tokenizer says)
    std::string prompt;
    std::vector<ChatMessage> conversation;  // chat: rendered with the model's chat template
    ChatOptions chatOptions;              // chat: enable_thinking, reasoning_effort, tools
    GenerateParams params;                // params.context, stopTokens, renderSpecial: set by the session
};
// Routing policies (cpu/routing_policy.h), resolved against the model; layer l takes the
// parameters policy l resolves to for layer l. Applies live, from the next step.
struct SetRoutingCmd {
    std::vector<routing::Policy> layers;  // one per layer (fewer: the last repeats; empty: the model's)
};
struct SetProfileCmd {
    bool on = false;
};
// The expert cache's eviction policy, live. Static learns its hot set from `staticFrom` when
// set, else from the trace file `staticTrace`. Without a cache it is remembered for the next
// budget.
struct SetCachePolicyCmd {
    cache::Policy policy = cache::Policy::LRU;
    std::string staticTrace;
    std::optional<trace::Trace> staticFrom;
    std::string staticSource;  // how the GUI names `staticFrom` ("this conversation, 40 tokens")
};
// Cross-layer prefetch on or off, live.
struct SetPrefetchCmd {
    bool on = false;
};
// A new budget for the loaded model: rebuilds its backend with the new cache options (the KV
// cache is emptied; the next generation evaluates its context again). slots = n_expert: every
// expert resident; -1 with budgetMiB 0: automatic.
struct SetCacheBudgetCmd {
    int64_t slots = -1;
    uint64_t budgetMiB = 0;
};
using SessionCommand = std::variant<LoadModelCmd, GenerateCmd, SetRoutingCmd, SetProfileCmd, SetCachePolicyCmd,
                                    SetPrefetchCmd, SetCacheBudgetCmd>;

// ---- events
struct DevicesEvent {
    std::vector<std::string> names;  // Vulkan devices by index ("" names are unusable: see notes)
    std::vector<std::string> notes;  // per device: what it lacks, empty when usable
    int chosen = -1;                 // the default device (-1: none usable)
    std::string error;               // no Vulkan at all
};
struct ModelLoadedEvent {
    ModelFacts facts;
    bool reload = false;  // the same model rebuilt with new options (a cache budget): routing kept
};
struct LoadFailedEvent {
    std::string path, message;  // the previous model (if any) stays loaded
};
// The context shift (runtime/context.h) cut positions [kept, kept + dropped) of the context;
// later positions moved down by `dropped` and are re-evaluated (their routing comes again).
// Chats go on past the context length this way: the system prompt is kept, the oldest half of
// the rest is dropped.
struct ContextShiftEvent {
    uint32_t kept = 0, dropped = 0;
};
// A generation started: the full prompt (the context up to the reply; after a context shift the
// window that fits); its first `reused` tokens were already in the KV cache and are not evaluated
// again.
struct PromptEvent {
    std::vector<int32_t> ids;
    std::vector<std::string> pieces;
    uint32_t reused = 0;
    bool opensReasoning = false;  // chat: the prompt ends inside a thinking block (the reply starts in it)
};
struct TokenOutEvent {
    int32_t id = 0;
    std::string text;   // complete UTF-8 text this token adds
    std::string piece;  // the token's own text (may be a partial UTF-8 sequence)
    uint32_t position = 0;
    float logprob = 0;
};
// Routing of one token as the model evaluated it (prompt tokens in prefill, each generated token
// on the decode step that feeds it back; the last generated token is never evaluated).
struct TokenRoutingEvent {
    uint32_t position = 0;
    int32_t token = 0;
    uint32_t nLayer = 0, kMax = 0, nExpert = 0;
    std::vector<int32_t> ids;      // (nLayer, kMax), -1 padded
    std::vector<float> weights;    // (nLayer, kMax)
    std::vector<int32_t> counts;   // (nLayer)
    std::vector<float> probs;      // (nLayer, nExpert)
    std::vector<int32_t> pred;     // (nLayer, kMax) experts the cross-layer gate predicted (prefetch on), else empty
};
struct StatsEvent {
    uint32_t promptTokens = 0, generatedTokens = 0;
    double prefillTokPerSec = 0, decodeTokPerSec = 0;
};
struct KernelTimesEvent {
    bool prefill = false;  // a prefill batch (else one decode step)
    uint32_t nTok = 0;
    double stepMs = 0;
    std::vector<KernelStat> kernels;
};
struct MemoryEvent {
    MemoryByTag bytes{};
};
struct GenerationDoneEvent {
    GenerateStats stats;
    std::string error;                // empty on success
    uint32_t validationMessages = 0;  // of the engine's Vulkan instance so far
};
// A command that could not be applied (e.g. a routing policy); shown, not fatal.
struct NoticeEvent {
    enum class About { General, Routing, Cache };
    std::string message;
    About about = About::General;  // which panel it concerns
};
// How the expert cache is set up: after every load and every change of policy or prefetch.
struct CacheConfigEvent {
    bool available = false;      // Vulkan (the CPU reference has no expert cache)
    bool enabled = false;        // fewer slots than experts; false: every expert resident
    uint32_t layers = 0, experts = 0, expertsUsed = 0;
    uint32_t slots = 0;          // per MoE layer (experts when every expert is resident)
    cache::Policy policy = cache::Policy::LRU;
    bool prefetch = false;
    std::string staticSource;    // what the static policy learned from
    uint64_t expertBytes = 0;    // one expert (gate + up + down) of layer 0
    std::vector<uint64_t> layerExpertBytes;  // (layers) one expert of each layer
    uint64_t routedBytes = 0;    // every routed expert of every layer
    uint64_t slotBytes = 0;      // device memory of the slots (0 without a cache)
    std::string note;            // why the automatic budget was limited, if it was
    bool fresh = false;          // the cache was (re)built since the last event: every slot empty
};
// What the expert cache did in one cache step (a prefill batch or a decode token), collected
// after the forward step from the host-side bookkeeping.
struct CacheStepEvent {
    bool prefill = false;
    uint32_t pos0 = 0, nTok = 0;                    // the tokens it evaluated
    std::vector<cache::CacheStats> layers;          // (nLayer) its telemetry
    // (nLayer, slots) as the forward step left them: on its last cache step only, else empty
    std::vector<std::vector<cache::SlotView>> slots;
};
using SessionEvent = std::variant<DevicesEvent, ModelLoadedEvent, LoadFailedEvent, PromptEvent, TokenOutEvent,
                                  TokenRoutingEvent, StatsEvent, KernelTimesEvent, MemoryEvent, GenerationDoneEvent,
                                  NoticeEvent, ContextShiftEvent, CacheConfigEvent, CacheStepEvent>;

class Session {
public:
    // notify is called on the engine thread after events are queued (e.g. to wake an event
    // loop: glfwPostEmptyEvent); it may be empty. The thread starts here.
    explicit Session(std::function<void()> notify = {});
    // Stops a running generation after its current token and joins the thread.
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void post(SessionCommand c);
    // Ends the running generation after the current token and drops queued generations (each
    // still gets its GenerationDoneEvent, stop reason "stopped").
    void stop();
    // Every queued event, oldest first; never waits for the engine.
    std::vector<SessionEvent> poll();
    // A command is running or queued.
    bool busy() const;

private:
    struct Engine;
    void run();
    void emit(SessionEvent e);
    // Called by the engine between decode steps: applies queued routing and cache policy /
    // prefetch changes in the order they were posted.
    void applyLiveCommands(Engine& eng);
    bool stopRequested() const;

    std::function<void()> notify_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<SessionCommand> commands_;
    std::vector<SessionEvent> events_;
    bool quit_ = false, stop_ = false, running_ = false;
    std::thread thread_;
};

}  // namespace moe::rt
