// PCRE2-backed pre-tokenizer regexes of the byte-level BPE families (see pre_tokenizer.h).
#include "tokenizer/pre_tokenizer.h"

#include <pcre2.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <vector>

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

// GLM-4 / GLM-4.5: Llama-3's regex with case-sensitive contractions ('[sS] rather than (?i:'s)).
constexpr const char* GLM4_REGEX =
    R"('[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// DeepSeek's tokenizer.json declare a sequence of splits (HF Split, behavior "Isolated"): each
// regex splits the pieces of the one before into its matches and the gaps between them.
constexpr const char* DEEPSEEK_LLM_REGEXES[] = {
    "[\r\n]",
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
    "\\s+$",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}+",
};
constexpr const char* DEEPSEEK_V3_REGEXES[] = {
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
};

struct PreKind {
    const char* name;
    const char* family;
    const char* regex;            // one regex, or
    const char* const* regexes = nullptr;  // a sequence of nRegexes splits
    size_t nRegexes = 0;
    bool ignoreMerges = false;
};

constexpr std::array<PreKind, 17> PRE_KINDS{{
    {"", "gpt2", GPT2_REGEX, nullptr, 0, false},
    {"default", "gpt2", GPT2_REGEX, nullptr, 0, false},
    {"gpt2", "gpt2", GPT2_REGEX, nullptr, 0, false},
    {"olmo", "gpt2", GPT2_REGEX, nullptr, 0, false},
    {"mpt", "gpt2", GPT2_REGEX, nullptr, 0, false},
    {"jais", "gpt2", GPT2_REGEX, nullptr, 0, false},
    {"llama3", "llama3", LLAMA3_REGEX, nullptr, 0, true},
    {"llama-bpe", "llama3", LLAMA3_REGEX, nullptr, 0, true},
    {"dbrx", "llama3", LLAMA3_REGEX, nullptr, 0, false},
    {"smaug-bpe", "llama3", LLAMA3_REGEX, nullptr, 0, false},
    {"qwen2", "qwen2", QWEN2_REGEX, nullptr, 0, false},
    {"deepseek-r1-qwen", "qwen2", QWEN2_REGEX, nullptr, 0, false},
    {"stablelm2", "qwen2", QWEN2_REGEX, nullptr, 0, false},
    {"glm4", "glm4", GLM4_REGEX, nullptr, 0, false},
    {"chatglm-bpe", "glm4", GLM4_REGEX, nullptr, 0, false},
    {"deepseek-llm", "deepseek-llm", nullptr, DEEPSEEK_LLM_REGEXES, std::size(DEEPSEEK_LLM_REGEXES), false},
    {"deepseek-v3", "deepseek-v3", nullptr, DEEPSEEK_V3_REGEXES, std::size(DEEPSEEK_V3_REGEXES), false},
}};

}  // namespace

struct PreTokenizer::Code {
    std::vector<pcre2_code*> re;  // applied in order, each to the pieces of the one before
    ~Code() {
        for (pcre2_code* r : re) pcre2_code_free(r);
    }
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
    p.ignoreMerges_ = kind->ignoreMerges;
    p.code_ = std::make_unique<Code>();
    std::vector<const char*> regexes;
    if (kind->regex) regexes.push_back(kind->regex);
    for (size_t i = 0; i < kind->nRegexes; ++i) regexes.push_back(kind->regexes[i]);
    for (const char* rx : regexes) {
        p.pattern_ += (p.pattern_.empty() ? "" : " ; ") + std::string(rx);
        int err = 0;
        PCRE2_SIZE errOffset = 0;
        // MATCH_INVALID_UTF: malformed UTF-8 in user text never matches and ends up in a gap.
        pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rx), PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &errOffset, nullptr);
        if (!re) {
            std::array<PCRE2_UCHAR, 256> msg{};
            pcre2_get_error_message(err, msg.data(), msg.size());
            return makeError("tokenizer: pre-tokenizer regex for '" + std::string(pre) + "' does not compile: " +
                             reinterpret_cast<const char*>(msg.data()));
        }
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  // optional speed-up; the interpreter is the fallback
        p.code_->re.push_back(re);
    }
    return p;
}

namespace {

// Matches of `re` in text[off, off + len) and the gaps between them, in order (the piece is the
// whole subject: lookarounds and anchors see its ends).
void splitOne(pcre2_code* re, std::string_view text, size_t off, size_t len,
              const std::function<void(size_t, size_t)>& onPiece) {
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> mdOwner(
        pcre2_match_data_create_from_pattern(re, nullptr), &pcre2_match_data_free);
    pcre2_match_data* md = mdOwner.get();
    if (!md) {  // out of memory: one word keeps the text intact
        onPiece(off, len);
        return;
    }
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + off);
    size_t pos = 0;
    while (pos < len) {
        const int rc = pcre2_match(re, subject, len, pos, 0, md, nullptr);
        if (rc < 0) {  // no match (or a resource limit): the rest is one gap
            onPiece(off + pos, len - pos);
            break;
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        size_t start = ov[0], end = ov[1];
        if (start > pos) onPiece(off + pos, start - pos);
        if (end <= start) {  // an empty match: step one character
            end = start + std::min(unicode::utf8SeqLen(uint8_t(text[off + start])), len - start);
        }
        onPiece(off + start, end - start);
        pos = end;
    }
}

}  // namespace

void PreTokenizer::split(std::string_view text, const std::function<void(size_t, size_t)>& onWord) const {
    if (text.empty()) return;
    const std::vector<pcre2_code*>& re = code_->re;
    std::function<void(size_t, size_t, size_t)> level = [&](size_t i, size_t off, size_t len) {
        if (i + 1 == re.size()) return splitOne(re[i], text, off, len, onWord);
        splitOne(re[i], text, off, len, [&](size_t o, size_t n) { level(i + 1, o, n); });
    };
    level(0, 0, text.size());
}

}  // namespace moe
