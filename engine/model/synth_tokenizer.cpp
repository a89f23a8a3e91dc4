// Tokenizers of the synthetic models: BPE merges learned from the built-in text (the most
// frequent adjacent pair first, ties broken by the pair's text), then padding merges of two
// existing tokens until the vocabulary has exactly the requested size, plus the special tokens
// and chat template of each architecture's family.
#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <unordered_set>

#include "model/synth.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace moe {

namespace {

// Templates as the families' tokenizer_config.json files write them.
const char* kChatMLTemplate =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const char* kQwen3Template =
    "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + "
    "'<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}";
const char* kMistralTemplate =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";
const char* kTuluTemplate =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{ '<|system|>\\n' + message['content'] + '\\n' }}{% elif message['role'] == 'user' %}"
    "{{ '<|user|>\\n' + message['content'] + '\\n' }}{% elif message['role'] == 'assistant' %}"
    "{% if not loop.last %}{{ '<|assistant|>\\n'  + message['content'] + eos_token + '\\n' }}"
    "{% else %}{{ '<|assistant|>\\n'  + message['content'] + eos_token }}{% endif %}{% endif %}"
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}{% endfor %}";

struct Word {
    std::vector<std::string> syms;
    int count = 0;
};
using Merge = std::pair<std::string, std::string>;

// Learns up to maxMerges merges; stops when no pair occurs twice.
std::vector<Merge> learnMerges(std::vector<Word>& words, size_t maxMerges) {
    std::vector<Merge> merges;
    while (merges.size() < maxMerges) {
        std::map<Merge, int> counts;
        for (const Word& w : words)
            for (size_t i = 0; i + 1 < w.syms.size(); ++i) counts[{w.syms[i], w.syms[i + 1]}] += w.count;
        const Merge* best = nullptr;
        int bestCount = 1;
        for (const auto& [pair, n] : counts)
            if (n > bestCount) best = &pair, bestCount = n;
        if (!best) break;
        const Merge m = *best;
        for (Word& w : words) {
            std::vector<std::string> out;
            for (size_t i = 0; i < w.syms.size(); ++i) {
                if (i + 1 < w.syms.size() && w.syms[i] == m.first && w.syms[i + 1] == m.second) {
                    out.push_back(m.first + m.second);
                    ++i;
                } else {
                    out.push_back(w.syms[i]);
                }
            }
            w.syms = std::move(out);
        }
        merges.push_back(m);
    }
    return merges;
}

// Adds merges of two existing tokens (random, reproducible) until `tokens` has `target` entries.
// pool: indices of tokens that may be combined; the result's text must be new and at most 24 bytes.
void padMerges(std::vector<std::string>& tokens, std::vector<Merge>& merges, std::vector<size_t> pool,
               size_t target, uint32_t seed, std::vector<float>* scores, float firstScore) {
    std::unordered_set<std::string> have(tokens.begin(), tokens.end());
    std::mt19937 rng(seed * 2654435761u + 17);
    float score = firstScore;
    for (size_t attempts = 0; tokens.size() < target && attempts < target * 64; ++attempts) {
        const std::string& a = tokens[pool[rng() % pool.size()]];
        const std::string& b = tokens[pool[rng() % pool.size()]];
        std::string ab = a + b;
        if (ab.size() > 24 || have.count(ab)) continue;
        merges.push_back({a, b});
        have.insert(ab);
        pool.push_back(tokens.size());
        tokens.push_back(std::move(ab));
        if (scores) scores->push_back(score--);
    }
}

std::vector<std::string> utf8Chars(std::string_view s) {
    std::vector<std::string> out;
    for (size_t i = 0; i < s.size();) {
        size_t len = std::min(unicode::utf8SeqLen(uint8_t(s[i])), s.size() - i);
        out.emplace_back(s.substr(i, len));
        i += len;
    }
    return out;
}

