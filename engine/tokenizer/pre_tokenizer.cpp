// PCRE2-backed pre-tokenizer regexes of the byte-level BPE families (see pre_tokenizer.h).
#include "tokenizer/pre_tokenizer.h"

#include <pcre2.h>

#include <algorithm>
#include <array>

#include "tokenizer/unicode.h"

namespace moe {

namespace {

// The regexes as the models' tokenizer.json declare them (HF tokenizers semantics); PCRE2
// supports the scoped case-insensitive group and the negative lookahead natively.
constexpr const char* GPT2_REGEX =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* LLAMA3_REGEX =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* QWEN2_REGEX =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct PreKind {
    const char* name;
    const char* family;
    const char* regex;
    bool ignoreMerges;
};

constexpr std::array<PreKind, 13> PRE_KINDS{{
    {"", "gpt2", GPT2_REGEX, false},
    {"default", "gpt2", GPT2_REGEX, false},
    {"gpt2", "gpt2", GPT2_REGEX, false},
    {"olmo", "gpt2", GPT2_REGEX, false},
    {"mpt", "gpt2", GPT2_REGEX, false},
    {"jais", "gpt2", GPT2_REGEX, false},
    {"llama3", "llama3", LLAMA3_REGEX, true},
    {"llama-bpe", "llama3", LLAMA3_REGEX, true},
    {"dbrx", "llama3", LLAMA3_REGEX, false},
    {"smaug-bpe", "llama3", LLAMA3_REGEX, false},
    {"qwen2", "qwen2", QWEN2_REGEX, false},
    {"deepseek-r1-qwen", "qwen2", QWEN2_REGEX, false},
    {"stablelm2", "qwen2", QWEN2_REGEX, false},
}};

}  // namespace

struct PreTokenizer::Code {
    pcre2_code* re = nullptr;
    ~Code() { pcre2_code_free(re); }
};

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

Result<PreTokenizer> PreTokenizer::create(std::string_view pre) {
    const PreKind* kind = nullptr;
    for (const auto& k : PRE_KINDS)
        if (pre == k.name) kind = &k;
    if (!kind) {
        std::string known;
        for (const auto& k : PRE_KINDS)
            if (*k.name) known += std::string(known.empty() ? "" : ", ") + k.name;
        return makeError("tokenizer: unsupported pre-tokenizer tokenizer.ggml.pre = '" + std::string(pre) +
                         "' (supported: " + known + ")");
    }
    PreTokenizer p;
    p.family_ = kind->family;
    p.pattern_ = kind->regex;
    p.ignoreMerges_ = kind->ignoreMerges;
    p.code_ = std::make_unique<Code>();
    int err = 0;
    PCRE2_SIZE errOffset = 0;
    // MATCH_INVALID_UTF: malformed UTF-8 in user text never matches and ends up in a gap.
    p.code_->re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kind->regex), PCRE2_ZERO_TERMINATED,
                                PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &errOffset, nullptr);
    if (!p.code_->re) {
        std::array<PCRE2_UCHAR, 256> msg{};
        pcre2_get_error_message(err, msg.data(), msg.size());
        return makeError("tokenizer: pre-tokenizer regex for '" + std::string(pre) + "' does not compile: " +
                         reinterpret_cast<const char*>(msg.data()));
    }
    pcre2_jit_compile(p.code_->re, PCRE2_JIT_COMPLETE);  // optional speed-up; the interpreter is the fallback
    return p;
}

void PreTokenizer::split(std::string_view text, const std::function<void(size_t, size_t)>& onWord) const {
    if (text.empty()) return;
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> mdOwner(
        pcre2_match_data_create_from_pattern(code_->re, nullptr), &pcre2_match_data_free);
    pcre2_match_data* md = mdOwner.get();
    if (!md) {  // out of memory: one word keeps the text intact
        onWord(0, text.size());
        return;
    }
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t pos = 0;
    while (pos < text.size()) {
        const int rc = pcre2_match(code_->re, subject, text.size(), pos, 0, md, nullptr);
        if (rc < 0) {  // no match (or a resource limit): the rest is one gap
            onWord(pos, text.size() - pos);
            break;
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        size_t start = ov[0], end = ov[1];
        if (start > pos) onWord(pos, start - pos);
        if (end <= start) {  // empty match (none of our regexes has one): step one character
            end = start + std::min(unicode::utf8SeqLen(uint8_t(text[start])), text.size() - start);
        }
        onWord(start, end - start);
        pos = end;
    }
}

}  // namespace moe
