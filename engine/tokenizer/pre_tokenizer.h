// Pre-tokenizer of byte-level BPE: splits text into words with the regex the model declares in
// tokenizer.ggml.pre, before merges run inside each word. PCRE2 with Unicode properties.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace moe {

class PreTokenizer {
public:
    // Maps a tokenizer.ggml.pre value to its regex; an unknown value is an error naming it.
    //   "", "default", "gpt2", "olmo", "mpt", "jais"        -> GPT-2 regex
    //   "llama3", "llama-bpe", "dbrx", "smaug-bpe"          -> Llama-3 regex (\p{N}{1,3}), ignore_merges
    //   "qwen2", "qwen2.5", "deepseek-r1-qwen", "stablelm2"  -> Qwen2 regex (single \p{N})
    //   "deepseek-llm" (V2), "deepseek-v3"                  -> DeepSeek's sequences of splits
    static Result<PreTokenizer> create(std::string_view pre);

    PreTokenizer(PreTokenizer&&) noexcept;
    PreTokenizer& operator=(PreTokenizer&&) noexcept;
    ~PreTokenizer();

    // Calls onWord(offset, length) for consecutive, non-overlapping, non-empty pieces that
    // cover text exactly: regex matches and the gaps between them (gaps are bytes the regex
    // does not match, e.g. malformed UTF-8 or a lone tab before a letter).
    void split(std::string_view text, const std::function<void(size_t, size_t)>& onWord) const;

    // Canonical family name ("gpt2", "llama3", "qwen2", "deepseek-llm", "deepseek-v3").
    const std::string& family() const { return family_; }
    // Whether a word that is already a vocabulary token skips merges (HF ignore_merges).
    bool ignoreMerges() const { return ignoreMerges_; }
    const std::string& pattern() const { return pattern_; }

private:
    struct Code;
    PreTokenizer() = default;
    std::unique_ptr<Code> code_;
    std::string family_;
    std::string pattern_;
    bool ignoreMerges_ = false;
};

}  // namespace moe
