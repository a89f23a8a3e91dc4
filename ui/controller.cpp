// Session events -> GUI state; panel actions -> Session commands.
#include "ui/controller.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "ui/conversation.h"
#include "ui/settings.h"

namespace moe::ui {

namespace {

template <class... F>
struct Overloaded : F... {
    using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

void onLoaded(AppState& s, const rt::ModelLoadedEvent& e) {
    ModelState& m = s.model;
    m.loading = false;
    m.error.clear();
    m.facts = e.facts;
    s.cache.budgetPending = false;
    m.pathInput = e.facts.path;
    addRecent(m, e.facts.path);
    s.perf.backend = e.facts.backend;
    s.perf.prefill.reset();
    s.perf.decode.reset();
    s.conv.replyFormat = e.facts.replyFormat;  // its replies are split by its own markers
    // a budget change rebuilt the same model: routing, context views and timeline stay
    if (e.reload) return;
    // a new model starts with its own routing; the messages stay (the chat can go on with it)
    s.routing.policies.assign(e.facts.layers, defaultRoutingControls(e.facts.expertsUsed));
    s.routing.allLayers = defaultRoutingControls(e.facts.expertsUsed);
    s.routing.notice.clear();
    s.conv.tokens.clear();
    s.conv.pinned = -1;
    s.conv.nLayer = s.conv.nExpert = 0;
    for (auto& msg : s.conv.messages) msg.firstPos = msg.endPos = -1;
    s.cache.known = false;
    s.cache.steps.clear();
    s.cache.budget = 0;
    s.cache.notice.clear();
}

void onCacheConfig(CacheState& c, const rt::CacheConfigEvent& e) {
    c.config = e;
    c.known = true;
    if (e.fresh) {
        // a new cache: every slot empty, totals from zero
        c.slots.clear();
        c.lastStep.clear();
        c.totals.assign(e.layers, cache::CacheStats{});
        c.tokens = 0;
        c.nextStepFresh = true;
    }
    if (c.budget == 0 || e.fresh) {
        const uint32_t lo = std::max<uint32_t>(1, e.expertsUsed);
        c.budget = int32_t(e.enabled ? e.slots : std::clamp(e.experts / 2, lo, std::max(lo, e.experts)));
    }
}

void onCacheStep(CacheState& c, const rt::CacheStepEvent& e) {
    if (c.totals.size() != e.layers.size()) c.totals.assign(e.layers.size(), cache::CacheStats{});
    CacheStepView v;
    v.prefill = e.prefill;
    v.pos0 = e.pos0;
    v.nTok = e.nTok;
    v.slots = c.config.slots;
    v.policy = c.config.policy;
    v.prefetch = c.config.prefetch;
    v.freshCache = std::exchange(c.nextStepFresh, false);
    v.layers = e.layers;
    for (size_t il = 0; il < e.layers.size(); ++il) {
        c.totals[il] += e.layers[il];
        v.stats += e.layers[il];
    }
    c.lastStep = e.layers;
    if (!e.slots.empty()) c.slots = e.slots;
    c.tokens += e.nTok;
    c.steps.push_back(v);
}

void onNotice(AppState& s, const rt::NoticeEvent& e) {
    s.chat.status = e.message;
    if (e.about == rt::NoticeEvent::About::Routing) s.routing.notice = e.message;
    if (e.about == rt::NoticeEvent::About::Cache) s.cache.notice = e.message;
}

// The cache panel's policy: static learns its hot set from this conversation's routing (sent
// with the command) or from a trace file.
void postCachePolicy(AppState& s, rt::Session& session, cache::Policy p) {
    CacheState& c = s.cache;
    rt::SetCachePolicyCmd cmd;
    cmd.policy = p;
    if (p == cache::Policy::Static && c.staticFromConversation) {
        auto tr = conversationTrace(s.conv, traceInfo(s), &s.cache.steps);
        if (!tr.ok()) {
            c.notice = "the static policy learns from this conversation: " + tr.error().message;
            return;
        }
        cmd.staticSource = "this conversation (" + std::to_string(tr.value().nTokens()) + " tokens)";
        cmd.staticFrom = std::move(tr).value();
    } else if (p == cache::Policy::Static) {
        cmd.staticTrace = c.staticTrace;
    }
    c.notice.clear();
    // later loads ask for the same policy (a hot set of this conversation is this model's only)
    if (p != cache::Policy::Static || !c.staticFromConversation) {
        c.request.policy = p;
        c.requestStaticTrace = cmd.staticTrace;
    }
    session.post(std::move(cmd));
}

void onDone(AppState& s, const rt::GenerationDoneEvent& e) {
    ChatState& c = s.chat;
    c.generating = false;
    ++c.repliesDone;
    c.lastError = e.error;
    c.stopReason = e.stats.stopReason;
    s.perf.engineValidationMessages = e.validationMessages;
    if (!e.error.empty()) {
        c.status = "error: " + e.error;
        if (!s.conv.messages.empty() && s.conv.messages.back().role == "assistant" && s.conv.messages.back().raw.empty())
            s.conv.messages.pop_back();
        return;
    }
    char b[160];
    std::snprintf(b, sizeof b, "%u tokens, stop: %s | prefill %.1f tok/s, decode %.1f tok/s", e.stats.generatedTokens,
                  e.stats.stopReason.c_str(), e.stats.prefillTokPerSec(), e.stats.decodeTokPerSec());
    c.status = b;
}

// Starts a reply to the conversation as it stands (the last message is the user's).
void generate(AppState& s, rt::Session& session) {
    const ChatSettings& cs = s.chat.settings;
    rt::GenerateCmd g = generateCommand(s);
    s.conv.promptText = g.prompt;
    MessageView reply{"assistant", "", -1, -1};
    reply.completion = cs.completion;
    s.conv.messages.push_back(std::move(reply));
    s.conv.pinned = -1;
    s.chat.generating = true;
    s.chat.scrollToEnd = true;
    s.chat.status = "generating...";
    s.perf.decodeRate.clear();
    session.post(std::move(g));
}

}  // namespace

rt::GenerateCmd generateCommand(const AppState& s) {
    const ChatSettings& cs = s.chat.settings;
    rt::GenerateCmd g;
    g.completion = cs.completion;
    if (cs.completion) g.prompt = completionText(s.conv);
    else g.conversation = chatMessages(s.conv, cs);
    // the thinking controls are shown only for a model whose replies have reasoning, and the
    // effort only for gpt-oss: a setting left from another model is not sent to this one
    const bool reasons = s.model.facts && s.model.facts->replyFormat.hasReasoning();
    if (!cs.completion && reasons) {
        g.chatOptions.thinking = cs.thinking;
        if (s.model.facts->replyFormat.syntax == ReplyFormat::Syntax::Harmony)
            g.chatOptions.reasoningEffort = cs.reasoningEffort;
    }
    g.params.maxTokens = cs.maxTokens;
    g.params.sampler = cs.sampler;
    return g;
}

void applyEvent(AppState& s, const rt::SessionEvent& ev) {
    std::visit(Overloaded{
                   [&](const rt::DevicesEvent& e) { s.model.devices = e; },
                   [&](const rt::ModelLoadedEvent& e) { onLoaded(s, e); },
                   [&](const rt::LoadFailedEvent& e) {
                       s.model.loading = false;
                       s.model.error = e.message;
                       if (std::exchange(s.cache.budgetPending, false)) s.cache.notice = e.message;
                   },
                   [&](const rt::PromptEvent& e) { applyPrompt(s.conv, e); },
                   [&](const rt::TokenOutEvent& e) {
                       applyToken(s.conv, e);
                       s.chat.scrollToEnd = true;
                   },
                   [&](const rt::TokenRoutingEvent& e) { applyRouting(s.conv, e); },
                   [&](const rt::StatsEvent& e) {
                       if (e.generatedTokens != s.perf.stats.generatedTokens && e.decodeTokPerSec > 0)
                           s.perf.decodeRate.push_back(float(e.decodeTokPerSec));
                       s.perf.stats = e;
                   },
                   [&](const rt::KernelTimesEvent& e) { (e.prefill ? s.perf.prefill : s.perf.decode) = e; },
                   [&](const rt::MemoryEvent& e) { s.perf.memory = e.bytes; },
                   [&](const rt::GenerationDoneEvent& e) { onDone(s, e); },
                   [&](const rt::NoticeEvent& e) { onNotice(s, e); },
                   [&](const rt::ContextShiftEvent& e) {
                       applyContextShift(s.conv, e);
                       s.chat.status = "context full: the oldest " + std::to_string(e.dropped) +
                                       " tokens after the system prompt were dropped";
                   },
                   [&](const rt::CacheConfigEvent& e) { onCacheConfig(s.cache, e); },
                   [&](const rt::CacheStepEvent& e) { onCacheStep(s.cache, e); },
               },
               ev);
}

void requestLoad(AppState& s, rt::Session& session, const std::string& path) {
    rt::LoadModelCmd c;
    c.path = path;
    c.backend.cpu = s.model.cpu;
    c.backend.device = s.model.device;
    if (!s.model.cpu) {  // the CPU reference has no expert cache
        c.backend.expertCache = s.cache.request;
        c.cacheStaticTrace = s.cache.requestStaticTrace;
    }
    s.model.loading = true;
    s.model.loadingPath = path;
    s.model.error.clear();
    session.post(std::move(c));
}

void handleActions(AppState& s, const UiActions& act, rt::Session& session) {
    if (act.stop) session.stop();
    if (act.loadModel) {
        if (s.chat.generating) session.stop();
        requestLoad(s, session, *act.loadModel);
    }
    if (act.profile) {
        s.perf.profile = *act.profile;
        session.post(rt::SetProfileCmd{*act.profile});
    }
    if (act.routingChanged) session.post(rt::SetRoutingCmd{s.routing.policies});
    if (act.cachePolicy) postCachePolicy(s, session, *act.cachePolicy);
    if (act.prefetch) {
        s.cache.request.prefetch = *act.prefetch;
        session.post(rt::SetPrefetchCmd{*act.prefetch});
    }
    if (act.cacheBudget && s.model.facts && !s.model.loading) {
        // the model is rebuilt with the new budget; the conversation stays and is evaluated again
        if (s.chat.generating) session.stop();
        session.post(rt::SetCacheBudgetCmd{*act.cacheBudget});
        s.model.loading = true;
        s.model.loadingPath = s.model.facts->path;
        s.model.error.clear();
        s.cache.notice.clear();
        s.cache.budgetPending = true;
    }
    if (act.newChat) {
        Conversation fresh;
        fresh.replyFormat = s.conv.replyFormat;
        s.conv = std::move(fresh);
        s.cache.steps.clear();
        s.chat.status.clear();
        s.chat.editing = -1;
    }
    const bool idle = !s.chat.generating && s.model.facts && !s.model.loading;
    if (act.send && idle && !s.chat.input.empty()) {
        s.conv.messages.push_back({"user", s.chat.input, -1, -1});
        s.chat.input.clear();
        generate(s, session);
    }
    if (act.resend && idle && !s.conv.messages.empty()) generate(s, session);
    if (act.regenerate && idle && !s.conv.messages.empty() && s.conv.messages.back().role == "assistant") {
        s.conv.messages.pop_back();
        generate(s, session);
    }
    if (act.saveConversation) {
        Status st = saveConversation(s.files.conversationPath, s.conv, s.chat.settings);
        s.files.message = st.ok() ? "saved " + s.files.conversationPath : st.message();
    }
    if (act.loadConversation && !s.chat.generating) {
        Status st = loadConversation(s.files.conversationPath, s.conv, s.chat.settings);
        s.files.message = st.ok() ? "loaded " + s.files.conversationPath : st.message();
    }
    if (act.exportTrace) {
        auto n = exportTrace(s.files.tracePath, s.conv, traceInfo(s), &s.cache.steps);
        s.files.message = n.ok() ? "exported " + std::to_string(n.value()) + " tokens to " + s.files.tracePath
                                 : n.error().message;
    }
}

}  // namespace moe::ui
