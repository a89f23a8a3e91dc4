// Conversation state, persistence and trace export.
#include "ui/conversation.h"

#include <algorithm>
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
    m.content += e.text;
    if (m.firstPos < 0) m.firstPos = int32_t(e.position);
    m.endPos = int32_t(e.position) + 1;
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
        move(m.firstPos);
        move(m.endPos);
    }
    if (c.pinned >= int32_t(e.kept)) c.pinned = -1;
}

std::vector<ChatMessage> chatMessages(const Conversation& c, const ChatSettings& s) {
    std::vector<ChatMessage> out;
    if (!s.system.empty()) out.push_back({"system", s.system});
    for (const auto& m : c.messages)
        if (m.role != "system") out.push_back({m.role, m.content});
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

nlohmann::json conversationToJson(const Conversation& c, const ChatSettings& s) {
    nlohmann::json msgs = nlohmann::json::array();
    for (const auto& m : c.messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
    const auto& sp = s.sampler;
    return {{"format", "moescope-conversation"},
            {"version", 1},
            {"mode", s.completion ? "completion" : "chat"},
            {"system", s.system},
            {"max_tokens", s.maxTokens},
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
        if (!m.is_object() || !m.contains("role") || !m.contains("content") || !m["role"].is_string() ||
            !m["content"].is_string())
            return makeError("a message lacks a string \"role\" or \"content\"");
        out.messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>(), -1, -1});
    }
    ChatSettings ns = s;
    ns.completion = j.value("mode", "chat") == "completion";
    ns.system = j.value("system", "");
    ns.maxTokens = j.value("max_tokens", s.maxTokens);
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

nlohmann::json tokenTraceJson(const TokenView& t, uint32_t position, uint32_t nLayer, uint32_t nExpert) {
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
    return {{"v", 0}, {"pos", position}, {"id", t.id}, {"text", t.piece}, {"generated", t.generated}, {"layers", layers}};
}

Result<size_t> exportTrace(const std::string& path, const Conversation& c) {
    std::ofstream f(path);
    if (!f) return makeError("cannot write " + path);
    size_t n = 0;
    for (size_t p = 0; p < c.tokens.size(); ++p) {
        if (!c.tokens[p].routed) continue;
        f << tokenTraceJson(c.tokens[p], uint32_t(p), c.nLayer, c.nExpert).dump(-1, ' ', false, kReplace) << "\n";
        ++n;
    }
    if (!f) return makeError("error writing " + path);
    return n;
}

}  // namespace moe::ui
