// Conversation state, persistence and trace export.
#include "ui/conversation.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace moe::ui {

namespace {

constexpr auto kReplace = nlohmann::json::error_handler_t::replace;  // invalid UTF-8 -> U+FFFD

}  // namespace

void applyPrompt(Conversation& c, const rt::PromptEvent& e) {
    // positions before `reused` kept their tokens (and routing); the rest is the new prompt
    const size_t keep = std::min<size_t>(e.reused, c.tokens.size());
    c.tokens.resize(keep);
    for (size_t i = keep; i < e.ids.size(); ++i) {
        TokenView t;
        t.id = e.ids[i];
        t.piece = i < e.pieces.size() ? e.pieces[i] : std::string();
        c.tokens.push_back(std::move(t));
    }
    if (c.pinned >= int32_t(c.tokens.size())) c.pinned = -1;
    c.replyOpensReasoning = e.opensReasoning;
    if (!c.messages.empty() && c.messages.back().role == "assistant") {
        c.messages.back().firstPos = int32_t(e.ids.size());
        c.messages.back().endPos = int32_t(e.ids.size());
    }
}

void applyToken(Conversation& c, const rt::TokenOutEvent& e) {
    if (c.tokens.size() != e.position) c.tokens.resize(e.position);
    TokenView t;
    t.id = e.id;
    t.piece = e.piece;
    t.generated = true;
    c.tokens.push_back(std::move(t));
    if (c.messages.empty() || c.messages.back().role != "assistant") c.messages.push_back({"assistant", "", -1, -1});
    MessageView& m = c.messages.back();
    if (m.firstPos < 0) m.firstPos = int32_t(e.position);
    m.endPos = int32_t(e.position) + 1;
    // this token's text follows the reply so far (positions the context lost have none)
    const uint32_t at = uint32_t(m.raw.size());
    const size_t index = e.position >= uint32_t(m.firstPos) ? e.position - uint32_t(m.firstPos) : 0;
    m.tokenText.resize(index, TextRange{at, at});
    m.tokenText.push_back({at, uint32_t(at + e.text.size())});
    m.raw += e.text;
    // split again from the start: a marker may only now be complete, and a reply is at most a
    // few thousand tokens
    static const ReplyFormat plain;
    ParsedReply r = (m.completion ? plain : c.replyFormat).parse(m.raw, !m.completion && c.replyOpensReasoning);
    m.content = std::move(r.content);
    m.reasoning = std::move(r.reasoning);
    m.toolCalls = std::move(r.toolCalls);
    m.spans = std::move(r.spans);
    m.inReasoning = r.inReasoning;
}

std::vector<ReplyPart> tokenParts(const MessageView& m) {
    std::vector<ReplyPart> out;
    out.reserve(m.tokenText.size());
    size_t s = 0;  // the first span that may hold the current token's first byte
    for (const TextRange& t : m.tokenText) {
        const size_t b = t.begin, e = t.end;
        while (s < m.spans.size() && m.spans[s].end <= b) ++s;
        if (s == m.spans.size()) {
            // text not there yet (a partial character) or an empty reply: of the reply's last part
            out.push_back(m.spans.empty() ? ReplyPart::Answer : m.spans.back().part);
            continue;
        }
        ReplyPart part = m.spans[s].part;
        for (size_t k = s; part == ReplyPart::Markup && k < m.spans.size() && m.spans[k].begin < e; ++k)
            if (m.spans[k].part != ReplyPart::Markup) part = m.spans[k].part;
        out.push_back(part);
    }
    return out;
}

void applyRouting(Conversation& c, const rt::TokenRoutingEvent& e) {
    if (e.position >= c.tokens.size()) return;  // a stale event of a context that was cut
    TokenView& t = c.tokens[e.position];
    if (t.id != e.token) return;
    c.nLayer = e.nLayer;
    c.nExpert = e.nExpert;
    t.routed = true;
    t.kMax = e.kMax;
    t.ids = e.ids;
    t.weights = e.weights;
    t.counts = e.counts;
    t.probs = e.probs;
    t.pred = e.pred;
}

