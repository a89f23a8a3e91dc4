// Chat templates: the model's own tokenizer.chat_template is rendered by the Jinja interpreter
// (tokenizer/jinja.h), as transformers and llama.cpp render it. The family is also recognised by
// distinctive substrings, for its stop strings and as the fallback: a template the interpreter
// cannot parse or render is rendered natively, character for character as the reference
// template of its family, with a warning naming the error for the caller to show. Unknown
// templates and files without one fall back to a plain "System: / User: / Assistant:" format,
// also with a warning.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/chat_reply.h"

namespace moe {

class Tokenizer;
namespace jinja {
class Template;
}

enum class ChatFamily {
    ChatML,   // <|im_start|>role\n...<|im_end|>\n (Qwen, Qwen-MoE); Qwen's default system prompt kept
    Llama2,   // <s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] ... </s>
    Mistral,  // <s> [INST] ... [/INST] ...</s>; the system prompt is prepended to the first user turn
    Llama3,   // <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> (3.1: dated system block)
    Tulu,     // <|user|>\n...\n<|assistant|>\n...<eos> (OLMo, OLMoE-Instruct, Tulu 2/3)
    Zephyr,   // <|user|>\n...<eos>\n
    Phi3,     // <|user|>\n...<|end|>\n (Phi-3, Phi-3.5-MoE)
    Plain,    // fallback
};

struct ChatMessage {
    std::string role;  // "system", "user", "assistant", "tool"
    std::string content;
    // assistant turns: the reasoning and tool calls of the reply (chat_reply.h). The template
    // sees them as reasoning_content and thinking, and as tool_calls in the OpenAI form
    // ({"type": "function", "function": {"name", "arguments"}}, arguments as JSON when they parse);
    // the native renderers drop them.
    std::string reasoning;
    std::vector<ToolCall> toolCalls;
};

// Variables of the template beyond the conversation.
struct ChatOptions {
    int thinking = -1;                  // enable_thinking: 0 false, 1 true, -1 left undefined (the template's default)
    std::string reasoningEffort;        // reasoning_effort (gpt-oss: low | medium | high); empty: undefined
    nlohmann::ordered_json tools;       // tools (OpenAI form); null: undefined
};

struct ChatPrompt {
    std::string text;     // contains the family's special-token texts: encode with parseSpecial
    std::string warning;  // non-empty when the template was not recognised (plain format used)
    bool opensReasoning = false;  // the prompt ends inside a thinking block: the reply starts with reasoning
};

class ChatTemplate {
public:
    // source: tokenizer.chat_template (may be empty). bosText / eosText: texts of the model's
    // BOS / EOS tokens, written where the template writes bos_token / eos_token (empty: the
    // family's usual texts, e.g. "<s>" and "</s>" for [INST] templates).
    // native: render with the family's built-in renderer even when the interpreter could
    // render the template (the tests of the native renderers; the fallback otherwise).
    static ChatTemplate detect(std::string_view source, std::string bosText = {}, std::string eosText = {},
                               bool native = false);
    // detect() with the tokenizer's template and BOS/EOS texts.
    static ChatTemplate forTokenizer(const Tokenizer& tok);

    ChatFamily family() const { return family_; }
    std::string_view name() const;          // "chatml", "llama2", "mistral", "llama3", "tulu", ...
    // True when format() renders the file's own template with the Jinja interpreter.
    bool usesJinja() const { return jinja_ != nullptr; }
    const std::string& warning() const { return warning_; }
    const std::string& defaultSystem() const { return defaultSystem_; }

    // Renders the conversation; addAssistantPrefix appends the header that opens the
    // assistant's reply (add_generation_prompt). With the Jinja interpreter the template decides
    // everything; a render error (a template's raise_exception, a step limit) falls back to the
    // native family with the error in the warning. Natively, roles the family has no place for
    // are rendered as user turns ([INST] families) or skipped (as the templates skip them).
    ChatPrompt format(const std::vector<ChatMessage>& messages, bool addAssistantPrefix,
                      const ChatOptions& options = {}) const;

    // The markers of reasoning, channels and tool calls in this template's replies.
    const ReplyFormat& replyFormat() const { return reply_; }
    // What the template writes right after an assistant turn's content (up to the next turn's
    // content): "<|im_end|>\n<|im_start|>user\n" for ChatML. Found by rendering a probe
    // conversation; empty when the template cannot render one.
    const std::string& turnEnd() const { return turnEnd_; }

    // Strings that end the assistant's turn in this family (for text-level stopping).
    std::vector<std::string> stopStrings() const;
    // Ids that end generation in a chat: the tokenizer's end-of-generation ids (eos, eot, eom
    // and the end-of-turn control tokens), every stop string that is one token, and the first
    // token of turnEnd() when it is a special token. Harmony templates end a message, not the
    // turn, with <|end|>: there it is left out (the turn ends with <|return|> or <|call|>).
    std::vector<int32_t> stopTokenIds(const Tokenizer& tok) const;

    // format() then encode with parseSpecial; BOS is prepended per the tokenizer's add_bos
    // unless the rendered text already starts with it.
    std::vector<int32_t> encode(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                                bool addAssistantPrefix, const ChatOptions& options = {}) const;
    // The same for a prompt format() rendered already.
    std::vector<int32_t> encode(const Tokenizer& tok, const ChatPrompt& prompt) const;
    // The template context of a conversation: messages (with reasoning and tool calls as above),
    // add_generation_prompt, bos_token, eos_token and the options' variables.
    nlohmann::ordered_json context(const std::vector<ChatMessage>& messages, bool addAssistantPrefix,
                                   const ChatOptions& options = {}) const;

private:
    std::string renderChatML(const std::vector<ChatMessage>& m, bool gen) const;
    std::string renderInst(const std::vector<ChatMessage>& m) const;  // Llama2 and Mistral
    std::string renderLlama3(const std::vector<ChatMessage>& m, bool gen) const;
    std::string renderTagged(const std::vector<ChatMessage>& m, bool gen) const;  // Tulu, Zephyr, Phi3
    std::string renderPlain(const std::vector<ChatMessage>& m, bool gen) const;
    std::string renderNative(const std::vector<ChatMessage>& m, bool gen) const;
    std::string probeTurnEnd() const;

    ChatFamily family_ = ChatFamily::Plain;
    std::string bos_, eos_;
    std::string defaultSystem_;   // ChatML: system prompt the template inserts when none is given
    bool mistralSpaced_ = false;  // Mistral v1: " [INST] " and " " before replies
    bool llama31_ = false;        // Llama 3.1+: "Cutting Knowledge Date" system block
    bool bosInTemplate_ = false;  // Tulu: template starts with bos_token
    std::string warning_;
    ReplyFormat reply_;
    std::string turnEnd_;
    std::shared_ptr<const jinja::Template> jinja_;  // the parsed template; null: native rendering
    std::string jinjaBos_, jinjaEos_;               // bos_token / eos_token as the file has them
};

}  // namespace moe
