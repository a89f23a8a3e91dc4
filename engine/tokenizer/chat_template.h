// Chat templates: the family of tokenizer.chat_template is recognised by distinctive substrings
// and conversations are rendered natively (no Jinja interpreter), character for character as
// the reference templates of each family render them. Unknown templates fall back to a plain
// "System: / User: / Assistant:" format with a warning for the caller to show.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moe {

class Tokenizer;

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
    std::string role;  // "system", "user", "assistant"
    std::string content;
};

struct ChatPrompt {
    std::string text;     // contains the family's special-token texts: encode with parseSpecial
    std::string warning;  // non-empty when the template was not recognised (plain format used)
};

class ChatTemplate {
public:
    // source: tokenizer.chat_template (may be empty). bosText / eosText: texts of the model's
    // BOS / EOS tokens, written where the template writes bos_token / eos_token (empty: the
    // family's usual texts, e.g. "<s>" and "</s>" for [INST] templates).
    static ChatTemplate detect(std::string_view source, std::string bosText = {}, std::string eosText = {});
    // detect() with the tokenizer's template and BOS/EOS texts.
    static ChatTemplate forTokenizer(const Tokenizer& tok);

    ChatFamily family() const { return family_; }
    std::string_view name() const;          // "chatml", "llama2", "mistral", "llama3", "tulu", ...
    const std::string& warning() const { return warning_; }
    const std::string& defaultSystem() const { return defaultSystem_; }

    // Renders the conversation; addAssistantPrefix appends the header that opens the
    // assistant's reply (add_generation_prompt). Roles the family has no place for are
    // rendered as user turns ([INST] families) or skipped (as the templates skip them).
    ChatPrompt format(const std::vector<ChatMessage>& messages, bool addAssistantPrefix) const;

    // Strings that end the assistant's turn in this family (for text-level stopping).
    std::vector<std::string> stopStrings() const;
    // The tokenizer's EOG ids plus every stop string that is a single token of the vocabulary.
    std::vector<int32_t> stopTokenIds(const Tokenizer& tok) const;

    // format() then encode with parseSpecial; BOS is prepended per the tokenizer's add_bos
    // unless the rendered text already starts with it.
    std::vector<int32_t> encode(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                                bool addAssistantPrefix) const;

private:
    std::string renderChatML(const std::vector<ChatMessage>& m, bool gen) const;
    std::string renderInst(const std::vector<ChatMessage>& m) const;  // Llama2 and Mistral
    std::string renderLlama3(const std::vector<ChatMessage>& m, bool gen) const;
    std::string renderTagged(const std::vector<ChatMessage>& m, bool gen) const;  // Tulu, Zephyr, Phi3
    std::string renderPlain(const std::vector<ChatMessage>& m, bool gen) const;

    ChatFamily family_ = ChatFamily::Plain;
    std::string bos_, eos_;
    std::string defaultSystem_;   // ChatML: system prompt the template inserts when none is given
    bool mistralSpaced_ = false;  // Mistral v1: " [INST] " and " " before replies
    bool llama31_ = false;        // Llama 3.1+: "Cutting Knowledge Date" system block
    bool bosInTemplate_ = false;  // Tulu: template starts with bos_token
    std::string warning_;
};

}  // namespace moe