void applyContextShift(Conversation& c, const rt::ContextShiftEvent& e) {
    const size_t from = std::min<size_t>(e.kept, c.tokens.size());
    const size_t to = std::min<size_t>(size_t(e.kept) + e.dropped, c.tokens.size());
    c.tokens.erase(c.tokens.begin() + long(from), c.tokens.begin() + long(to));
    auto move = [&](int32_t& pos) {
        if (pos < int32_t(e.kept)) return;
        pos = pos >= int32_t(e.kept + e.dropped) ? pos - int32_t(e.dropped) : int32_t(e.kept);
    };
    for (MessageView& m : c.messages) {
        // the cut tokens of a reply lose their place in its text (the text itself stays)
        if (m.firstPos >= 0 && !m.tokenText.empty()) {
            const int64_t first = m.firstPos, n = int64_t(m.tokenText.size());
            const int64_t lo = std::max<int64_t>(first, e.kept), hi = std::min<int64_t>(first + n, int64_t(e.kept) + e.dropped);
            if (lo < hi) m.tokenText.erase(m.tokenText.begin() + (lo - first), m.tokenText.begin() + (hi - first));
        }
        move(m.firstPos);
        move(m.endPos);
    }
    if (c.pinned >= int32_t(e.kept)) c.pinned = -1;
}

std::vector<ChatMessage> chatMessages(const Conversation& c, const ChatSettings& s) {
    std::vector<ChatMessage> out;
    if (!s.system.empty()) out.push_back({"system", s.system});
    for (const auto& m : c.messages) {
        if (m.role == "system") continue;
        ChatMessage cm{m.role, m.content};
        if (m.role == "assistant") {
            cm.reasoning = m.reasoning;
            cm.toolCalls = m.toolCalls;
        }
        out.push_back(std::move(cm));
    }
    return out;
}

std::string completionText(const Conversation& c) {
    std::string s;
    for (const auto& m : c.messages) s += m.content;
    return s;
}

int32_t focusPosition(const Conversation& c) {
    if (c.pinned >= 0 && c.pinned < int32_t(c.tokens.size()) && c.tokens[size_t(c.pinned)].routed) return c.pinned;
    for (int32_t i = int32_t(c.tokens.size()) - 1; i >= 0; --i)
        if (c.tokens[size_t(i)].routed) return i;
    return -1;
}

std::string templateLine(const rt::ModelFacts& f) {
    return f.templateJinja ? "template: the model's own (Jinja), " + f.chatTemplate + " family"
                           : "template: built-in " + f.chatTemplate;
}

namespace {

const char* thinkingName(int32_t t) { return t < 0 ? "default" : t ? "on" : "off"; }

// A message of the file; the reply's parts are optional (files written before them have none).
Status messageFromJson(const nlohmann::json& m, MessageView& out) {
    if (!m.is_object() || !m.contains("role") || !m.contains("content") || !m["role"].is_string() ||
        !m["content"].is_string())
        return makeError("a message lacks a string \"role\" or \"content\"");
    out = {m["role"].get<std::string>(), m["content"].get<std::string>(), -1, -1};
    if (m.contains("reasoning")) {
        if (!m["reasoning"].is_string()) return makeError("a message's \"reasoning\" is not a string");
        out.reasoning = m["reasoning"].get<std::string>();
    }
    if (m.contains("raw")) {
        if (!m["raw"].is_string()) return makeError("a message's \"raw\" is not a string");
        out.raw = m["raw"].get<std::string>();
    }
    if (m.contains("tool_calls")) {
        if (!m["tool_calls"].is_array()) return makeError("a message's \"tool_calls\" is not an array");
        for (const auto& tc : m["tool_calls"]) {
            if (!tc.is_object() || !tc.contains("name") || !tc["name"].is_string())
                return makeError("a tool call lacks a string \"name\"");
            const nlohmann::json& a = tc.contains("arguments") ? tc["arguments"] : nlohmann::json("");
            // arguments are JSON text as the model wrote them; a hand-written object is kept as its text
            out.toolCalls.push_back({tc["name"].get<std::string>(), a.is_string() ? a.get<std::string>() : a.dump()});
        }
    }
    return {};
}

}  // namespace

