// Session events -> GUI state; panel actions -> Session commands.
#include "ui/controller.h"

#include <cstdio>

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
    m.pathInput = e.facts.path;
    addRecent(m, e.facts.path);
    s.perf.backend = e.facts.backend;
    s.perf.prefill.reset();
    s.perf.decode.reset();
    // a new model starts with its own routing; the messages stay (the chat can go on with it)
    s.routing.policies.assign(e.facts.layers, rt::RoutingPolicy{.k = e.facts.expertsUsed});
    s.routing.allLayers = rt::RoutingPolicy{.k = e.facts.expertsUsed};
    s.routing.notice.clear();
    s.conv.tokens.clear();
    s.conv.pinned = -1;
    s.conv.nLayer = s.conv.nExpert = 0;
    for (auto& msg : s.conv.messages) msg.firstPos = msg.endPos = -1;
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
        if (!s.conv.messages.empty() && s.conv.messages.back().role == "assistant" && s.conv.messages.back().content.empty())
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
    rt::GenerateCmd g;
    g.completion = cs.completion;
    if (cs.completion) g.prompt = completionText(s.conv);
    else g.conversation = chatMessages(s.conv, cs);
    g.params.maxTokens = cs.maxTokens;
    g.params.sampler = cs.sampler;
    s.conv.promptText = g.prompt;
    s.conv.messages.push_back({"assistant", "", -1, -1});
    s.conv.pinned = -1;
    s.chat.generating = true;
    s.chat.scrollToEnd = true;
    s.chat.status = "generating...";
    s.perf.decodeRate.clear();
    session.post(std::move(g));
}

}  // namespace

void applyEvent(AppState& s, const rt::SessionEvent& ev) {
    std::visit(Overloaded{
                   [&](const rt::DevicesEvent& e) { s.model.devices = e; },
                   [&](const rt::ModelLoadedEvent& e) { onLoaded(s, e); },
                   [&](const rt::LoadFailedEvent& e) {
                       s.model.loading = false;
                       s.model.error = e.message;
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
                   [&](const rt::NoticeEvent& e) { s.routing.notice = s.chat.status = e.message; },
                   [&](const rt::ContextShiftEvent& e) {
                       applyContextShift(s.conv, e);
                       s.chat.status = "context full: the oldest " + std::to_string(e.dropped) +
                                       " tokens after the system prompt were dropped";
                   },
               },
               ev);
}

void requestLoad(AppState& s, rt::Session& session, const std::string& path) {
    rt::LoadModelCmd c;
    c.path = path;
    c.backend.cpu = s.model.cpu;
    c.backend.device = s.model.device;
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
    if (act.newChat) {
        s.conv = Conversation{};
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
        auto n = exportTrace(s.files.tracePath, s.conv);
        s.files.message = n.ok() ? "exported " + std::to_string(n.value()) + " tokens to " + s.files.tracePath
                                 : n.error().message;
    }
}

}  // namespace moe::ui
