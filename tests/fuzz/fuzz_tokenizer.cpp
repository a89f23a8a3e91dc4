// libFuzzer target for the tokenizers and the chat templates. The first input byte picks a mode:
//   0: encode arbitrary bytes with fixed SPM and BPE vocabularies; decode(encode(s)) must be s
//   1: decode arbitrary id sequences (out-of-range and negative ids included)
//   2: build a tokenizer from a fuzzed spec (what a hostile GGUF file can put in the metadata),
//      then encode and decode with it
//   3: detect and render a fuzzed chat template with fuzzed messages
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

using namespace moe;

namespace {

Tokenizer mustCreate(TokenizerSpec spec) {
    auto r = Tokenizer::create(std::move(spec));
    if (!r.ok()) {
        std::fprintf(stderr, "fixed vocabulary rejected: %s\n", r.error().message.c_str());
        std::abort();
    }
    return std::move(r).value();
}

Tokenizer makeSpm() {
    TokenizerSpec s;
    s.model = "llama";
    auto add = [&](const std::string& t, float score, int32_t type) {
        s.tokens.push_back(t);
        s.scores.push_back(score);
        s.tokenTypes.push_back(type);
    };
    add("<unk>", 0, 2);
    add("<s>", 0, 3);
    add("</s>", 0, 3);
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        add(buf, 0, 6);
    }
    const char* pieces[] = {"\xE2\x96\x81", "a", "b", "ab", "ba", "aba", ("\xE2\x96\x81" "a"), "\xE2\x96\x81\xE2\x96\x81",
                            "\xC3\xA9", "日", "日本", "1", "12"};
    float score = -1;
    for (const char* p : pieces) add(p, score--, 1);
    add("<|im_start|>", 0, 3);
    add("<|im_end|>", 0, 3);
    add("<t>", 0, 4);
    s.bos = 1;
    s.eos = 2;
    s.unk = 0;
    return mustCreate(std::move(s));
}

Tokenizer makeBpe(const char* pre) {
    TokenizerSpec s;
    s.model = "gpt2";
    s.pre = pre;
    for (int b = 0; b < 256; ++b) s.tokens.push_back(unicode::bytesToByteLevel(std::string(1, char(b))));
    for (const char* t : {"ab", "aba", "Ġa", "Ġab", "12", "123", "ĊĊ"}) s.tokens.push_back(t);
    s.merges = {"a b", "ab a", "Ġ a", "Ġ ab", "1 2", "12 3", "Ċ Ċ"};
    for (const char* t : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) s.tokens.push_back(t);
    s.bos = s.eos = int32_t(s.tokens.size()) - 3;
    return mustCreate(std::move(s));
}

void check(bool ok, const char* what, std::string_view input) {
    if (ok) return;
    std::fprintf(stderr, "%s failed for input of %zu bytes\n", what, input.size());
    std::abort();
}

void fuzzRoundTrip(std::string_view text, uint8_t flags) {
    static const Tokenizer spm = makeSpm();
    static const Tokenizer bpes[] = {makeBpe("gpt2"), makeBpe("llama3"), makeBpe("qwen2")};
    const bool parseSpecial = flags & 1;
    const bool addSpecial = flags & 2;
    // SPM maps U+2581 in the text to a space: the one input it cannot give back unchanged
    const bool spmExact = text.find("\xE2\x96\x81") == std::string_view::npos;
    auto ids = spm.encode(text, addSpecial, parseSpecial);
    for (int32_t id : ids) check(id >= 0 && id < spm.vocabSize(), "spm id range", text);
    if (spmExact) check(spm.decode(spm.encode(text, false, parseSpecial)) == text, "spm round trip", text);
    for (const Tokenizer& bpe : bpes) {
        ids = bpe.encode(text, addSpecial, parseSpecial);
        for (int32_t id : ids) check(id >= 0 && id < bpe.vocabSize(), "bpe id range", text);
        check(bpe.decode(bpe.encode(text, false, parseSpecial)) == text, "bpe round trip", text);
    }
}

void fuzzDecode(const uint8_t* data, size_t size) {
    static const Tokenizer spm = makeSpm();
    static const Tokenizer bpe = makeBpe("gpt2");
    std::vector<int32_t> ids(size / 4);
    if (!ids.empty()) std::memcpy(ids.data(), data, ids.size() * 4);
    (void)spm.decode(ids, true);
    (void)spm.decode(ids, false);
    (void)bpe.decode(ids, true);
    for (int32_t id : ids) {
        (void)spm.tokenPiece(id);
        (void)bpe.tokenPiece(id, false);
        (void)bpe.isEog(id);
        (void)spm.tokenText(id);
    }
}