nlohmann::json conversationToJson(const Conversation& c, const ChatSettings& s) {
    nlohmann::json msgs = nlohmann::json::array();
    for (const auto& m : c.messages) {
        nlohmann::json j{{"role", m.role}, {"content", m.content}};
        if (!m.reasoning.empty()) j["reasoning"] = m.reasoning;
        if (!m.toolCalls.empty()) {
            nlohmann::json calls = nlohmann::json::array();
            for (const auto& tc : m.toolCalls) calls.push_back({{"name", tc.name}, {"arguments", tc.arguments}});
            j["tool_calls"] = calls;
        }
        if (!m.raw.empty() && m.raw != m.content) j["raw"] = m.raw;  // what the model wrote, markers included
        msgs.push_back(std::move(j));
    }
    const auto& sp = s.sampler;
    return {{"format", "moescope-conversation"},
            {"version", 1},
            {"mode", s.completion ? "completion" : "chat"},
            {"system", s.system},
            {"max_tokens", s.maxTokens},
            {"thinking", thinkingName(s.thinking)},
            {"reasoning_effort", s.reasoningEffort},
            {"sampler",
             {{"temperature", sp.temperature}, {"top_k", sp.topK}, {"top_p", sp.topP}, {"min_p", sp.minP},
              {"repeat_penalty", sp.repeatPenalty}, {"repeat_last_n", sp.repeatLastN}, {"seed", sp.seed}}},
            {"messages", msgs}};
}

Status conversationFromJson(const nlohmann::json& j, Conversation& c, ChatSettings& s) {
    if (!j.is_object() || j.value("format", "") != "moescope-conversation")
        return makeError("not a moescope conversation (\"format\": \"moescope-conversation\" missing)");
    if (!j.contains("messages") || !j["messages"].is_array()) return makeError("the conversation has no \"messages\" array");
    Conversation out;
    for (const auto& m : j["messages"]) {
        MessageView v;
        MOE_TRY(messageFromJson(m, v));
        out.messages.push_back(std::move(v));
    }
    // the loaded model's reply format stays: the conversation goes on with it
    out.replyFormat = c.replyFormat;
    ChatSettings ns = s;
    ns.completion = j.value("mode", "chat") == "completion";
    ns.system = j.value("system", "");
    ns.maxTokens = j.value("max_tokens", s.maxTokens);
    const std::string thinking = j.value("thinking", std::string(thinkingName(s.thinking)));
    ns.thinking = thinking == "on" ? 1 : thinking == "off" ? 0 : -1;
    const std::string effort = j.value("reasoning_effort", s.reasoningEffort);
    if (effort.empty() || effort == "low" || effort == "medium" || effort == "high") ns.reasoningEffort = effort;
    if (j.contains("sampler") && j["sampler"].is_object()) {
        const auto& sp = j["sampler"];
        ns.sampler.temperature = sp.value("temperature", s.sampler.temperature);
        ns.sampler.topK = sp.value("top_k", s.sampler.topK);
        ns.sampler.topP = sp.value("top_p", s.sampler.topP);
        ns.sampler.minP = sp.value("min_p", s.sampler.minP);
        ns.sampler.repeatPenalty = sp.value("repeat_penalty", s.sampler.repeatPenalty);
        ns.sampler.repeatLastN = sp.value("repeat_last_n", s.sampler.repeatLastN);
        ns.sampler.seed = sp.value("seed", s.sampler.seed);
    }
    c = std::move(out);
    s = ns;
    return {};
}

Status saveConversation(const std::string& path, const Conversation& c, const ChatSettings& s) {
    std::ofstream f(path);
    if (!f) return makeError("cannot write " + path);
    f << conversationToJson(c, s).dump(2, ' ', false, kReplace) << "\n";
    if (!f) return makeError("error writing " + path);
    return {};
}

Status loadConversation(const std::string& path, Conversation& c, ChatSettings& s) {
    std::ifstream f(path);
    if (!f) return makeError("cannot open " + path);
    nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
    if (j.is_discarded()) return makeError(path + ": not valid JSON");
    Status st = conversationFromJson(j, c, s);
    if (!st.ok()) return makeError(path + ": " + st.message());
    return {};
}

