// Reply structure (see chat_reply.h): marker tables, the two parsers (tags, harmony channels),
// the tool-call block readers and the streaming splitter.
#include "tokenizer/chat_reply.h"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

namespace moe {

namespace {

struct MarkerPair {
    std::string_view open, close;
};

// Thinking markers: Qwen3, DeepSeek-R1, GLM-4.5, MiniMax (<think>); Seed-OSS; Magistral; Kimi.
constexpr std::array<MarkerPair, 4> kThink{{
    {"<think>", "</think>"},
    {"<seed:think>", "</seed:think>"},
    {"[THINK]", "[/THINK]"},
    {"\xE2\x97\x81think\xE2\x96\xB7", "\xE2\x97\x81/think\xE2\x96\xB7"},  // ◁think▷ ◁/think▷
}};

// Tool-call blocks: Hermes / Qwen / GLM; DeepSeek V3 and R1 (full-width bars, U+2581 spaces);
// Mistral (to the end of the reply); Llama 3.1's python tag (to the end).
constexpr std::array<MarkerPair, 4> kTool{{
    {"<tool_call>", "</tool_call>"},
    {"<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "begin\xEF\xBD\x9C>",
     "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "end\xEF\xBD\x9C>"},
    {"[TOOL_CALLS]", ""},
    {"<|python_tag|>", ""},
}};

constexpr std::string_view kDsCallBegin = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "begin\xEF\xBD\x9C>";
constexpr std::string_view kDsCallEnd = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "end\xEF\xBD\x9C>";
constexpr std::string_view kDsSep = "<\xEF\xBD\x9Ctool\xE2\x96\x81sep\xEF\xBD\x9C>";

// gpt-oss harmony
constexpr std::string_view kStart = "<|start|>", kChannel = "<|channel|>", kMessage = "<|message|>";
constexpr std::array<std::string_view, 3> kHarmonyEnds{"<|end|>", "<|return|>", "<|call|>"};
constexpr std::array<std::string_view, 7> kHarmonyMarkers{"<|start|>", "<|channel|>", "<|message|>", "<|end|>",
                                                          "<|return|>", "<|call|>", "<|constrain|>"};

bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

std::string trim(std::string_view s) {
    constexpr std::string_view WS = " \t\n\r\f\v";
    const size_t b = s.find_first_not_of(WS);
    if (b == std::string_view::npos) return {};
    return std::string(s.substr(b, s.find_last_not_of(WS) - b + 1));
}

// Earliest occurrence at or after `from` of any non-empty marker: {position, index}.
std::pair<size_t, size_t> findFirst(std::string_view s, size_t from, std::initializer_list<std::string_view> markers) {
    std::pair<size_t, size_t> best{std::string_view::npos, 0};
    size_t i = 0;
    for (std::string_view m : markers) {
        if (!m.empty()) {
            const size_t p = s.find(m, from);
            if (p < best.first) best = {p, i};
        }
        ++i;
    }
    return best;
}

class SpanList {
public:
    explicit SpanList(ParsedReply& r) : r_(r) {}
    void add(ReplyPart part, size_t b, size_t e, bool closed = true) {
        if (e <= b) return;
        auto& s = r_.spans;
        if (!s.empty() && s.back().part == part && s.back().end == b && part != ReplyPart::ToolCall) {
            s.back().end = e;
            s.back().closed = closed;
        } else {
            s.push_back({part, b, e, closed});
        }
    }

private:
    ParsedReply& r_;
};

// JSON text of a parsed value, compact; the source text when it is not JSON.
std::string argumentsText(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

bool callFromJson(const nlohmann::json& j, std::vector<ToolCall>& out) {
    if (!j.is_object()) return false;
    const nlohmann::json* fn = &j;
    if (j.contains("function") && j["function"].is_object()) fn = &j["function"];
    if (!fn->contains("name") || !(*fn)["name"].is_string()) return false;
    ToolCall c;
    c.name = (*fn)["name"].get<std::string>();
    for (const char* key : {"arguments", "parameters"})
        if (fn->contains(key)) {
            c.arguments = argumentsText((*fn)[key]);
            break;
        }
    out.push_back(std::move(c));
    return true;
}

// GLM-4.5: "name\n<arg_key>k</arg_key>\n<arg_value>v</arg_value>..." (values JSON when they parse).
bool glmCall(std::string_view body, std::vector<ToolCall>& out) {
    const size_t key = body.find("<arg_key>");
    const size_t nl = body.find('\n');
    const std::string name = trim(body.substr(0, std::min(key, nl)));
    if (name.empty() || contains(name, "{") || contains(name, " ")) return false;
    nlohmann::ordered_json args = nlohmann::ordered_json::object();
    for (size_t p = key; p != std::string_view::npos; p = body.find("<arg_key>", p)) {
        const size_t kb = p + 9, ke = body.find("</arg_key>", kb);
        if (ke == std::string_view::npos) return false;
        const size_t vb0 = body.find("<arg_value>", ke);
        if (vb0 == std::string_view::npos) return false;
        const size_t vb = vb0 + 11, ve = body.find("</arg_value>", vb);
        if (ve == std::string_view::npos) return false;
        const std::string k = trim(body.substr(kb, ke - kb));
        const std::string_view v = body.substr(vb, ve - vb);
        auto parsed = nlohmann::ordered_json::parse(v, nullptr, false);
        args[k] = parsed.is_discarded() ? nlohmann::ordered_json(std::string(v)) : parsed;
        p = ve;
    }
    out.push_back({name, args.dump()});
    return true;
}

// DeepSeek: <｜tool▁call▁begin｜>function<｜tool▁sep｜>name\n```json\n{...}\n```<｜tool▁call▁end｜> (V3, R1)
// or <｜tool▁call▁begin｜>name<｜tool▁sep｜>{...}<｜tool▁call▁end｜> (V3.1).
bool deepseekCalls(std::string_view body, std::vector<ToolCall>& out) {
    bool any = false;
    for (size_t p = body.find(kDsCallBegin); p != std::string_view::npos; p = body.find(kDsCallBegin, p)) {
        const size_t b = p + kDsCallBegin.size();
        size_t e = body.find(kDsCallEnd, b);
        if (e == std::string_view::npos) e = body.size();
        const std::string_view call = body.substr(b, e - b);
        const size_t sep = call.find(kDsSep);
        if (sep == std::string_view::npos) return false;
        std::string_view head = call.substr(0, sep), rest = call.substr(sep + kDsSep.size());
        ToolCall c;
        const size_t fence = rest.find("```");
        if (trim(head) == "function" && fence != std::string_view::npos) {
            c.name = trim(rest.substr(0, rest.find('\n')));
            std::string_view args = rest.substr(fence + 3);
            if (args.substr(0, 4) == "json") args.remove_prefix(4);
            c.arguments = trim(args.substr(0, args.find("```")));
        } else {
            c.name = trim(head);
            c.arguments = trim(rest);
        }
        out.push_back(std::move(c));
        any = true;
        p = e;
    }
    return any;
}

}  // namespace

const char* replyPartName(ReplyPart p) {
    switch (p) {
    case ReplyPart::Answer: return "answer";
    case ReplyPart::Reasoning: return "reasoning";
    case ReplyPart::ToolCall: return "tool call";
    case ReplyPart::Markup: return "markup";
    }
    return "answer";
}

std::vector<ToolCall> parseToolCalls(std::string_view block) {
    std::vector<ToolCall> out;
    const std::string t = trim(block);
    if (t.empty()) return out;
    if (contains(t, kDsCallBegin) && deepseekCalls(t, out)) return out;
    auto j = nlohmann::json::parse(t, nullptr, false);
    if (!j.is_discarded()) {
        if (j.is_array()) {
            for (const auto& e : j)
                if (!callFromJson(e, out)) return {{"", t}};
            return out;
        }
        if (callFromJson(j, out)) return out;
    }
    // Mistral v11: name[ARGS]{...}
    if (const size_t a = t.find("[ARGS]"); a != std::string::npos) {
        out.push_back({trim(std::string_view(t).substr(0, a)), trim(std::string_view(t).substr(a + 6))});
        return out;
    }
    if (glmCall(t, out)) return out;
    return {{"", t}};
}

ReplyFormat ReplyFormat::detect(std::string_view src) {
    ReplyFormat f;
    if (contains(src, kChannel) && contains(src, kMessage)) {
        f.syntax = Syntax::Harmony;
        return f;
    }
    for (const auto& m : kThink)
        if (contains(src, m.close)) {
            f.thinkOpen = m.open;
            f.thinkClose = m.close;
            break;
        }
    for (const auto& m : kTool)
        if (contains(src, m.open)) {
            f.toolOpen = m.open;
            f.toolClose = m.close;
            break;
        }
    if (!f.thinkClose.empty() || !f.toolOpen.empty()) f.syntax = Syntax::Tags;
    return f;
}

std::string ReplyFormat::describe() const {
    switch (syntax) {
    case Syntax::Plain: return "plain";
    case Syntax::Harmony: return "harmony channels";
    case Syntax::Tags: break;
    }
    std::string s;
    if (!thinkClose.empty()) s = "thinking " + thinkOpen + "..." + thinkClose;
    if (!toolOpen.empty()) s += (s.empty() ? "" : ", ") + std::string("tool calls ") + toolOpen + "..." + toolClose;
    return s;
}

bool ReplyFormat::promptOpensReasoning(std::string_view prompt) const {
    if (syntax != Syntax::Tags || thinkOpen.empty()) return false;
    const size_t open = prompt.rfind(thinkOpen);
    if (open == std::string_view::npos) return false;
    const size_t close = prompt.rfind(thinkClose);
    return close == std::string_view::npos || close < open;
}

size_t ReplyFormat::pendingMarkerBytes(std::string_view raw) const {
    std::vector<std::string_view> markers;
    if (syntax == Syntax::Harmony) markers.assign(kHarmonyMarkers.begin(), kHarmonyMarkers.end());
    for (std::string_view m : {std::string_view(thinkOpen), std::string_view(thinkClose), std::string_view(toolOpen),
                               std::string_view(toolClose)})
        if (!m.empty()) markers.push_back(m);
    size_t best = 0;
    for (std::string_view m : markers)
        for (size_t k = std::min(m.size() - 1, raw.size()); k > best; --k)
            if (raw.substr(raw.size() - k) == m.substr(0, k)) {
                best = k;
                break;
            }
    return best;
}

ParsedReply ReplyFormat::parse(std::string_view raw, bool startsInReasoning) const {
    ParsedReply r;
    SpanList spans(r);
    const size_t n = raw.size();
    if (syntax == Syntax::Plain) {
        r.content = std::string(raw);
        spans.add(ReplyPart::Answer, 0, n);
        return r;
    }
    std::string reasoning, content;
    auto body = [&](ReplyPart part, size_t b, size_t e, bool closed) {
        if (e <= b) return;
        spans.add(part, b, e, closed);
        if (part == ReplyPart::Reasoning) reasoning.append(raw.substr(b, e - b));
        if (part == ReplyPart::Answer) content.append(raw.substr(b, e - b));
    };
    auto toolBlock = [&](size_t b, size_t e, bool closed, std::vector<ToolCall> calls) {
        if (e <= b) return;
        spans.add(ReplyPart::ToolCall, b, e, closed);
        r.spans.back().firstCall = uint32_t(r.toolCalls.size());
        r.spans.back().calls = uint32_t(calls.size());
        for (auto& c : calls) r.toolCalls.push_back(std::move(c));
    };

    if (syntax == Syntax::Tags) {
        enum { InAnswer, InThink, InTool } state = startsInReasoning && !thinkClose.empty() ? InThink : InAnswer;
        size_t pos = 0;
        while (pos < n) {
            if (state == InAnswer) {
                const auto [m, which] = findFirst(raw, pos, {thinkOpen, toolOpen});
                if (m == std::string_view::npos) {
                    body(ReplyPart::Answer, pos, n, false);
                    break;
                }
                body(ReplyPart::Answer, pos, m, true);
                const size_t len = which == 0 ? thinkOpen.size() : toolOpen.size();
                spans.add(ReplyPart::Markup, m, m + len);
                state = which == 0 ? InThink : InTool;
                pos = m + len;
            } else if (state == InThink) {
                const size_t m = raw.find(thinkClose, pos);
                if (m == std::string_view::npos) {
                    body(ReplyPart::Reasoning, pos, n, false);
                    r.inReasoning = true;
                    break;
                }
                body(ReplyPart::Reasoning, pos, m, true);
                spans.add(ReplyPart::Markup, m, m + thinkClose.size());
                state = InAnswer;
                pos = m + thinkClose.size();
            } else {
                const size_t m = toolClose.empty() ? std::string_view::npos : raw.find(toolClose, pos);
                const size_t e = m == std::string_view::npos ? n : m;
                toolBlock(pos, e, m != std::string_view::npos, parseToolCalls(raw.substr(pos, e - pos)));
                if (m == std::string_view::npos) break;
                spans.add(ReplyPart::Markup, m, m + toolClose.size());
                state = InAnswer;
                pos = m + toolClose.size();
            }
        }
        // the reply opened thinking and never closed it before tags were seen at all
        if (startsInReasoning && r.spans.empty()) r.inReasoning = !thinkClose.empty();
    } else {  // Harmony
        size_t pos = 0;
        std::string channel, recipient;
        auto readHeader = [&](std::string_view h) {
            if (const size_t to = h.find("to="); to != std::string_view::npos) {
                const size_t b = to + 3;
                const size_t e = h.find_first_of(" <", b);
                recipient = std::string(h.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
            }
        };
        while (pos < n) {
            const size_t hb = pos;
            if (raw.substr(pos, kStart.size()) == kStart) {
                const auto [m, which] = findFirst(raw, pos + kStart.size(), {kChannel, kMessage});
                if (m == std::string_view::npos) {
                    spans.add(ReplyPart::Markup, hb, n, false);
                    break;
                }
                readHeader(raw.substr(pos + kStart.size(), m - pos - kStart.size()));
                pos = m;
            }
            if (raw.substr(pos, kChannel.size()) == kChannel) {
                const size_t m = raw.find(kMessage, pos);
                if (m == std::string_view::npos) {
                    spans.add(ReplyPart::Markup, hb, n, false);
                    break;
                }
                const std::string_view h = raw.substr(pos + kChannel.size(), m - pos - kChannel.size());
                channel = std::string(h.substr(0, h.find_first_of(" <")));
                readHeader(h);
                pos = m;
            }
            if (raw.substr(pos, kMessage.size()) == kMessage) pos += kMessage.size();
            spans.add(ReplyPart::Markup, hb, pos);
            const auto [m, which] = findFirst(raw, pos, {kHarmonyEnds[0], kHarmonyEnds[1], kHarmonyEnds[2], kStart, kChannel});
            const size_t e = m == std::string_view::npos ? n : m;
            const bool closed = m != std::string_view::npos;
            if (channel == "analysis") {
                body(ReplyPart::Reasoning, pos, e, closed);
                if (!closed) r.inReasoning = true;
            } else if (channel == "commentary" && !recipient.empty()) {
                std::string name = recipient;
                if (name.rfind("functions.", 0) == 0) name.erase(0, 10);
                toolBlock(pos, e, closed, {{name, trim(raw.substr(pos, e - pos))}});
            } else {
                body(ReplyPart::Answer, pos, e, closed);
            }
            if (!closed) break;
            pos = e;
            if (which < kHarmonyEnds.size()) {  // a message ends: the next one names its channel again
                spans.add(ReplyPart::Markup, pos, pos + kHarmonyEnds[which].size());
                pos += kHarmonyEnds[which].size();
                channel.clear();
                recipient.clear();
            }
        }
    }
    r.reasoning = trim(reasoning);
    r.content = trim(content);
    return r;
}

std::vector<ReplyStream::Piece> ReplyStream::feed(std::string_view text) {
    raw_.append(text);
    return emit(raw_.size() - format_.pendingMarkerBytes(raw_), false);
}

std::vector<ReplyStream::Piece> ReplyStream::finish() { return emit(raw_.size(), true); }

std::vector<ReplyStream::Piece> ReplyStream::emit(size_t upTo, bool final) {
    std::vector<Piece> out;
    if (upTo <= shown_) return out;
    const ParsedReply r = format_.parse(raw_, reasoning0_);
    for (const ReplySpan& s : r.spans) {
        if (s.end <= shown_) continue;
        if (s.begin >= upTo) break;
        if (s.part == ReplyPart::Markup) {
            shown_ = std::min(s.end, upTo);
            continue;
        }
        if (s.part == ReplyPart::ToolCall) {
            // shown whole once its block ended (or the reply did)
            if (!final && (!s.closed || s.end > upTo)) break;
            Piece p{ReplyPart::ToolCall, raw_.substr(s.begin, s.end - s.begin), {}};
            p.calls.assign(r.toolCalls.begin() + s.firstCall, r.toolCalls.begin() + s.firstCall + s.calls);
            out.push_back(std::move(p));
            shown_ = s.end;
            continue;
        }
        const size_t b = std::max(s.begin, shown_), e = std::min(s.end, upTo);
        if (!out.empty() && out.back().part == s.part) out.back().text += raw_.substr(b, e - b);
        else out.push_back({s.part, raw_.substr(b, e - b), {}});
        shown_ = e;
    }
    return out;
}

}  // namespace moe
