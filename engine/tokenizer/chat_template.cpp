// Native renderers of the common chat template families (see chat_template.h). Each renderer
// follows its reference Jinja template (HF tokenizer_config.json, rendered with trim_blocks as
// transformers does); the comment above each one names it.
#include "tokenizer/chat_template.h"

#include <algorithm>

#include "tokenizer/jinja.h"
#include "tokenizer/tokenizer.h"

namespace moe {

namespace {

bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

// Python's str.strip() / Jinja's trim over ASCII whitespace.
std::string strip(std::string_view s) {
    constexpr std::string_view WS = " \t\n\r\f\v";
    const size_t b = s.find_first_not_of(WS);
    if (b == std::string_view::npos) return {};
    const size_t e = s.find_last_not_of(WS);
    return std::string(s.substr(b, e - b + 1));
}

// Qwen's templates insert a default system turn when the conversation has none:
//   {{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}
// The prompt is the literal between "system\n" and "<|im_end|>" in the template source (where
// "\n" is the two-character escape of a Jinja string literal); an expression there (quote, brace,
// "+") means the template has no default.
std::string extractDefaultSystem(std::string_view src) {
    constexpr std::string_view HEAD = "<|im_start|>system\\n";
    for (size_t pos = src.find(HEAD); pos != std::string_view::npos; pos = src.find(HEAD, pos + 1)) {
        const size_t begin = pos + HEAD.size();
        const size_t end = src.find("<|im_end|>", begin);
        if (end == std::string_view::npos) break;
        const std::string_view lit = src.substr(begin, end - begin);
        if (lit.empty() || lit.find_first_of("'\"{}+") != std::string_view::npos) continue;
        std::string out;
        for (size_t i = 0; i < lit.size(); ++i) {
            if (lit[i] == '\\' && i + 1 < lit.size() && lit[i + 1] == 'n') {
                out += '\n';
                ++i;
            } else {
                out += lit[i];
            }
        }
        return out;
    }
    return {};
}

// Zephyr closes every turn with eos_token: '<|user|>\n' + message['content'] + eos_token.
bool userTurnHasEos(std::string_view src) {
    const size_t user = src.find("<|user|>");
    if (user == std::string_view::npos) return false;
    const size_t close = src.find("}}", user);
    return contains(src.substr(user, close == std::string_view::npos ? std::string_view::npos : close - user),
                    "eos_token");
}

}  // namespace

ChatTemplate ChatTemplate::detect(std::string_view src, std::string bosText, std::string eosText, bool native) {
    ChatTemplate t;
    std::string jinjaError;
    if (!src.empty() && !native) {
        auto parsed = jinja::Template::parse(src);
        if (parsed.ok()) t.jinja_ = std::make_shared<const jinja::Template>(std::move(parsed).value());
        else jinjaError = parsed.error().message;
    }
    if (contains(src, "<|im_start|>")) {
        t.family_ = ChatFamily::ChatML;
        t.defaultSystem_ = extractDefaultSystem(src);
    } else if (contains(src, "<|start_header_id|>")) {
        t.family_ = ChatFamily::Llama3;
        t.llama31_ = contains(src, "Cutting Knowledge Date");
    } else if (contains(src, "[INST]")) {
        t.family_ = contains(src, "<<SYS>>") ? ChatFamily::Llama2 : ChatFamily::Mistral;
        t.mistralSpaced_ = contains(src, "' [INST] '") || contains(src, "\" [INST] \"");
    } else if (contains(src, "<|user|>")) {
        t.family_ = contains(src, "<|end|>") ? ChatFamily::Phi3 : userTurnHasEos(src) ? ChatFamily::Zephyr
                                                                                       : ChatFamily::Tulu;
        t.bosInTemplate_ = contains(src, "bos_token");
    } else {
        t.family_ = ChatFamily::Plain;
        t.warning_ = src.empty() ? "the model has no chat template; using a plain System:/User:/Assistant: format"
                                 : "unrecognised chat template; using a plain System:/User:/Assistant: format";
    }
    switch (t.family_) {
    case ChatFamily::Llama2:
    case ChatFamily::Mistral:
        t.bos_ = bosText.empty() ? "<s>" : std::move(bosText);
        t.eos_ = eosText.empty() ? "</s>" : std::move(eosText);
        break;
    case ChatFamily::Llama3:
        t.bos_ = bosText.empty() ? "<|begin_of_text|>" : std::move(bosText);
        t.eos_ = eosText.empty() ? "<|end_of_text|>" : std::move(eosText);
        break;
    case ChatFamily::Zephyr:
        t.bos_ = std::move(bosText);
        t.eos_ = eosText.empty() ? "</s>" : std::move(eosText);
        break;
    case ChatFamily::ChatML:
    case ChatFamily::Tulu:
    case ChatFamily::Phi3:
    case ChatFamily::Plain:
        t.bos_ = std::move(bosText);
        t.eos_ = eosText.empty() ? "<|endoftext|>" : std::move(eosText);
        break;
    }
    // the interpreter sees the same bos_token / eos_token texts as the native renderers
    t.jinjaBos_ = t.bos_;
    t.jinjaEos_ = t.eos_;
    if (t.jinja_ && t.family_ == ChatFamily::Plain) t.warning_.clear();  // the template renders itself
    if (!jinjaError.empty())
        t.warning_ = jinjaError + "; using the built-in " + std::string(t.name()) + " format" +
                     (t.family_ == ChatFamily::Plain ? "" : " of its family");
    t.reply_ = t.jinja_ ? ReplyFormat::detect(src) : ReplyFormat{};
    t.turnEnd_ = t.probeTurnEnd();
    return t;
}

// Renders user / assistant / user with sentinel contents and returns what lies between the
// assistant's content and the next user content.
std::string ChatTemplate::probeTurnEnd() const {
    constexpr std::string_view A = "moescopeprobeassistant", U2 = "moescopeprobeuser2";
    const std::string text = format({{"user", "moescopeprobeuser1"}, {"assistant", std::string(A)},
                                     {"user", std::string(U2)}},
                                    false)
                                 .text;
    const size_t a = text.find(A);
    if (a == std::string::npos) return {};
    const size_t u = text.find(U2, a + A.size());
    if (u == std::string::npos) return {};
    return text.substr(a + A.size(), u - a - A.size());
}

ChatTemplate ChatTemplate::forTokenizer(const Tokenizer& tok) {
    const std::string bos = tok.bos() ? tok.tokenText(*tok.bos()) : std::string();
    const std::string eos = tok.eos() ? tok.tokenText(*tok.eos()) : std::string();
    return detect(tok.chatTemplate(), bos, eos);
}

std::string_view ChatTemplate::name() const {
    switch (family_) {
    case ChatFamily::ChatML: return "chatml";
    case ChatFamily::Llama2: return "llama2";
    case ChatFamily::Mistral: return "mistral";
    case ChatFamily::Llama3: return "llama3";
    case ChatFamily::Tulu: return "tulu";
    case ChatFamily::Zephyr: return "zephyr";
    case ChatFamily::Phi3: return "phi3";
    case ChatFamily::Plain: return "plain";
    }
    return "plain";
}

nlohmann::ordered_json ChatTemplate::context(const std::vector<ChatMessage>& messages, bool addAssistantPrefix,
                                             const ChatOptions& o) const {
    using J = nlohmann::ordered_json;
    J ctx = {{"messages", J::array()},
             {"add_generation_prompt", addAssistantPrefix},
             {"bos_token", jinjaBos_},
             {"eos_token", jinjaEos_}};
    for (const auto& m : messages) {
        J msg = {{"role", m.role}, {"content", m.content}};
        if (!m.reasoning.empty()) {
            msg["reasoning_content"] = m.reasoning;
            msg["thinking"] = m.reasoning;
        }
        if (!m.toolCalls.empty()) {
            J calls = J::array();
            for (const auto& c : m.toolCalls) {
                J args = J::parse(c.arguments, nullptr, false);
                if (args.is_discarded()) args = c.arguments;
                calls.push_back({{"type", "function"}, {"function", {{"name", c.name}, {"arguments", args}}}});
            }
            msg["tool_calls"] = std::move(calls);
        }
        ctx["messages"].push_back(std::move(msg));
    }
    if (o.thinking >= 0) ctx["enable_thinking"] = o.thinking == 1;
    if (!o.reasoningEffort.empty()) ctx["reasoning_effort"] = o.reasoningEffort;
    if (!o.tools.is_null()) ctx["tools"] = o.tools;
    return ctx;
}

ChatPrompt ChatTemplate::format(const std::vector<ChatMessage>& messages, bool addAssistantPrefix,
                                const ChatOptions& options) const {
    ChatPrompt p;
    p.warning = warning_;
    if (jinja_) {
        auto r = jinja_->render(context(messages, addAssistantPrefix, options));
        if (r.ok()) {
            p.text = std::move(r).value();
            p.opensReasoning = addAssistantPrefix && reply_.promptOpensReasoning(p.text);
            return p;
        }
        p.warning = r.error().message + "; using the built-in " + std::string(name()) + " format";
    }
    p.text = renderNative(messages, addAssistantPrefix);
    return p;
}

std::string ChatTemplate::renderNative(const std::vector<ChatMessage>& messages, bool gen) const {
    switch (family_) {
    case ChatFamily::ChatML: return renderChatML(messages, gen);
    case ChatFamily::Llama2:
    case ChatFamily::Mistral: return renderInst(messages);
    case ChatFamily::Llama3: return renderLlama3(messages, gen);
    case ChatFamily::Tulu:
    case ChatFamily::Zephyr:
    case ChatFamily::Phi3: return renderTagged(messages, gen);
    case ChatFamily::Plain: return renderPlain(messages, gen);
    }
    return renderPlain(messages, gen);
}

// Qwen2 / Qwen2.5 / Qwen1.5-MoE (and any ChatML):
//   [<|im_start|>system\n{default}<|im_end|>\n]  when messages[0] is not a system turn
//   <|im_start|>{role}\n{content}<|im_end|>\n      per message
//   <|im_start|>assistant\n                        generation prompt
std::string ChatTemplate::renderChatML(const std::vector<ChatMessage>& m, bool gen) const {
    std::string out;
    if (!defaultSystem_.empty() && !m.empty() && m[0].role != "system")
        out += "<|im_start|>system\n" + defaultSystem_ + "<|im_end|>\n";
    for (const auto& msg : m) out += "<|im_start|>" + msg.role + "\n" + msg.content + "<|im_end|>\n";
    if (gen) out += "<|im_start|>assistant\n";
    return out;
}

// Llama-2-chat (Meta's template): a system message goes into <<SYS>> inside the first [INST];
// every user turn starts with bos; contents are stripped; the reply follows " [/INST]" after a
// space, so the generation prompt is empty.
//   {bos}[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} {eos}{bos}[INST] {user} [/INST]
// Mixtral-8x7B-Instruct v0.1 (Mistral "v1" template): one bos; system prepended to the first
// user message with a blank line; no stripping.
//   {bos} [INST] {system}\n\n{user} [/INST] {assistant}{eos} [INST] {user} [/INST]
// The older Mistral template has no spaces around the turns: {bos}[INST] {user} [/INST]{assistant}{eos}
// (it refuses system messages; here they are prepended like v1).
std::string ChatTemplate::renderInst(const std::vector<ChatMessage>& m) const {
    const bool llama2 = family_ == ChatFamily::Llama2;
    const bool hasSystem = !m.empty() && m[0].role == "system";
    std::string out = llama2 ? "" : bos_;
    for (size_t i = hasSystem ? 1 : 0; i < m.size(); ++i) {
        const bool first = i == (hasSystem ? 1u : 0u);
        const std::string& content = m[i].content;
        if (llama2) {
            const std::string c = first && hasSystem
                                      ? "<<SYS>>\n" + m[0].content + "\n<</SYS>>\n\n" + content
                                      : content;
            if (m[i].role == "assistant") out.append(" ").append(strip(c)).append(" ").append(eos_);
            else out.append(bos_).append("[INST] ").append(strip(c)).append(" [/INST]");
        } else if (m[i].role == "assistant") {
            out.append(mistralSpaced_ ? " " : "").append(content).append(eos_);
        } else {
            out.append(mistralSpaced_ ? " [INST] " : "[INST] ");
            if (first && hasSystem) out.append(m[0].content).append("\n\n");
            out.append(content).append(" [/INST]");
        }
    }
    return out;
}

// Llama-3-Instruct:
//   {bos}<|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}<|eot_id|>...
//   <|start_header_id|>assistant<|end_header_id|>\n\n    generation prompt
// Llama-3.1+ always opens with a system block carrying the knowledge cut-off and the default date:
//   {bos}<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n
//   Today Date: 26 Jul 2024\n\n{system|trim}<|eot_id|>
std::string ChatTemplate::renderLlama3(const std::vector<ChatMessage>& m, bool gen) const {
    auto turn = [](std::string_view role, std::string_view content) {
        return "<|start_header_id|>" + std::string(role) + "<|end_header_id|>\n\n" + strip(content) + "<|eot_id|>";
    };
    std::string out;
    size_t start = 0;
    if (llama31_) {
        const bool hasSystem = !m.empty() && m[0].role == "system";
        out += bos_ + "<|start_header_id|>system<|end_header_id|>\n\n"
               "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" +
               (hasSystem ? strip(m[0].content) : std::string()) + "<|eot_id|>";
        start = hasSystem ? 1 : 0;
    }
    for (size_t i = start; i < m.size(); ++i) out += (out.empty() ? bos_ : "") + turn(m[i].role, m[i].content);
    if (gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return out;
}

// Tulu 2/3, OLMo(E)-Instruct ([bos] when the template starts with bos_token):
//   <|system|>\n{c}\n  <|user|>\n{c}\n  <|assistant|>\n{c}{eos}\n (no "\n" after the last message)
//   <|assistant|>\n    generation prompt (only after at least one message)
// Zephyr: <|{role}|>\n{c}{eos}\n for every turn; <|assistant|>\n.
// Phi-3 / Phi-3.5-MoE: <|{role}|>\n{c}<|end|>\n (system only when non-empty); <|assistant|>\n,
// or eos when no generation prompt is asked.
std::string ChatTemplate::renderTagged(const std::vector<ChatMessage>& m, bool gen) const {
    std::string out = family_ == ChatFamily::Tulu && bosInTemplate_ ? bos_ : "";
    for (size_t i = 0; i < m.size(); ++i) {
        const std::string& role = m[i].role;
        const std::string& c = m[i].content;
        const bool last = i + 1 == m.size();
        if (role != "system" && role != "user" && role != "assistant") continue;
        switch (family_) {
        case ChatFamily::Tulu:
            if (role == "assistant") out += "<|assistant|>\n" + c + eos_ + (last ? "" : "\n");
            else out += "<|" + role + "|>\n" + c + "\n";
            break;
        case ChatFamily::Zephyr: out += "<|" + role + "|>\n" + c + eos_ + "\n"; break;
        default:  // Phi3
            if (role != "system" || !c.empty()) out += "<|" + role + "|>\n" + c + "<|end|>\n";
            break;
        }
    }
    if (family_ == ChatFamily::Phi3) out += gen ? "<|assistant|>\n" : eos_;
    else if (gen && !m.empty()) out += "<|assistant|>\n";
    return out;
}

// Fallback: "System: ...\nUser: ...\nAssistant: ...\n" then "Assistant:".
std::string ChatTemplate::renderPlain(const std::vector<ChatMessage>& m, bool gen) const {
    std::string out;
    for (const auto& msg : m) {
        std::string role = msg.role.empty() ? std::string("User") : msg.role;
        if (role[0] >= 'a' && role[0] <= 'z') role[0] = char(role[0] - 'a' + 'A');
        out += role + ": " + msg.content + "\n";
    }
    if (gen) out += "Assistant:";
    return out;
}

std::vector<std::string> ChatTemplate::stopStrings() const {
    std::vector<std::string> s;
    switch (family_) {
    case ChatFamily::ChatML: s = {"<|im_end|>"}; break;
    case ChatFamily::Llama3: s = {"<|eot_id|>", "<|eom_id|>"}; break;
    case ChatFamily::Tulu: s = {"<|user|>"}; break;
    case ChatFamily::Zephyr: s = {"<|user|>"}; break;
    case ChatFamily::Phi3: s = {"<|end|>"}; break;
    case ChatFamily::Plain:
        if (!jinja_) s = {"\nUser:"};  // the plain format's own turn marker
        break;
    case ChatFamily::Llama2:
    case ChatFamily::Mistral: break;
    }
    if (!eos_.empty() && std::find(s.begin(), s.end(), eos_) == s.end()) s.push_back(eos_);
    return s;
}

std::vector<int32_t> ChatTemplate::stopTokenIds(const Tokenizer& tok) const {
    std::vector<int32_t> ids = tok.eogIds();
    auto add = [&](std::optional<int32_t> id) {
        if (id && std::find(ids.begin(), ids.end(), *id) == ids.end()) ids.push_back(*id);
    };
    for (const auto& s : stopStrings()) add(tok.tokenId(s));
    if (!turnEnd_.empty()) {
        const std::vector<int32_t> end = tok.encode(turnEnd_, false, true);
        if (!end.empty() && (tok.tokenType(end[0]) == TokenType::Control || tok.tokenType(end[0]) == TokenType::UserDefined))
            add(end[0]);
    }
    if (reply_.syntax == ReplyFormat::Syntax::Harmony) {
        add(tok.tokenId("<|return|>"));
        add(tok.tokenId("<|call|>"));
        if (const auto end = tok.tokenId("<|end|>"); end && end != tok.eos())
            ids.erase(std::remove(ids.begin(), ids.end(), *end), ids.end());
    }
    return ids;
}

std::vector<int32_t> ChatTemplate::encode(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                                          bool addAssistantPrefix, const ChatOptions& options) const {
    return encode(tok, format(messages, addAssistantPrefix, options));
}

std::vector<int32_t> ChatTemplate::encode(const Tokenizer& tok, const ChatPrompt& prompt) const {
    std::vector<int32_t> ids = tok.encode(prompt.text, false, true);
    if (tok.addBos() && tok.bos() && (ids.empty() || ids[0] != *tok.bos())) ids.insert(ids.begin(), *tok.bos());
    return ids;
}

}  // namespace moe