std::string routingText(const std::vector<routing::Policy>& layers, uint32_t modelK) {
    using S = routing::Policy::Selection;
    if (layers.empty()) return "model";
    const std::string first = routing::toString(layers[0]);
    if (std::all_of(layers.begin(), layers.end(), [&](const auto& p) { return routing::toString(p) == first; }))
        return first;
    // one policy when the selections combine (model and top-k layers into a per-layer top-k list,
    // or one top-p every layer shares), with each layer's interventions at its layer number
    auto perLayer = [&] {
        std::string s;
        for (size_t il = 0; il < layers.size(); ++il) s += (il ? " | " : "") + routing::toString(layers[il]);
        return s;
    };
    const auto has = [&](S sel) {
        return std::any_of(layers.begin(), layers.end(), [&](const auto& p) { return p.selection == sel; });
    };
    routing::Policy one;
    if (has(S::TopP)) {
        for (const auto& p : layers)
            if (p.selection != S::TopP || p.p != layers[0].p || p.kMax != layers[0].kMax) return perLayer();
        one.selection = S::TopP;
        one.p = layers[0].p;
        one.kMax = layers[0].kMax;
    } else if (has(S::TopK)) {
        one.selection = S::TopK;
        for (const auto& p : layers) one.k.push_back(p.selection == S::TopK && !p.k.empty() ? p.k[0] : int32_t(modelK));
    }
    for (size_t il = 0; il < layers.size(); ++il)
        for (routing::Intervention iv : layers[il].interventions) {
            if (iv.layer < 0) iv.layer = int32_t(il);
            one.interventions.push_back(std::move(iv));
        }
    return routing::toString(one);
}

trace::TraceInfo traceInfo(const AppState& s) {
    trace::TraceInfo in;
    if (!s.model.facts) return in;
    const rt::ModelFacts& f = *s.model.facts;
    in.model = f.name.empty() ? std::filesystem::path(f.path).stem().string() : f.name;
    in.arch = f.arch;
    in.backend = f.backend;
    in.k = f.expertsUsed;
    in.ctx = f.nCtx;
    in.policy = routingText(s.routing.policies, f.expertsUsed);
    const rt::CacheConfigEvent& cc = s.cache.config;
    if (s.cache.known && cc.layerExpertBytes.size() == f.layers) in.expertBytes = cc.layerExpertBytes;
    if (s.cache.known && cc.enabled) in.cache = {cache::policyName(cc.policy), cc.slots, cc.prefetch};
    return in;
}

namespace {

// Tokens [p0, p0 + n) of the context in the layout of one forward step (rt::RoutingRecord's):
// ids, weights, pred (nLayer, n, kMax), counts (nLayer, n), probs (nLayer, n, nExpert).
struct StepRows {
    uint32_t kMax = 0;
    std::vector<int32_t> ids, counts, pred;
    std::vector<float> weights, probs;
};

Status gather(const Conversation& c, uint32_t p0, uint32_t n, bool withPred, StepRows& r) {
    const uint32_t L = c.nLayer, NE = c.nExpert;
    r.kMax = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const TokenView& t = c.tokens[p0 + i];
        if (!t.routed || t.ids.size() != size_t(L) * t.kMax || t.counts.size() != L || t.probs.size() != size_t(L) * NE ||
            (withPred && t.pred.size() != t.ids.size()))
            return makeError("the routing of position " + std::to_string(p0 + i) + " is incomplete");
        r.kMax = std::max(r.kMax, t.kMax);
    }
    const uint32_t K = r.kMax;
    r.ids.assign(size_t(L) * n * K, -1);
    r.weights.assign(size_t(L) * n * K, 0.0f);
    r.pred.assign(withPred ? size_t(L) * n * K : 0, -1);
    r.counts.assign(size_t(L) * n, 0);
    r.probs.resize(size_t(L) * n * NE);
    for (uint32_t il = 0; il < L; ++il)
        for (uint32_t i = 0; i < n; ++i) {
            const TokenView& t = c.tokens[p0 + i];
            const size_t row = size_t(il) * n + i;
            for (uint32_t j = 0; j < t.kMax; ++j) {
                r.ids[row * K + j] = t.ids[size_t(il) * t.kMax + j];
                r.weights[row * K + j] = t.weights[size_t(il) * t.kMax + j];
                if (withPred) r.pred[row * K + j] = t.pred[size_t(il) * t.kMax + j];
            }
            r.counts[row] = t.counts[il];
            std::copy_n(t.probs.begin() + long(size_t(il) * NE), NE, r.probs.begin() + long(row * NE));
        }
    return {};
}

