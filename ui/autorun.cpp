// The autorun driver and the state dump.
#include "ui/autorun.h"

#include <cstdio>
#include <fstream>

#include "ui/conversation.h"
#include "ui/png.h"
#include "ui/widgets.h"

namespace moe::ui {

namespace {

// One context position as the routing views show it: per layer the selected experts, their
// weights and the router probabilities.
nlohmann::json tokenJson(const TokenView& t, uint32_t position, uint32_t nLayer, uint32_t nExpert) {
    nlohmann::json layers = nlohmann::json::array();
    for (uint32_t il = 0; il < nLayer && t.routed; ++il) {
        nlohmann::json ids = nlohmann::json::array(), w = nlohmann::json::array();
        for (uint32_t j = 0; j < t.kMax; ++j) {
            const size_t i = size_t(il) * t.kMax + j;
            if (i >= t.ids.size() || t.ids[i] < 0) continue;
            ids.push_back(t.ids[i]);
            w.push_back(t.weights[i]);
        }
        const size_t p0 = size_t(il) * nExpert;
        std::vector<float> probs;
        if (p0 + nExpert <= t.probs.size()) probs.assign(t.probs.begin() + long(p0), t.probs.begin() + long(p0 + nExpert));
        layers.push_back({{"ids", ids}, {"weights", w}, {"probs", probs}});
    }
    return {{"pos", position}, {"id", t.id}, {"text", t.piece}, {"generated", t.generated}, {"routed", t.routed},
            {"layers", layers}};
}

nlohmann::json statsJson(const cache::CacheStats& s) {
    return {{"accesses", s.accesses},       {"hits", s.hits},
            {"misses", s.misses},           {"evictions", s.evictions},
            {"prefetches", s.prefetches},   {"prefetch_used", s.prefetchUsed},
            {"prefetch_wasted", s.prefetchWasted}, {"bytes_uploaded", s.bytesUploaded},
            {"wait_ms", s.waitMs},          {"hit_rate", s.hitRate()}};
}

std::string hexColor(ImU32 c) {
    char b[8];
    std::snprintf(b, sizeof b, "#%02x%02x%02x", unsigned(c & 0xff), unsigned((c >> 8) & 0xff), unsigned((c >> 16) & 0xff));
    return b;
}

// The cache panel: setup, totals per layer since the cache was built, the slots after the last
// step, the timeline, and the colours of the slot states.
nlohmann::json cacheJson(const CacheState& c) {
    using nlohmann::json;
    const rt::CacheConfigEvent& cfg = c.config;
    if (!c.known) return nullptr;
    cache::CacheStats total;
    json layers = json::array();
    for (size_t il = 0; il < c.totals.size(); ++il) {
        total += c.totals[il];
        json l = statsJson(c.totals[il]);
        json slots = json::array();
        if (il < c.slots.size())
            for (const auto& v : c.slots[il]) slots.push_back({{"expert", v.expert}, {"last", slotEventName(v.last)}});
        l["slots"] = slots;
        layers.push_back(std::move(l));
    }
    json timeline = json::array();
    for (const auto& st : c.steps) {
        json t = statsJson(st.stats);
        t["prefill"] = st.prefill;
        t["pos0"] = st.pos0;
        t["n_tok"] = st.nTok;
        t["slots"] = st.slots;
        timeline.push_back(std::move(t));
    }
    json legend = json::object();
    for (auto e : {cache::SlotEvent::Hit, cache::SlotEvent::Miss, cache::SlotEvent::Prefetched, cache::SlotEvent::Idle,
                   cache::SlotEvent::Empty})
        legend[slotEventName(e)] = hexColor(slotEventColor(e));
    json j = statsJson(total);
    j["available"] = cfg.available;
    j["enabled"] = cfg.enabled;
    j["budget"] = cfg.slots;  // slots per layer
    j["experts"] = cfg.experts;
    j["policy"] = cache::policyName(cfg.policy);
    j["prefetch"] = cfg.prefetch;
    j["static_source"] = cfg.staticSource;
    j["slot_bytes"] = cfg.slotBytes;
    j["expert_bytes"] = cfg.expertBytes;
    j["note"] = cfg.note;
    j["notice"] = c.notice;
    j["tokens"] = c.tokens;
    j["bytes_per_token"] = c.tokens ? double(total.bytesUploaded) / double(c.tokens) : 0.0;
    j["layers"] = layers;
    j["timeline"] = timeline;
    j["legend"] = legend;
    return j;
}

}  // namespace

bool stepAutorun(Autorun& run, AppState& s, const AppOptions& opts, UiActions& act) {
    switch (run.phase) {
        case Autorun::Phase::WaitModel:
            if (s.model.loading) return false;
            if (!s.model.facts) {
                run.error = s.model.error.empty() ? "the model did not load" : s.model.error;
                return false;
            }
            // type the prompt and press Send, greedy as `moescope run`
            s.chat.settings.completion = !opts.chat;
            s.chat.settings.sampler = rt::SamplerParams{};
            s.chat.settings.maxTokens = opts.maxTokens;
            s.chat.input = opts.prompt;
            act.send = true;
            run.phase = Autorun::Phase::Generating;
            return false;
        case Autorun::Phase::Generating:
            if (s.chat.repliesDone == 0) return false;
            if (!s.chat.lastError.empty()) {
                run.error = s.chat.lastError;
                return false;
            }
            run.phase = opts.thenOpen.empty() ? Autorun::Phase::Settling : Autorun::Phase::Opening;
            run.settleFrames = 3;  // windows size themselves over the first frames
            return false;
        case Autorun::Phase::Opening:
            // one file at a time, as a user opening them one after the other
            if (run.waitingLoad) {
                if (s.model.loading) return false;
                run.loads.push_back({opts.thenOpen[run.loads.size()], s.model.error,
                                     s.model.facts ? s.model.facts->path : std::string()});
                run.waitingLoad = false;
            }
            if (run.loads.size() < opts.thenOpen.size()) {
                act.loadModel = opts.thenOpen[run.loads.size()];
                s.model.pathInput = *act.loadModel;
                run.waitingLoad = true;
                return false;
            }
            run.phase = Autorun::Phase::Settling;
            return false;
        case Autorun::Phase::Settling:
            if (--run.settleFrames > 0) return false;
            run.phase = Autorun::Phase::Capture;
            return true;
        case Autorun::Phase::Capture:
            return true;  // the last capture was skipped (window being resized): try again
        case Autorun::Phase::Finished:
            return false;
    }
    return false;
}

nlohmann::json dumpState(const AppState& s, const Autorun& run, const AppOptions& opts, const Screenshot& shot,
                         uint32_t guiValidation, const std::string& guiDevice) {
    using nlohmann::json;
    json model = nullptr;
    if (s.model.facts) {
        const auto& f = *s.model.facts;
        json types = json::object();
        for (const auto& [t, n] : f.tensorTypes) types[t] = n;
        model = {{"path", f.path}, {"name", f.name}, {"arch", f.arch}, {"backend", f.backend},
                 {"layers", f.layers}, {"experts", f.experts}, {"experts_used", f.expertsUsed},
                 {"shared_experts", f.sharedExperts}, {"params_total", f.paramsTotal},
                 {"params_active", f.paramsActive}, {"context_length", f.contextLength}, {"n_ctx", f.nCtx},
                 {"tensor_types", types}, {"chat_template", f.chatTemplate}, {"template_jinja", f.templateJinja},
                 {"template_line", templateLine(f)}, {"reply_format", f.replyFormat.describe()},
                 {"template_warning", f.templateWarning}};
    }
    const Conversation& c = s.conv;
    std::string reply;
    json promptIds = json::array(), replyIds = json::array(), tokens = json::array();
    int32_t firstGen = -1;
    if (!c.messages.empty() && c.messages.back().role == "assistant") {
        // what the model generated, markers included (a reply's parts are in "messages")
        const MessageView& m = c.messages.back();
        reply = m.raw.empty() ? m.content : m.raw;
        firstGen = m.firstPos;
    }
    // the messages as the chat panel shows them: each reply's reasoning, answer and tool calls,
    // and the part every generated token is shown in
    json messages = json::array();
    for (const MessageView& m : c.messages) {
        json calls = json::array(), parts = json::array();
        for (const ToolCall& tc : m.toolCalls) calls.push_back({{"name", tc.name}, {"arguments", tc.arguments}});
        for (ReplyPart p : tokenParts(m)) parts.push_back(replyPartName(p));
        messages.push_back({{"role", m.role}, {"content", m.content}, {"reasoning", m.reasoning}, {"tool_calls", calls},
                            {"in_reasoning", m.inReasoning}, {"first_pos", m.firstPos}, {"token_parts", parts}});
    }
    for (size_t p = 0; p < c.tokens.size(); ++p) {
        const TokenView& t = c.tokens[p];
        if (firstGen >= 0 && int32_t(p) >= firstGen) replyIds.push_back(t.id);
        else promptIds.push_back(t.id);
        tokens.push_back(tokenJson(t, uint32_t(p), c.nLayer, c.nExpert));
    }
    // expert load as the load panel shows it: selections per layer and expert
    json load = json::array();
    for (uint32_t il = 0; il < c.nLayer; ++il) {
        std::vector<uint32_t> n(c.nExpert, 0);
        for (const auto& t : c.tokens)
            for (uint32_t j = 0; t.routed && j < t.kMax; ++j)
                if (int32_t e = t.ids[size_t(il) * t.kMax + j]; e >= 0 && uint32_t(e) < c.nExpert) ++n[size_t(e)];
        load.push_back(n);
    }
    auto kernels = [](const std::optional<rt::KernelTimesEvent>& k) {
        json a = json::array();
        if (k)
            for (const auto& s : k->kernels) a.push_back({{"name", s.name}, {"ms", s.ms}, {"calls", s.calls}});
        return a;
    };
    json memory = json::object();
    for (size_t i = 0; i < s.perf.memory.size(); ++i) memory[vk::memoryTagName(vk::MemoryTag(i))] = s.perf.memory[i];
    const int32_t focus = focusPosition(c);
    json loads = json::array();
    for (const auto& l : run.loads) loads.push_back({{"path", l.path}, {"error", l.error}, {"model_after", l.modelAfter}});
    return {{"format", "moescope-gui-state"},
            {"version", 1},
            {"model", model},
            {"model_error", s.model.error},
            {"autorun_error", run.error},
            {"load_attempts", loads},
            {"mode", s.chat.settings.completion ? "completion" : "chat"},
            {"prompt", opts.autorun ? opts.prompt : c.promptText},
            {"generated_text", reply},
            {"messages", messages},
            {"chat_settings",
             {{"thinking", s.chat.settings.thinking}, {"reasoning_effort", s.chat.settings.reasoningEffort}}},
            {"prompt_token_ids", promptIds},
            {"generated_token_ids", replyIds},
            {"stop_reason", s.chat.stopReason},
            {"stats",
             {{"prompt_tokens", s.perf.stats.promptTokens},
              {"generated_tokens", s.perf.stats.generatedTokens},
              {"prefill_tok_s", s.perf.stats.prefillTokPerSec},
              {"decode_tok_s", s.perf.stats.decodeTokPerSec}}},
            {"heatmap_position", focus},
            {"tokens", tokens},
            {"expert_load", load},
            {"routing_policy", traceInfo(s).policy},
            {"cache", cacheJson(s.cache)},
            {"kernels", {{"prefill", kernels(s.perf.prefill)}, {"decode", kernels(s.perf.decode)}}},
            {"memory", memory},
            {"validation_messages", {{"engine", s.perf.engineValidationMessages}, {"gui", guiValidation}}},
            {"gui_device", guiDevice},
            {"screenshot", {{"path", opts.screenshot}, {"width", shot.width}, {"height", shot.height}}}};
}

Status writeStateDump(const AppState& s, const Autorun& run, const AppOptions& opts, const Screenshot& shot,
                      uint32_t guiValidation, const std::string& guiDevice) {
    if (opts.dumpState.empty()) return {};
    std::ofstream f(opts.dumpState);
    if (!f) return makeError("cannot write " + opts.dumpState);
    f << dumpState(s, run, opts, shot, guiValidation, guiDevice)
             .dump(1, ' ', false, nlohmann::json::error_handler_t::replace)
      << "\n";
    if (!f) return makeError("error writing " + opts.dumpState);
    return {};
}

Status finishAutorun(const AppState& s, const Autorun& run, const AppOptions& opts, const Screenshot& shot,
                     uint32_t guiValidation, const std::string& guiDevice) {
    if (!opts.screenshot.empty()) MOE_TRY(writePng(opts.screenshot, shot));
    MOE_TRY(writeStateDump(s, run, opts, shot, guiValidation, guiDevice));
    if (!opts.exportTrace.empty()) {
        auto n = exportTrace(opts.exportTrace, s.conv, traceInfo(s), &s.cache.steps);
        if (!n.ok()) return makeError(opts.exportTrace + ": " + n.error().message);
    }
    return {};
}

}  // namespace moe::ui