Result<TokenizerSpec> bpeSpec(Arch arch, uint32_t nVocab, uint32_t seed) {
    TokenizerSpec s;
    s.model = "gpt2";
    s.pre = arch == Arch::Olmoe ? "olmo" : "qwen2";
    const std::vector<std::string> specials = arch == Arch::Olmoe
        ? std::vector<std::string>{"<|endoftext|>", "<|padding|>"}
        : std::vector<std::string>{"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    const size_t nBase = 256 + specials.size();
    if (nVocab < nBase + 1)
        return makeError("synth: n_vocab " + std::to_string(nVocab) + " is too small (at least " +
                         std::to_string(nBase + 1) + " for the byte and special tokens)");

    // words of the text as the model's pre-tokenizer splits them, in byte-level form
    MOE_ASSIGN(PreTokenizer pre, PreTokenizer::create(s.pre));
    const std::string& text = synthCorpus();
    std::map<std::string, int> freq;
    pre.split(text, [&](size_t off, size_t len) { ++freq[unicode::bytesToByteLevel(text.substr(off, len))]; });
    std::vector<Word> words;
    for (const auto& [w, n] : freq) words.push_back({utf8Chars(w), n});

    for (int b = 0; b < 256; ++b) s.tokens.push_back(unicode::bytesToByteLevel(std::string(1, char(b))));
    std::vector<Merge> merges = learnMerges(words, nVocab - nBase);
    for (const Merge& m : merges) s.tokens.push_back(m.first + m.second);
    std::vector<size_t> pool(s.tokens.size());
    for (size_t i = 0; i < pool.size(); ++i) pool[i] = i;
    padMerges(s.tokens, merges, pool, nVocab - specials.size(), seed, nullptr, 0.0f);
    if (s.tokens.size() != nVocab - specials.size())
        return makeError("synth: could not pad the vocabulary to " + std::to_string(nVocab) + " tokens");
    for (const Merge& m : merges) s.merges.push_back(m.first + " " + m.second);
    s.tokenTypes.assign(s.tokens.size(), int32_t(TokenType::Normal));
    const int32_t first = int32_t(s.tokens.size());
    for (const std::string& t : specials) {
        s.tokens.push_back(t);
        s.tokenTypes.push_back(int32_t(TokenType::Control));
    }
    s.addBos = false;
    if (arch == Arch::Olmoe) {  // GPT-NeoX style: <|endoftext|> is BOS and EOS
        s.bos = s.eos = first;
        s.pad = first + 1;
        s.chatTemplate = kTuluTemplate;
    } else {  // Qwen: BOS/pad <|endoftext|>, EOS <|im_end|>
        s.bos = s.pad = first;
        s.eos = first + 2;
        s.chatTemplate = arch == Arch::Qwen3Moe ? kQwen3Template : kChatMLTemplate;
    }
    return s;
}

Result<TokenizerSpec> spmSpec(uint32_t nVocab, uint32_t seed) {
    TokenizerSpec s;
    s.model = "llama";
    const std::string sp = "\xE2\x96\x81";  // U+2581, SentencePiece's space
    s.tokens = {"<unk>", "<s>", "</s>"};
    s.tokenTypes = {int32_t(TokenType::Unknown), int32_t(TokenType::Control), int32_t(TokenType::Control)};
    s.scores = {0.0f, 0.0f, 0.0f};
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        s.tokens.push_back(buf);
        s.tokenTypes.push_back(int32_t(TokenType::Byte));
        s.scores.push_back(0.0f);
    }
    // words: "▁word" per space-separated word (newlines are byte-fallback tokens in Llama vocabularies)
    const std::string& text = synthCorpus();
    std::map<std::string, int> freq;
    std::string cur;
    for (char c : text + " ") {
        if (c == ' ' || c == '\n') {
            if (!cur.empty()) ++freq[sp + cur];
            cur.clear();
        } else {
            cur += c;
        }
    }
    std::vector<Word> words;
    std::map<std::string, int> chars;
    for (const auto& [w, n] : freq) {
        words.push_back({utf8Chars(w), n});
        for (const std::string& c : words.back().syms) chars[c] += n;
    }
    if (nVocab < s.tokens.size() + chars.size() + 1)
        return makeError("synth: n_vocab " + std::to_string(nVocab) + " is too small (at least " +
                         std::to_string(s.tokens.size() + chars.size() + 1) + " for the byte and character tokens)");
    // single characters: never the result of a merge, so their score only orders them
    float charScore = -1e6f;
    for (const auto& [c, n] : chars) {
        s.tokens.push_back(c);
        s.tokenTypes.push_back(int32_t(TokenType::Normal));
        s.scores.push_back(charScore--);
    }
    const size_t firstPiece = 3 + 256;
    std::vector<Merge> merges = learnMerges(words, nVocab - s.tokens.size());
    float score = 0.0f;  // earlier merges score higher: SPM merges the highest-scoring piece first
    for (const Merge& m : merges) {
        s.tokens.push_back(m.first + m.second);
        s.tokenTypes.push_back(int32_t(TokenType::Normal));
        s.scores.push_back(score--);
    }
    std::vector<size_t> pool;
    for (size_t i = firstPiece; i < s.tokens.size(); ++i) pool.push_back(i);
    const size_t before = s.tokens.size();
    padMerges(s.tokens, merges, pool, nVocab, seed, &s.scores, score);
    s.tokenTypes.resize(s.tokens.size(), int32_t(TokenType::Normal));
    if (s.tokens.size() != nVocab || before > nVocab)
        return makeError("synth: could not pad the vocabulary to " + std::to_string(nVocab) + " tokens");
    s.unk = 0;
    s.bos = 1;
    s.eos = 2;
    s.addBos = true;
    s.addEos = false;
    s.chatTemplate = kMistralTemplate;
    return s;
}

}  // namespace

Result<TokenizerSpec> synthTokenizerSpec(Arch arch, uint32_t nVocab, uint32_t seed) {
    if (arch == Arch::Llama) return spmSpec(nVocab, seed);
    return bpeSpec(arch, nVocab, seed);
}

}  // namespace moe
