// Tokenizers of GGUF models: SentencePiece-style (tokenizer.ggml.model = "llama": scores, byte
// fallback) and byte-level BPE ("gpt2": merges, pre-tokenizer regex per tokenizer.ggml.pre).
// Built from a plain TokenizerSpec that the model loader fills from GGUF metadata; the spec is
// untrusted (hostile files go through create()) and every inconsistency is a readable error.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "tokenizer/pre_tokenizer.h"

namespace moe {

// Values of tokenizer.ggml.token_type.
enum class TokenType : int32_t {
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
};

// GGUF tokenizer metadata, key names in the comments.
struct TokenizerSpec {
    std::string model;                 // tokenizer.ggml.model: "llama" (SPM) or "gpt2" (byte-level BPE)
    std::string pre;                   // tokenizer.ggml.pre ("" = default); used by gpt2 only
    std::vector<std::string> tokens;   // tokenizer.ggml.tokens
    std::vector<float> scores;         // tokenizer.ggml.scores (may be empty)
    std::vector<int32_t> tokenTypes;   // tokenizer.ggml.token_type (may be empty)
    std::vector<std::string> merges;   // tokenizer.ggml.merges ("left right"), gpt2 only
    std::optional<int32_t> bos, eos, eot, eom, unk, pad;  // tokenizer.ggml.*_token_id
    std::optional<bool> addBos, addEos;               // tokenizer.ggml.add_bos_token / add_eos_token
    bool addSpacePrefix = true;        // tokenizer.ggml.add_space_prefix (SPM only)
    std::string chatTemplate;          // tokenizer.chat_template
};

class Tokenizer {
public:
    enum class Kind { Spm, Bpe };

    // Validates the spec (empty vocabulary, array length mismatches, token types, special ids
    // out of range, malformed or dangling merges, unknown model or pre-tokenizer) and builds
    // the lookup tables. Defaults when the metadata is silent: add_bos = true for SPM and for
    // the llama3 pre-tokenizer, false otherwise; add_eos = false. With no token types, BOS/EOS/
    // EOT/UNK/PAD ids and "<|...|>" texts are control tokens and SPM "<0xXX>" texts byte tokens.
    static Result<Tokenizer> create(TokenizerSpec spec);

    // Text to ids. addSpecial: BOS (and EOS) as the metadata says. parseSpecial: control and
    // unknown-type tokens written in the text (e.g. "<|im_start|>") become their id instead of
    // being tokenized as text; user-defined tokens are always matched. Matched tokens are never
    // split. SPM adds the space prefix to the first text piece and to each piece that follows a
    // matched token (as SentencePiece / llama.cpp do). Never fails: any byte string encodes.
    std::vector<int32_t> encode(std::string_view text, bool addSpecial, bool parseSpecial) const;

    // Ids to text. Invalid ids are skipped. Control and unknown-type tokens are rendered as their
    // text when renderSpecial (the default: a trace or prompt view shows "<|im_start|>"; a chat
    // view passes false, and the generation loop stops at EOG ids before rendering them);
    // user-defined tokens are always rendered; unused tokens never. For SPM with add_space_prefix,
    // the one space the encoder added is removed at the start and after each matched token, so
    // decode(encode(s, false, true)) == s.
    std::string decode(std::span<const int32_t> ids, bool renderSpecial = true) const;

    // Text of one token for streaming, without any space stripping; a byte token (SPM) or a
    // byte-level token may hold a partial UTF-8 sequence. Empty for invalid ids.
    std::string tokenPiece(int32_t id, bool renderSpecial = true) const;

    // End of generation: EOS, EOT, EOM and control tokens named like an end-of-turn
    // (<|im_end|>, <|eot_id|>, <|endoftext|>, <|end|>, <end_of_turn>, ...; not gpt-oss's <|end|>).
    bool isEog(int32_t id) const;
    const std::vector<int32_t>& eogIds() const { return eog_; }

    int32_t vocabSize() const { return int32_t(vocab_.size()); }
    Kind kind() const { return kind_; }
    const std::string& modelName() const { return modelName_; }
    // Pre-tokenizer family actually used ("gpt2", "llama3", "qwen2"); empty for SPM.
    std::string preFamily() const { return pre_ ? pre_->family() : std::string(); }

    // Raw vocabulary text (empty for invalid ids) and type (Undefined for invalid ids).
    const std::string& tokenText(int32_t id) const;
    TokenType tokenType(int32_t id) const;
    float tokenScore(int32_t id) const;
    // Id of the token whose raw text is exactly `text` (lowest id if several).
    std::optional<int32_t> tokenId(std::string_view text) const;

    std::optional<int32_t> bos() const { return bos_; }
    std::optional<int32_t> eos() const { return eos_; }
    std::optional<int32_t> eot() const { return eot_; }
    std::optional<int32_t> eom() const { return eom_; }
    std::optional<int32_t> unk() const { return unk_; }
    std::optional<int32_t> pad() const { return pad_; }
    bool addBos() const { return addBos_; }
    bool addEos() const { return addEos_; }
    bool addSpacePrefix() const { return addSpacePrefix_; }
    const std::string& chatTemplate() const { return chatTemplate_; }

private:
    struct Token {
        std::string text;   // raw vocabulary text
        std::string piece;  // decoded bytes (▁ -> space, byte token -> byte, byte-level -> bytes)
        float score = 0.0f;
        TokenType type = TokenType::Normal;
    };
    struct BpeMerge {
        int32_t rank;
        int32_t result;
    };
    // Transparent hashing so lookups take string_view without allocating.
    struct StringHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using TextMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

    Tokenizer() = default;
    Status buildTables(const TokenizerSpec& spec);
    Status buildMerges(const std::vector<std::string>& merges);
    static bool isMatchedType(TokenType t) {
        return t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown;
    }
    // Longest special token starting at text[pos], or -1.
    int32_t matchSpecial(std::string_view text, size_t pos, bool parseSpecial) const;
    void encodeText(std::string_view text, bool afterSpecial, std::vector<int32_t>& out) const;
    void encodeSpm(std::string_view text, bool addPrefix, std::vector<int32_t>& out) const;
    void encodeBpe(std::string_view text, std::vector<int32_t>& out) const;
    void encodeBpeWord(std::string_view word, std::vector<int32_t>& out) const;
    void pushByteFallback(uint8_t byte, std::vector<int32_t>& out) const;
    std::optional<int32_t> lookupPiece(std::string_view text) const;

    Kind kind_ = Kind::Spm;
    std::string modelName_;
    std::vector<Token> vocab_;
    TextMap textToId_;   // every non-empty token text, lowest id wins
    TextMap pieceToId_;  // texts that normal tokenization may produce (not control/unknown/unused/byte)
    std::array<int32_t, 256> byteToken_{};  // SPM: <0xXX> token; BPE: token of the byte's mapped char
    std::unordered_map<uint64_t, BpeMerge> merges_;  // key (left id << 32 | right id)
    std::optional<PreTokenizer> pre_;
    std::vector<int32_t> specials_;                  // matchable tokens, longest text first
    std::array<bool, 256> specialFirstByte_{};
    std::vector<int32_t> eog_;
    std::optional<int32_t> bos_, eos_, eot_, eom_, unk_, pad_;
    bool addBos_ = false, addEos_ = false, addSpacePrefix_ = true;
    std::string chatTemplate_;
};

}  // namespace moe
