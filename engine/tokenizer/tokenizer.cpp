// Tokenizer construction and validation, special-token matching, encode/decode dispatch.
// The two algorithms live in spm.cpp and bpe.cpp.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tokenizer/unicode.h"

namespace moe {

namespace {

// SentencePiece's escaped space, U+2581.
constexpr std::string_view SPM_SPACE = "\xE2\x96\x81";

// Control tokens that end a turn in the common chat formats (llama.cpp treats them the same way).
// gpt-oss ends a turn with <|return|> or <|call|>; its <|end|> only ends a message (the analysis
// channel), so a vocabulary with both of them leaves <|end|> out.
constexpr std::array<std::string_view, 11> EOG_TEXTS{
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<|eom_id|>", "<EOT>", "<|return|>", "<|call|>",
    "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",  // DeepSeek, full-width bars
};

// Quoted, shortened text for error messages (token texts of hostile files can be anything).
std::string quote(std::string_view s) {
    constexpr size_t MAX = 48;
    std::string out = "'";
    for (size_t i = 0; i < s.size() && i < MAX; ++i) {
        const auto c = uint8_t(s[i]);
        if (c < 0x20 || c == 0x7F) {
            static const char* HEX = "0123456789abcdef";
            out += "\\x";
            out += HEX[c >> 4];
            out += HEX[c & 15];
        } else {
            out += char(c);
        }
    }
    if (s.size() > MAX) out += "...";
    return out + "'";
}

// Parses "<0xXX>" into XX, or -1.
int parseByteToken(std::string_view s) {
    if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return -1;
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    const int hi = hex(s[3]), lo = hex(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string replaceAll(std::string_view s, std::string_view from, std::string_view to) {
    std::string out;
    out.reserve(s.size());
    size_t pos = 0;
    for (size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
        out.append(s.substr(pos, hit - pos));
        out.append(to);
    }
    out.append(s.substr(pos));
    return out;
}

}  // namespace

Result<Tokenizer> Tokenizer::create(TokenizerSpec spec) {
    Tokenizer t;
    const size_t n = spec.tokens.size();
    if (n == 0) return makeError("tokenizer: empty vocabulary (tokenizer.ggml.tokens has no entries)");
    if (n > size_t(std::numeric_limits<int32_t>::max()))
        return makeError("tokenizer: vocabulary of " + std::to_string(n) + " tokens is too large");
    if (spec.model == "llama") {
        t.kind_ = Kind::Spm;
    } else if (spec.model == "gpt2") {
        t.kind_ = Kind::Bpe;
    } else {
        return makeError("tokenizer: unsupported tokenizer model tokenizer.ggml.model = " + quote(spec.model) +
                         " (supported: llama, gpt2)");
    }
    t.modelName_ = spec.model;
    if (!spec.scores.empty() && spec.scores.size() != n)
        return makeError("tokenizer: tokenizer.ggml.scores has " + std::to_string(spec.scores.size()) +
                         " entries but tokenizer.ggml.tokens has " + std::to_string(n));
    if (!spec.tokenTypes.empty() && spec.tokenTypes.size() != n)
        return makeError("tokenizer: tokenizer.ggml.token_type has " + std::to_string(spec.tokenTypes.size()) +
                         " entries but tokenizer.ggml.tokens has " + std::to_string(n));
    for (size_t i = 0; i < spec.tokenTypes.size(); ++i) {
        if (spec.tokenTypes[i] < 0 || spec.tokenTypes[i] > 6)
            return makeError("tokenizer: token " + std::to_string(i) + " " + quote(spec.tokens[i]) +
                             " has invalid type " + std::to_string(spec.tokenTypes[i]) +
                             " in tokenizer.ggml.token_type (valid: 0..6)");
    }
    const std::pair<const char*, std::optional<int32_t>> ids[] = {
        {"bos", spec.bos}, {"eos", spec.eos}, {"eot", spec.eot}, {"eom", spec.eom}, {"unknown", spec.unk},
        {"padding", spec.pad}};
    for (const auto& [name, id] : ids) {
        if (id && (*id < 0 || size_t(*id) >= n))
            return makeError(std::string("tokenizer: tokenizer.ggml.") + name + "_token_id = " + std::to_string(*id) +
                             " is out of range (vocabulary has " + std::to_string(n) + " tokens)");
    }
    t.bos_ = spec.bos;
    t.eos_ = spec.eos;
    t.eot_ = spec.eot;
    t.eom_ = spec.eom;
    t.unk_ = spec.unk;
    t.pad_ = spec.pad;
    if (t.kind_ == Kind::Bpe) {
        auto pre = PreTokenizer::create(spec.pre);
        if (!pre) return std::move(pre).takeError();
        t.pre_ = std::move(pre).value();
    }
    const bool defaultBos = t.kind_ == Kind::Spm || (t.pre_ && t.pre_->ignoreMerges());
    t.addBos_ = spec.addBos.value_or(defaultBos && t.bos_.has_value());
    t.addEos_ = spec.addEos.value_or(false);
    if (t.addBos_ && !t.bos_)
        return makeError("tokenizer: tokenizer.ggml.add_bos_token is true but there is no bos_token_id");
    if (t.addEos_ && !t.eos_)
        return makeError("tokenizer: tokenizer.ggml.add_eos_token is true but there is no eos_token_id");
    t.addSpacePrefix_ = t.kind_ == Kind::Spm && spec.addSpacePrefix;
    t.chatTemplate_ = std::move(spec.chatTemplate);

    MOE_TRY(t.buildTables(spec));
    if (t.kind_ == Kind::Bpe) MOE_TRY(t.buildMerges(spec.merges));
    return t;
}

Status Tokenizer::buildTables(const TokenizerSpec& spec) {
    const size_t n = spec.tokens.size();
    const bool haveTypes = !spec.tokenTypes.empty();
    vocab_.resize(n);
    for (size_t i = 0; i < n; ++i) {
        Token& tok = vocab_[i];
        tok.text = spec.tokens[i];
        // NaN scores would break the ordering of the merge queue.
        const float s = spec.scores.empty() ? 0.0f : spec.scores[i];
        tok.score = std::isnan(s) ? -std::numeric_limits<float>::infinity() : s;
        if (haveTypes) {
            tok.type = TokenType(spec.tokenTypes[i]);
        } else {
            const bool isIdSpecial = int32_t(i) == bos_ || int32_t(i) == eos_ || int32_t(i) == eot_ || int32_t(i) == eom_ ||
                                     int32_t(i) == unk_ || int32_t(i) == pad_;
            const bool looksSpecial = tok.text.size() >= 4 && tok.text.starts_with("<|") && tok.text.ends_with("|>");
            if (isIdSpecial || looksSpecial) tok.type = TokenType::Control;
            else if (kind_ == Kind::Spm && parseByteToken(tok.text) >= 0) tok.type = TokenType::Byte;
        }
    }

    byteToken_.fill(-1);
    for (size_t i = 0; i < n; ++i) {
        Token& tok = vocab_[i];
        const auto id = int32_t(i);
        if (!tok.text.empty()) textToId_.try_emplace(tok.text, id);
        switch (tok.type) {
        case TokenType::Byte:
            if (kind_ == Kind::Spm) {
                const int b = parseByteToken(tok.text);
                if (b < 0)
                    return makeError("tokenizer: token " + std::to_string(i) + " " + quote(tok.text) +
                                     " has type byte but is not of the form <0xXX>");
                if (byteToken_[b] < 0) byteToken_[b] = id;
                tok.piece = std::string(1, char(b));
            } else {
                tok.piece = unicode::byteLevelToBytes(tok.text);
            }
            break;
        case TokenType::Control:
        case TokenType::Unknown:
        case TokenType::UserDefined:
            tok.piece = tok.text;  // stored pre-normalized by the converters: rendered verbatim
            if (!tok.text.empty()) specials_.push_back(id);
            if (tok.type == TokenType::UserDefined && !tok.text.empty()) pieceToId_.try_emplace(tok.text, id);
            break;
        case TokenType::Unused:
            break;
        case TokenType::Normal:
        case TokenType::Undefined:
            tok.piece = kind_ == Kind::Spm ? replaceAll(tok.text, SPM_SPACE, " ") : unicode::byteLevelToBytes(tok.text);
            if (!tok.text.empty()) pieceToId_.try_emplace(tok.text, id);
            break;
        }
    }
    if (kind_ == Kind::Bpe) {
        for (int b = 0; b < 256; ++b) {
            std::string c;
            unicode::appendUtf8(c, unicode::byteToCodepoint(uint8_t(b)));
            if (auto id = lookupPiece(c)) byteToken_[b] = *id;
        }
    }

    // Longest first, so that "<|im_start|>" wins over a shorter token that is its prefix.
    std::stable_sort(specials_.begin(), specials_.end(),
                     [&](int32_t a, int32_t b) { return vocab_[a].text.size() > vocab_[b].text.size(); });
    for (int32_t id : specials_) specialFirstByte_[uint8_t(vocab_[id].text[0])] = true;

    auto addEog = [&](std::optional<int32_t> id) {
        if (id && std::find(eog_.begin(), eog_.end(), *id) == eog_.end()) eog_.push_back(*id);
    };
    addEog(eos_);
    addEog(eot_);
    addEog(eom_);
    auto control = [&](std::string_view text) -> std::optional<int32_t> {
        auto it = textToId_.find(text);
        if (it == textToId_.end() || vocab_[it->second].type != TokenType::Control) return std::nullopt;
        return it->second;
    };
    const bool harmony = control("<|return|>") && control("<|call|>");
    for (std::string_view text : EOG_TEXTS)
        if (!(harmony && text == "<|end|>")) addEog(control(text));
    return {};
}

Status Tokenizer::buildMerges(const std::vector<std::string>& merges) {
    merges_.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
        const std::string& m = merges[i];
        // The separator is the first space after the first character (a part may start with a space).
        const size_t sep = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
        if (sep == std::string::npos || sep + 1 >= m.size())
            return makeError("tokenizer: merge #" + std::to_string(i) + " " + quote(m) +
                             " is not of the form 'left right' (tokenizer.ggml.merges)");
        const std::string_view left = std::string_view(m).substr(0, sep);
        const std::string_view right = std::string_view(m).substr(sep + 1);
        const auto l = lookupPiece(left);
        const auto r = lookupPiece(right);
        if (!l || !r)
            return makeError("tokenizer: merge #" + std::to_string(i) + " " + quote(m) + " references unknown token " +
                             quote(!l ? left : right));
        const auto result = lookupPiece(std::string(left) + std::string(right));
        if (!result)
            return makeError("tokenizer: merge #" + std::to_string(i) + " " + quote(m) + " produces " +
                             quote(std::string(left) + std::string(right)) + " which is not in the vocabulary");
        const uint64_t key = (uint64_t(uint32_t(*l)) << 32) | uint32_t(*r);
        merges_.try_emplace(key, BpeMerge{int32_t(i), *result});  // first (lowest) rank wins
    }
    return {};
}

std::optional<int32_t> Tokenizer::lookupPiece(std::string_view text) const {
    auto it = pieceToId_.find(text);
    if (it != pieceToId_.end()) return it->second;
    it = textToId_.find(text);
    if (it != textToId_.end()) return it->second;
    return std::nullopt;
}

int32_t Tokenizer::matchSpecial(std::string_view text, size_t pos, bool parseSpecial) const {
    const std::string_view rest = text.substr(pos);
    for (int32_t id : specials_) {
        const Token& tok = vocab_[id];
        if (!parseSpecial && tok.type != TokenType::UserDefined) continue;
        if (rest.starts_with(tok.text)) return id;
    }
    return -1;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool addSpecial, bool parseSpecial) const {
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (addSpecial && addBos_) out.push_back(*bos_);
    bool afterSpecial = true;  // the start of the text counts as "after a special token" (SPM prefix)
    size_t rawStart = 0;
    for (size_t pos = 0; pos < text.size();) {
        const int32_t id = specialFirstByte_[uint8_t(text[pos])] ? matchSpecial(text, pos, parseSpecial) : -1;
        if (id < 0) {
            ++pos;
            continue;
        }
        if (pos > rawStart) encodeText(text.substr(rawStart, pos - rawStart), afterSpecial, out);
        out.push_back(id);
        afterSpecial = true;
        pos += vocab_[id].text.size();
        rawStart = pos;
    }
    if (rawStart < text.size()) encodeText(text.substr(rawStart), afterSpecial, out);
    if (addSpecial && addEos_) out.push_back(*eos_);
    return out;
}

void Tokenizer::encodeText(std::string_view text, bool afterSpecial, std::vector<int32_t>& out) const {
    if (kind_ == Kind::Spm) encodeSpm(text, addSpacePrefix_ && afterSpecial, out);
    else encodeBpe(text, out);
}

void Tokenizer::pushByteFallback(uint8_t byte, std::vector<int32_t>& out) const {
    if (byteToken_[byte] >= 0) {
        out.push_back(byteToken_[byte]);
    } else if (auto id = lookupPiece(std::string_view(reinterpret_cast<const char*>(&byte), 1))) {
        out.push_back(*id);
    } else if (unk_) {
        out.push_back(*unk_);
    }
    // else: the vocabulary cannot represent this byte at all; it is dropped
}

std::string Tokenizer::tokenPiece(int32_t id, bool renderSpecial) const {
    if (id < 0 || id >= vocabSize()) return {};
    const Token& tok = vocab_[id];
    if ((tok.type == TokenType::Control || tok.type == TokenType::Unknown) && !renderSpecial) return {};
    return tok.piece;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool renderSpecial) const {
    std::string out;
    bool stripSpace = addSpacePrefix_;  // SPM: drop the space the encoder put before the first piece
    for (int32_t id : ids) {
        if (id < 0 || id >= vocabSize()) continue;
        const Token& tok = vocab_[id];
        if (isMatchedType(tok.type)) {
            if (renderSpecial || tok.type == TokenType::UserDefined) out += tok.piece;
            stripSpace = addSpacePrefix_;
            continue;
        }
        std::string_view piece = tok.piece;
        if (piece.empty()) continue;
        if (stripSpace && piece[0] == ' ') piece.remove_prefix(1);
        stripSpace = false;
        out += piece;
    }
    return out;
}

bool Tokenizer::isEog(int32_t id) const { return std::find(eog_.begin(), eog_.end(), id) != eog_.end(); }

const std::string& Tokenizer::tokenText(int32_t id) const {
    static const std::string EMPTY;
    return id < 0 || id >= vocabSize() ? EMPTY : vocab_[id].text;
}

TokenType Tokenizer::tokenType(int32_t id) const {
    return id < 0 || id >= vocabSize() ? TokenType::Undefined : vocab_[id].type;
}

float Tokenizer::tokenScore(int32_t id) const { return id < 0 || id >= vocabSize() ? 0.0f : vocab_[id].score; }

std::optional<int32_t> Tokenizer::tokenId(std::string_view text) const {
    auto it = textToId_.find(text);
    if (it == textToId_.end()) return std::nullopt;
    return it->second;
}

}  // namespace moe