// The timeline's forward steps are the evaluated tokens exactly (positions 0.. in order, each
// once) and ran with one cache, built just before the first of them, with the header's setting:
// then a replay of the trace meets the same cache states as the engine did.
bool stepsTile(const std::vector<CacheStepView>& steps, uint32_t routed, const trace::CacheSetting& cs) {
    if (steps.empty() || cs.slots == 0 || !steps[0].freshCache) return false;
    uint32_t next = 0;
    for (size_t i = 0; i < steps.size(); ++i) {
        const CacheStepView& s = steps[i];
        if (s.pos0 != next || (i > 0 && s.freshCache) || s.slots != cs.slots || cs.policy != cache::policyName(s.policy) ||
            s.prefetch != cs.prefetch)
            return false;
        next += s.nTok;
    }
    return next == routed;
}

}  // namespace

Result<trace::Trace> conversationTrace(const Conversation& c, const trace::TraceInfo& info,
                                       const std::vector<CacheStepView>* steps) {
    trace::Trace tr;
    tr.info = info;
    tr.info.nLayer = c.nLayer;
    tr.info.nExpert = c.nExpert;
    tr.info.kMax = 0;  // grows to the widest row
    tr.info.hasProbs = true;
    // the evaluated tokens: normally a prefix of the context (its last sampled token never is)
    std::vector<uint32_t> routed;
    bool generated = false, withPred = true;
    for (size_t p = 0; p < c.tokens.size(); ++p)
        if (c.tokens[p].routed) {
            routed.push_back(uint32_t(p));
            generated |= c.tokens[p].generated;
            withPred &= !c.tokens[p].pred.empty();
        }
    if (routed.empty()) return makeError("the conversation has no evaluated tokens yet");
    const bool prefix = routed.back() + 1 == routed.size();
    const bool grouped = steps && prefix && stepsTile(*steps, uint32_t(routed.size()), info.cache);
    StepRows r;
    auto add = [&](uint32_t p0, uint32_t n, const cache::CacheStats* live) -> Status {
        MOE_TRY(gather(c, p0, n, withPred, r));
        trace::StepView v{n, c.nLayer, r.kMax, c.nExpert, r.ids.data(), r.weights.data(), r.counts.data(), r.probs.data()};
        if (withPred) v.pred = r.pred.data();
        v.cache = live;
        std::vector<int32_t> ids;
        std::vector<std::string> pieces;
        for (uint32_t i = 0; i < n; ++i) {
            ids.push_back(c.tokens[p0 + i].id);
            pieces.push_back(c.tokens[p0 + i].piece);
        }
        return trace::append(tr, v, ids.data(), p0, &pieces);
    };
    if (grouped) {
        // the forward steps as the engine ran them, with the live cache's counters
        for (const CacheStepView& s : *steps) {
            if (s.layers.size() != c.nLayer) return makeError("a cache step lacks layers");
            MOE_TRY(add(s.pos0, s.nTok, s.layers.data()));
        }
    } else {
        for (uint32_t p : routed) MOE_TRY(add(p, 1, nullptr));
    }
    tr.info.mode = generated ? "generated" : "teacher-forced";
    return tr;
}

Result<size_t> exportTrace(const std::string& path, const Conversation& c, const trace::TraceInfo& info,
                           const std::vector<CacheStepView>* steps) {
    MOE_ASSIGN(trace::Trace tr, conversationTrace(c, info, steps));
    MOE_TRY(trace::writeTrace(path, tr));
    return tr.nTokens();
}

}  // namespace moe::ui