// Spec from bytes: "\n"-separated fields. Field 0: control bytes; then token texts until an empty
// field; the rest are merges. Control bytes pick the model, pre, special ids and flags.
void fuzzSpec(std::string_view in) {
    std::vector<std::string_view> fields;
    for (size_t pos = 0; pos <= in.size();) {
        const size_t e = std::min(in.find('\n', pos), in.size());
        fields.push_back(in.substr(pos, e - pos));
        pos = e + 1;
    }
    const std::string_view ctl = fields[0];
    auto byteAt = [&](size_t i) { return i < ctl.size() ? uint8_t(ctl[i]) : uint8_t(0); };
    static const char* PRES[] = {"", "default", "gpt2", "llama3", "qwen2", "olmo", "bogus"};
    TokenizerSpec s;
    s.model = byteAt(0) & 1 ? "gpt2" : "llama";
    s.pre = PRES[byteAt(1) % 7];
    size_t i = 1;
    for (; i < fields.size() && !fields[i].empty(); ++i) {
        s.tokens.emplace_back(fields[i]);
        if (byteAt(2) & 1) s.scores.push_back(float(int8_t(fields[i][0])) / 4.0f);
        if (byteAt(2) & 2) s.tokenTypes.push_back(int32_t(uint8_t(fields[i][0]) % 8));
    }
    for (++i; i < fields.size(); ++i) s.merges.emplace_back(fields[i]);
    auto id = [&](size_t at) -> std::optional<int32_t> {
        const uint8_t b = byteAt(at);
        if (b == 0) return std::nullopt;
        return int32_t(b) - 2;  // -1 and past-the-end ids included
    };
    s.bos = id(3);
    s.eos = id(4);
    s.eot = id(5);
    s.unk = id(6);
    if (byteAt(7) & 1) s.addBos = bool(byteAt(7) & 2);
    if (byteAt(7) & 4) s.addEos = bool(byteAt(7) & 8);
    s.addSpacePrefix = !(byteAt(7) & 16);
    auto r = Tokenizer::create(std::move(s));
    if (!r.ok()) {
        check(!r.error().message.empty(), "non-empty error message", in);
        return;
    }
    const Tokenizer& t = r.value();
    const std::string_view text = in.substr(std::min<size_t>(ctl.size(), in.size()));
    for (bool parse : {false, true}) {
        const auto ids = t.encode(text, true, parse);
        for (int32_t x : ids) check(x >= 0 && x < t.vocabSize(), "fuzzed spec id range", in);
        (void)t.decode(ids);
    }
}

void fuzzChat(std::string_view in) {
    const size_t cut = in.find('\0');
    const std::string_view source = in.substr(0, cut);
    std::vector<ChatMessage> messages;
    static const char* ROLES[] = {"system", "user", "assistant", "tool"};
    if (cut != std::string_view::npos) {
        std::string_view rest = in.substr(cut + 1);
        for (size_t k = 0; !rest.empty() && k < 16; ++k) {
            const size_t e = std::min(rest.find('\0'), rest.size());
            messages.push_back({ROLES[uint8_t(rest[0]) % 4], std::string(rest.substr(1, e > 0 ? e - 1 : 0))});
            rest = e < rest.size() ? rest.substr(e + 1) : std::string_view();
        }
    }
    static const Tokenizer bpe = makeBpe("qwen2");
    const auto t = ChatTemplate::detect(source, "<s>", "</s>");
    (void)t.format(messages, true);
    (void)t.format(messages, false);
    (void)t.stopStrings();
    (void)t.stopTokenIds(bpe);
    (void)t.encode(bpe, messages, true);
    // the replies: each message's text parsed with the template's markers (and every marker
    // family), the spans covering it in order; streamed in uneven pieces, the same parts
    for (const ReplyFormat& f : {t.replyFormat(), ReplyFormat::detect("</think><tool_call>"),
                                 ReplyFormat::detect("<|channel|><|message|>")}) {
        for (const auto& m : messages) {
            for (bool open : {false, true}) {
                const ParsedReply r = f.parse(m.content, open);
                size_t at = 0;
                for (const auto& sp : r.spans) {
                    check(sp.begin == at && sp.end > sp.begin, "reply spans cover the text in order", in);
                    check(sp.firstCall + sp.calls <= r.toolCalls.size(), "reply span calls in range", in);
                    at = sp.end;
                }
                check(at == m.content.size(), "reply spans end at the text's end", in);
                ReplyStream st(f, open);
                std::string reasoning;
                for (size_t i = 0, n = 1; i < m.content.size(); i += n, n = n % 5 + 1)
                    for (const auto& p : st.feed(std::string_view(m.content).substr(i, n)))
                        if (p.part == ReplyPart::Reasoning) reasoning += p.text;
                for (const auto& p : st.finish())
                    if (p.part == ReplyPart::Reasoning) reasoning += p.text;
                std::string whole;
                for (const auto& sp : r.spans)
                    if (sp.part == ReplyPart::Reasoning) whole += m.content.substr(sp.begin, sp.end - sp.begin);
                check(reasoning == whole, "streamed reasoning equals the parsed reasoning", in);
            }
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 4) {
    case 0: fuzzRoundTrip(in.substr(std::min<size_t>(1, in.size())), in.empty() ? 0 : uint8_t(in[0])); break;
    case 1: fuzzDecode(data + 1, size - 1); break;
    case 2: fuzzSpec(in); break;
    case 3: fuzzChat(in); break;
    }
    return 0;
}
