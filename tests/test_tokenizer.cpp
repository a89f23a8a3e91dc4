// Tokenizer tests on small hand-built vocabularies: an SPM vocabulary with scores and byte tokens,
// a byte-level BPE vocabulary with merges. Expected ids are derived by hand in the comments.
#include <doctest/doctest.h>

#include <cstdio>

#include "tokenizer/chat_template.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

using namespace moe;
using Ids = std::vector<int32_t>;

namespace {

// ---- SPM vocabulary
// 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF> (byte b is id 3 + b), then pieces with scores.
constexpr int32_t SPM_BYTE0 = 3;
enum SpmId : int32_t {
    S_SPACE = 259, S_H, S_e, S_l, S_o, S_w, S_r, S_d, S_ll, S_llo, S_He, S_Hello, S_SHello, S_Sw, S_or, S_ld,
    S_orld, S_Sworld, S_SS, S_eacute, S_ni, S_hon, S_nihon, S_1, S_2, S_3, S_12, S_23, S_IM_START, S_IM_END,
    S_TOOL, S_UNUSED,
};

TokenizerSpec spmSpec() {
    TokenizerSpec s;
    s.model = "llama";
    s.pre = "default";
    auto add = [&](const std::string& text, float score, int32_t type) {
        s.tokens.push_back(text);
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
    const std::pair<const char*, float> pieces[] = {
        {"\xE2\x96\x81", -10}, {"H", -20}, {"e", -20}, {"l", -20}, {"o", -20}, {"w", -20}, {"r", -20}, {"d", -20},
        {"ll", -5}, {"llo", -3}, {"He", -4}, {"Hello", -1}, {"\xE2\x96\x81Hello", -0.5f}, {"\xE2\x96\x81w", -6},
        {"or", -7}, {"ld", -7.5f}, {"orld", -6.5f}, {"\xE2\x96\x81world", -2}, {"\xE2\x96\x81\xE2\x96\x81", -9},
        {"\xC3\xA9", -8}, {"日", -8}, {"本", -8}, {"日本", -3}, {"1", -20}, {"2", -20}, {"3", -20}, {"12", -6},
        {"23", -6},
    };
    for (const auto& [text, score] : pieces) add(text, score, 1);
    add("<|im_start|>", 0, 3);
    add("<|im_end|>", 0, 3);
    add("<tool>", 0, 4);
    add("[UNUSED]", 0, 5);
    s.bos = 1;
    s.eos = 2;
    s.unk = 0;
    return s;
}

Tokenizer makeSpm() {
    auto r = Tokenizer::create(spmSpec());
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return std::move(r).value();
}

Ids spmBytes(std::string_view s) {
    Ids ids;
    for (char c : s) ids.push_back(SPM_BYTE0 + uint8_t(c));
    return ids;
}

// ---- byte-level BPE vocabulary
// ids 0..255: the byte-level character of byte b is token b ("Ġ" = 32, "Ċ" = 10); then merges.
enum BpeId : int32_t {
    B_Gt = 256, B_he, B_Gthe, B_ll, B_or, B_Gw, B_Gwor, B_ld, B_Gworld, B_12, B_34, B_123, B_45, B_456, B_xyz,
    B_NLNL, B_EOT, B_IM_START, B_IM_END, B_THINK,
};

TokenizerSpec bpeSpec(const std::string& pre) {
    TokenizerSpec s;
    s.model = "gpt2";
    s.pre = pre;
    for (int b = 0; b < 256; ++b) {
        s.tokens.push_back(unicode::bytesToByteLevel(std::string(1, char(b))));
        s.tokenTypes.push_back(1);
    }
    // rank order = merge order; B_xyz has no merge (reachable only through ignore_merges)
    const char* merged[] = {"Ġt", "he", "Ġthe", "ll", "or", "Ġw", "Ġwor", "ld", "Ġworld",
                            "12", "34", "123", "45", "456", "xyz", "ĊĊ"};
    for (const char* t : merged) {
        s.tokens.push_back(t);
        s.tokenTypes.push_back(1);
    }
    s.merges = {"Ġ t", "h e", "Ġt he", "l l", "o r", "Ġ w", "Ġw or", "l d", "Ġwor ld",
                "1 2", "3 4", "12 3", "4 5", "45 6", "Ċ Ċ"};
    for (const char* t : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
        s.tokens.push_back(t);
        s.tokenTypes.push_back(3);
    }
    s.tokens.push_back("<think>");
    s.tokenTypes.push_back(4);
    s.bos = B_EOT;
    s.eos = B_EOT;
    return s;
}

Tokenizer makeBpe(const std::string& pre) {
    auto r = Tokenizer::create(bpeSpec(pre));
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return std::move(r).value();
}

Ids bpeBytes(std::string_view s) {
    Ids ids;
    for (char c : s) ids.push_back(uint8_t(c));
    return ids;
}

Ids cat(std::initializer_list<Ids> parts) {
    Ids out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

std::vector<std::string> splitWords(const PreTokenizer& p, std::string_view text) {
    std::vector<std::string> words;
    p.split(text, [&](size_t off, size_t len) { words.emplace_back(text.substr(off, len)); });
    return words;
}

std::string createError(TokenizerSpec spec) {
    auto r = Tokenizer::create(std::move(spec));
    return r.ok() ? std::string("(no error)") : r.error().message;
}

const char* const ROUND_TRIP[] = {
    "Hello world",
    "Hello  world",
    "  leading and trailing  ",
    "tabs\tand\nnewlines\r\n\n",
    "caf\xC3\xA9 日本語 😀 👩‍💻",
    "123456 7890",
    "it's IT'S they'll",
    "x",
    " ",
    "\n",
    "mixed<|im_start|>user\nhi<|im_end|> tail",
    "a<tool>b<think>c",
    "\xFF\xFE invalid \x80 utf8 \xE6\x97 x \xE6\x97",
    "<s>not parsed as special unless asked</s>",
};

}  // namespace

// ---------------------------------------------------------------------------------------------
TEST_SUITE("spm") {

TEST_CASE("merges by highest piece score, leftmost on ties") {
    const Tokenizer t = makeSpm();
    CHECK(t.tokenId("\xE2\x96\x81Hello") == S_SHello);
    CHECK(t.tokenId("23") == S_23);
    // "▁Hello▁world": He(-4) ll(-5) llo(-3) Hello(-1) ▁Hello(-0.5) | ▁w(-6) or(-7) ld(-7.5) orld ▁world
    CHECK(t.encode("Hello world", false, false) == Ids{S_SHello, S_Sworld});
    // "▁1 2 3": 12 and 23 tie at -6, the left pair wins
    CHECK(t.encode("123", false, false) == Ids{S_SPACE, S_12, S_3});
}

TEST_CASE("whitespace runs and newlines") {
    const Tokenizer t = makeSpm();
    // the ▁▁ pair (-9) loses to ▁w (-6); the lone ▁ stays
    CHECK(t.encode("Hello  world", false, false) == Ids{S_SHello, S_SPACE, S_Sworld});
    // "▁▁▁": the two ▁▁ pairs tie, the left one merges
    CHECK(t.encode("  ", false, false) == Ids{S_SS, S_SPACE});
    // newline has no piece: byte fallback <0x0A>; "world" without ▁ ends as w + orld
    CHECK(t.encode("Hello\nworld", false, false) == Ids{S_SHello, SPM_BYTE0 + 0x0A, S_w, S_orld});
    CHECK(t.encode("\t", false, false) == Ids{S_SPACE, SPM_BYTE0 + 0x09});
    CHECK(t.decode(t.encode("Hello  world", false, false)) == "Hello  world");
}

TEST_CASE("unicode and byte fallback") {
    const Tokenizer t = makeSpm();
    CHECK(t.encode("\xC3\xA9", false, false) == Ids{S_SPACE, S_eacute});
    CHECK(t.encode("caf\xC3\xA9", false, false) == cat({{S_SPACE}, spmBytes("caf"), {S_eacute}}));
    // 語 (E8 AA 9E) has no piece: three byte tokens
    CHECK(t.encode("日本語", false, false) == cat({{S_SPACE, S_nihon}, spmBytes("\xE8\xAA\x9E")}));
    // emoji: four byte tokens
    CHECK(t.encode("😀", false, false) == cat({{S_SPACE}, spmBytes("\xF0\x9F\x98\x80")}));
    CHECK(t.decode(Ids{S_SPACE, S_nihon, SPM_BYTE0 + 0xE8, SPM_BYTE0 + 0xAA, SPM_BYTE0 + 0x9E}) == "日本語");
    // a byte token alone is a partial UTF-8 sequence when streamed
    CHECK(t.tokenPiece(SPM_BYTE0 + 0xE8) == "\xE8");
    CHECK(t.tokenPiece(S_SHello) == " Hello");
}

TEST_CASE("BOS, EOS and the space prefix") {
    const Tokenizer t = makeSpm();
    CHECK(t.addBos());
    CHECK_FALSE(t.addEos());
    CHECK(t.encode("Hello", true, false) == Ids{1, S_SHello});
    CHECK(t.encode("", true, false) == Ids{1});
    CHECK(t.encode("", false, false).empty());
    CHECK(t.decode(Ids{1, S_SHello}) == "<s>Hello");
    CHECK(t.decode(Ids{1, S_SHello}, false) == "Hello");

    auto spec = spmSpec();
    spec.addBos = false;
    spec.addEos = true;
    auto noBos = Tokenizer::create(spec);
    REQUIRE(noBos.ok());
    CHECK(noBos->encode("Hello", true, false) == Ids{S_SHello, 2});

    spec = spmSpec();
    spec.addSpacePrefix = false;
    auto noPrefix = Tokenizer::create(spec);
    REQUIRE(noPrefix.ok());
    CHECK(noPrefix->encode("Hello world", false, false) == Ids{S_Hello, S_Sworld});
    CHECK(noPrefix->decode(Ids{S_SHello}) == " Hello");
}

TEST_CASE("special tokens are matched whole, never split") {
    const Tokenizer t = makeSpm();
    // each text piece after a matched token gets the space prefix (as SentencePiece / llama.cpp)
    CHECK(t.encode("<|im_start|>Hello<|im_end|>", false, true) == Ids{S_IM_START, S_SHello, S_IM_END});
    CHECK(t.decode(Ids{S_IM_START, S_SHello, S_IM_END}) == "<|im_start|>Hello<|im_end|>");
    CHECK(t.decode(Ids{S_IM_START, S_SHello, S_IM_END}, false) == "Hello");
    // without parseSpecial the control text is ordinary text (▁ then bytes, "r" is a piece)
    CHECK(t.encode("<|im_start|>", false, false) ==
          cat({{S_SPACE}, spmBytes("<|im_sta"), {S_r}, spmBytes("t|>")}));
    // user-defined tokens are always matched
    CHECK(t.encode("a<tool>b", false, false) == cat({{S_SPACE}, spmBytes("a"), {S_TOOL, S_SPACE}, spmBytes("b")}));
    // unused tokens are not matched and render as nothing
    CHECK(t.decode(Ids{S_UNUSED}).empty());
    CHECK(t.encode("<s>", false, true) == Ids{1});
}

TEST_CASE("decode(encode(s)) == s") {
    const Tokenizer t = makeSpm();
    for (const char* s : ROUND_TRIP) {
        CAPTURE(s);
        CHECK(t.decode(t.encode(s, false, true)) == s);
        CHECK(t.decode(t.encode(s, false, false)) == s);
    }
}

}  // TEST_SUITE("spm")

// ---------------------------------------------------------------------------------------------
TEST_SUITE("pre-tokenizer") {

TEST_CASE("gpt2 regex (also default, olmo)") {
    for (const char* pre : {"gpt2", "default", "", "olmo"}) {
        auto p = PreTokenizer::create(pre);
        REQUIRE(p.ok());
        CHECK(p->family() == "gpt2");
        CHECK(splitWords(*p, "Hello world  123 it's\n\nok") ==
              std::vector<std::string>{"Hello", " world", " ", " 123", " it", "'s", "\n", "\n", "ok"});
        CHECK(splitWords(*p, "IT'S") == std::vector<std::string>{"IT", "'", "S"});
        CHECK(splitWords(*p, "a\tb") == std::vector<std::string>{"a", "\t", "b"});  // "\t" is a gap
        CHECK(splitWords(*p, "123456") == std::vector<std::string>{"123456"});
        CHECK(splitWords(*p, "café日本語 😀!") == std::vector<std::string>{"café日本語", " 😀!"});
        CHECK(splitWords(*p, "a\xFF" "b") == std::vector<std::string>{"a", "\xFF", "b"});  // invalid UTF-8: a gap
    }
}

TEST_CASE("llama3 regex") {
    for (const char* pre : {"llama3", "llama-bpe"}) {
        auto p = PreTokenizer::create(pre);
        REQUIRE(p.ok());
        CHECK(p->family() == "llama3");
        CHECK(p->ignoreMerges());
        CHECK(splitWords(*p, "Hello world  123 it's\n\nok") ==
              std::vector<std::string>{"Hello", " world", " ", " ", "123", " it", "'s", "\n\n", "ok"});
        CHECK(splitWords(*p, "IT'S") == std::vector<std::string>{"IT", "'S"});
        CHECK(splitWords(*p, "a\tb") == std::vector<std::string>{"a", "\tb"});
        CHECK(splitWords(*p, "1234567") == std::vector<std::string>{"123", "456", "7"});
    }
}

TEST_CASE("qwen2 regex: single digits") {
    auto p = PreTokenizer::create("qwen2");
    REQUIRE(p.ok());
    CHECK(p->family() == "qwen2");
    CHECK_FALSE(p->ignoreMerges());
    CHECK(splitWords(*p, "x 123") == std::vector<std::string>{"x", " ", "1", "2", "3"});
    CHECK(splitWords(*p, "IT'S ok.\n") == std::vector<std::string>{"IT", "'S", " ok", ".\n"});
}

TEST_CASE("deepseek regexes: sequences of splits (V3: digits in threes first; V2: newlines, letters, digits)") {
    auto v3 = PreTokenizer::create("deepseek-v3");
    REQUIRE(v3.ok());
    CHECK(v3->family() == "deepseek-v3");
    CHECK(splitWords(*v3, "abc12345def") == std::vector<std::string>{"abc", "123", "45", "def"});
    CHECK(splitWords(*v3, "Hello world") == std::vector<std::string>{"Hello", " world"});
    CHECK(splitWords(*v3, "你好world") == std::vector<std::string>{"你好", "world"});
    CHECK(splitWords(*v3, "!hello") == std::vector<std::string>{"!hello"});
    CHECK(splitWords(*v3, "a, b") == std::vector<std::string>{"a", ",", " b"});
    auto v2 = PreTokenizer::create("deepseek-llm");
    REQUIRE(v2.ok());
    CHECK(v2->family() == "deepseek-llm");
    CHECK(splitWords(*v2, "Hello world 123\n") == std::vector<std::string>{"Hello", " world", " ", "123", "\n"});
    CHECK(splitWords(*v2, "12345") == std::vector<std::string>{"12345"});
}

TEST_CASE("unknown pre-tokenizer is an error naming it") {
    auto p = PreTokenizer::create("bogus-pre");
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().message.find("'bogus-pre'") != std::string::npos);
}

}  // TEST_SUITE("pre-tokenizer")

// ---------------------------------------------------------------------------------------------
TEST_SUITE("bpe") {

TEST_CASE("merges by rank") {
    const Tokenizer t = makeBpe("gpt2");
    CHECK(t.vocabSize() == 276);
    // "the": h e (rank 1) -> [t][he]; " world": or(4) Ġw(5) Ġwor(6) ld(7) Ġworld(8)
    CHECK(t.encode("the world", false, false) == Ids{'t', B_he, B_Gworld});
    // " the": Ġt(0) he(1) Ġthe(2)
    CHECK(t.encode(" the", false, false) == Ids{B_Gthe});
    CHECK(t.encode("Hello", false, false) == Ids{'H', 'e', B_ll, 'o'});
    CHECK(t.decode(Ids{'t', B_he, B_Gworld}) == "the world");
}

TEST_CASE("digits split per pre-tokenizer") {
    // gpt2: one word "123456": 12(9) then 34(10) steals the 3 before 12 3(11) can run; 45(12) is stale
    CHECK(makeBpe("gpt2").encode("123456", false, false) == Ids{B_12, B_34, '5', '6'});
    // llama3: words "123" "456"
    CHECK(makeBpe("llama3").encode("123456", false, false) == Ids{B_123, B_456});
    // qwen2: one word per digit
    CHECK(makeBpe("qwen2").encode("123456", false, false) == Ids{'1', '2', '3', '4', '5', '6'});
}

TEST_CASE("whitespace and newlines") {
    // gpt2: "Hello" "\n" "\n" "world" ; llama3: "Hello" "\n\n" (a whole token: ignore_merges) "world"
    const Ids hello{'H', 'e', B_ll, 'o'}, world{'w', B_or, B_ld};
    CHECK(makeBpe("gpt2").encode("Hello\n\nworld", false, false) == cat({hello, {'\n', '\n'}, world}));
    CHECK(makeBpe("llama3").encode("Hello\n\nworld", false, false) == cat({hello, {B_NLNL}, world}));
    CHECK(makeBpe("gpt2").encode("a  b", false, false) == Ids{'a', ' ', ' ', 'b'});
    // ignore_merges: "xyz" is a token but no merge builds it
    CHECK(makeBpe("llama3").encode("xyz", false, false) == Ids{B_xyz});
    CHECK(makeBpe("gpt2").encode("xyz", false, false) == Ids{'x', 'y', 'z'});
}

TEST_CASE("unicode and emoji are byte-level") {
    const Tokenizer t = makeBpe("gpt2");
    CHECK(t.encode("\xC3\xA9", false, false) == Ids{0xC3, 0xA9});
    CHECK(t.encode("日本語", false, false) == bpeBytes("日本語"));
    CHECK(t.encode("😀", false, false) == Ids{0xF0, 0x9F, 0x98, 0x80});
    CHECK(t.tokenPiece(0xF0) == "\xF0");  // partial UTF-8 when streamed
    CHECK(t.tokenText(' ') == "Ġ");
    CHECK(t.tokenPiece(B_Gworld) == " world");
}

TEST_CASE("special tokens and BOS") {
    const Tokenizer t = makeBpe("gpt2");
    CHECK(t.encode("<|im_start|>user\nhi<|im_end|>", false, true) ==
          cat({{B_IM_START}, bpeBytes("user\nhi"), {B_IM_END}}));
    const Ids plain = t.encode("<|im_start|>", false, false);
    CHECK(plain == bpeBytes("<|im_start|>"));
    CHECK(t.encode("a<think>b", false, false) == Ids{'a', B_THINK, 'b'});
    CHECK(t.decode(Ids{B_IM_START, 'h', 'i', B_IM_END}) == "<|im_start|>hi<|im_end|>");
    CHECK(t.decode(Ids{B_IM_START, 'h', 'i', B_IM_END}, false) == "hi");
    // gpt2 default: no BOS; llama3 default: BOS; explicit metadata wins
    CHECK_FALSE(t.addBos());
    CHECK(t.encode("hi", true, false) == Ids{'h', 'i'});
    CHECK(makeBpe("llama3").encode("hi", true, false) == Ids{B_EOT, 'h', 'i'});
    auto spec = bpeSpec("qwen2");
    spec.addBos = true;
    auto withBos = Tokenizer::create(spec);
    REQUIRE(withBos.ok());
    CHECK(withBos->encode("hi", true, false) == Ids{B_EOT, 'h', 'i'});
}

TEST_CASE("end of generation") {
    const Tokenizer t = makeBpe("qwen2");
    CHECK(t.isEog(B_EOT));
    CHECK(t.isEog(B_IM_END));
    CHECK_FALSE(t.isEog(B_IM_START));
    CHECK_FALSE(t.isEog('a'));
    const Tokenizer s = makeSpm();
    CHECK(s.isEog(2));
    CHECK(s.isEog(S_IM_END));
    CHECK_FALSE(s.isEog(1));
}

TEST_CASE("decode(encode(s)) == s for every pre-tokenizer") {
    for (const char* pre : {"gpt2", "llama3", "qwen2", "olmo"}) {
        const Tokenizer t = makeBpe(pre);
        for (const char* s : ROUND_TRIP) {
            CAPTURE(pre);
            CAPTURE(s);
            CHECK(t.decode(t.encode(s, false, true)) == s);
            CHECK(t.decode(t.encode(s, false, false)) == s);
        }
    }
}

TEST_CASE("decode skips invalid ids") {
    const Tokenizer t = makeBpe("gpt2");
    CHECK(t.decode(Ids{-1, 'a', 276, 1 << 30, 'b', INT32_MIN}) == "ab");
    CHECK(t.tokenPiece(-5).empty());
    CHECK(t.tokenText(99999).empty());
    CHECK_FALSE(t.isEog(-1));
}

TEST_CASE("no token types: ids and <|...|> texts are control") {
    auto spec = bpeSpec("gpt2");
    spec.tokenTypes.clear();
    auto t = Tokenizer::create(spec);
    REQUIRE(t.ok());
    CHECK(t->tokenType(B_IM_START) == TokenType::Control);
    CHECK(t->tokenType(B_THINK) == TokenType::Normal);
    CHECK(t->encode("<|im_end|>", false, true) == Ids{B_IM_END});
    CHECK(t->isEog(B_IM_END));
}

}  // TEST_SUITE("bpe")

// ---------------------------------------------------------------------------------------------
TEST_SUITE("spec validation") {

TEST_CASE("errors name the problem") {
    TokenizerSpec empty;
    empty.model = "llama";
    CHECK(createError(empty).find("empty vocabulary") != std::string::npos);

    auto s = spmSpec();
    s.model = "bert";
    CHECK(createError(s).find("unsupported tokenizer model tokenizer.ggml.model = 'bert'") != std::string::npos);

    s = spmSpec();
    s.scores.resize(2);
    CHECK(createError(s).find("tokenizer.ggml.scores has 2 entries but tokenizer.ggml.tokens has 291") !=
          std::string::npos);

    s = spmSpec();
    s.tokenTypes.pop_back();
    CHECK(createError(s).find("tokenizer.ggml.token_type has 290 entries") != std::string::npos);

    s = spmSpec();
    s.tokenTypes[5] = 9;
    CHECK(createError(s).find("token 5 '<0x02>' has invalid type 9") != std::string::npos);

    s = spmSpec();
    s.bos = 291;
    CHECK(createError(s).find("bos_token_id = 291 is out of range (vocabulary has 291 tokens)") !=
          std::string::npos);
    s = spmSpec();
    s.eot = -1;
    CHECK(createError(s).find("eot_token_id = -1 is out of range") != std::string::npos);

    s = spmSpec();
    s.bos.reset();
    s.addBos = true;
    CHECK(createError(s).find("add_bos_token is true but there is no bos_token_id") != std::string::npos);

    s = spmSpec();
    s.tokens[3] = "<0xZZ>";
    CHECK(createError(s).find("token 3 '<0xZZ>' has type byte but is not of the form <0xXX>") != std::string::npos);
}

TEST_CASE("merge errors name the merge") {
    auto b = bpeSpec("gpt2");
    b.merges.push_back("he q\xE2\x80\xBD");
    CHECK(createError(b).find("merge #15 'he q\xE2\x80\xBD' references unknown token 'q\xE2\x80\xBD'") !=
          std::string::npos);

    b = bpeSpec("gpt2");
    b.merges.push_back("a b");  // both parts exist, "ab" does not
    CHECK(createError(b).find("merge #15 'a b' produces 'ab' which is not in the vocabulary") != std::string::npos);

    b = bpeSpec("gpt2");
    b.merges.push_back("abc");
    CHECK(createError(b).find("merge #15 'abc' is not of the form 'left right'") != std::string::npos);

    b = bpeSpec("unknown-pre");
    CHECK(createError(b).find("unsupported pre-tokenizer tokenizer.ggml.pre = 'unknown-pre'") != std::string::npos);
}

TEST_CASE("control characters in messages are escaped") {
    auto b = bpeSpec("gpt2");
    b.merges.push_back(std::string("x \x01\n"));
    CHECK(createError(b).find("'x \\x01\\x0a'") != std::string::npos);
}

}  // TEST_SUITE("spec validation")

// ---------------------------------------------------------------------------------------------
TEST_SUITE("chat template") {

const std::vector<ChatMessage> CONVERSATION = {
    {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", " Bye "}};

TEST_CASE("ChatML with Qwen's default system prompt") {
    const char* qwen2 =
        R"({% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %})";
    const auto t = ChatTemplate::detect(qwen2);
    CHECK(t.family() == ChatFamily::ChatML);
    CHECK(t.name() == "chatml");
    CHECK(t.defaultSystem() == "You are a helpful assistant.");
    const auto p = t.format({{"user", "Hi"}}, true);
    CHECK(p.warning.empty());
    CHECK(p.text ==
          "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
          "<|im_start|>assistant\n");
    CHECK(t.format(CONVERSATION, false).text ==
          "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
          "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n Bye <|im_end|>\n");
    // a template whose system turn is an expression has no default
    // (a fragment of a template: the native renderer, which the Jinja interpreter falls back to)
    const auto q3 = ChatTemplate::detect(
        R"({%- if messages[0].role == 'system' %}{{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}{%- endif %})",
        {}, {}, true);
    CHECK(q3.defaultSystem().empty());
    CHECK(q3.format({{"user", "Hi"}}, true).text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST_CASE("Llama-2: system inside <<SYS>> of the first [INST], bos per turn") {
    const char* llama2 =
        R"({% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %})";
    const auto t = ChatTemplate::detect(llama2, "<s>", "</s>");
    CHECK(t.family() == ChatFamily::Llama2);
    CHECK(t.format(CONVERSATION, true).text ==
          "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Bye [/INST]");
    CHECK(t.stopStrings() == std::vector<std::string>{"</s>"});
}

TEST_CASE("Mistral v1 (Mixtral-Instruct): system prepended to the first user message") {
    const char* mixtral =
        R"({%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}{{- bos_token }}{%- for message in loop_messages %}{%- if message['role'] == 'user' %}{%- if loop.first and system_message is defined %}{{- ' [INST] ' + system_message + '\n\n' + message['content'] + ' [/INST]' }}{%- else %}{{- ' [INST] ' + message['content'] + ' [/INST]' }}{%- endif %}{%- elif message['role'] == 'assistant' %}{{- ' ' + message['content'] + eos_token}}{%- endif %}{%- endfor %})";
    const auto t = ChatTemplate::detect(mixtral);
    CHECK(t.family() == ChatFamily::Mistral);
    CHECK(t.format(CONVERSATION, true).text == "<s> [INST] Be brief.\n\nHi [/INST] Hello!</s> [INST]  Bye  [/INST]");
    const char* legacy =
        R"({{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor %})";
    CHECK(ChatTemplate::detect(legacy).format({{"user", "Hi"}, {"assistant", "Yo"}, {"user", "Bye"}}, true).text ==
          "<s>[INST] Hi [/INST]Yo</s>[INST] Bye [/INST]");
}

TEST_CASE("Llama-3 and Llama-3.1") {
    const char* llama3 =
        R"({% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %})";
    const auto t = ChatTemplate::detect(llama3);
    CHECK(t.family() == ChatFamily::Llama3);
    CHECK(t.format({{"system", "S"}, {"user", " Hi "}}, true).text ==
          "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n");
    CHECK(t.stopStrings() == std::vector<std::string>{"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"});
    const auto t31 = ChatTemplate::detect(std::string(llama3) + R"({{- "Cutting Knowledge Date: December 2023\n" }})", {}, {}, true);
    CHECK(t31.format({{"user", "Hi"}}, true).text ==
          "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
          "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST_CASE("Tulu / OLMoE, Zephyr, Phi-3") {
    const char* olmo =
        R"({{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + '\n' }}{% elif message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + '\n' }}{% elif message['role'] == 'assistant' %}{% if not loop.last %}{{ '<|assistant|>\n'  + message['content'] + eos_token + '\n' }}{% else %}{{ '<|assistant|>\n'  + message['content'] + eos_token }}{% endif %}{% endif %}{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}{% endfor %})";
    const auto t = ChatTemplate::detect(olmo, "<|endoftext|>", "<|endoftext|>");
    CHECK(t.family() == ChatFamily::Tulu);
    CHECK(t.format(CONVERSATION, true).text ==
          "<|endoftext|><|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\nHello!<|endoftext|>\n"
          "<|user|>\n Bye \n<|assistant|>\n");
    CHECK(t.format({{"user", "Hi"}, {"assistant", "Yo"}}, false).text ==
          "<|endoftext|><|user|>\nHi\n<|assistant|>\nYo<|endoftext|>");

    const char* zephyr =
        R"({% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + eos_token }}{% endif %}{% endfor %})";
    const auto z = ChatTemplate::detect(zephyr, {}, {}, true);  // native: the fragment has no generation prompt
    CHECK(z.family() == ChatFamily::Zephyr);
    CHECK(z.format({{"system", "S"}, {"user", "Hi"}}, true).text == "<|system|>\nS</s>\n<|user|>\nHi</s>\n<|assistant|>\n");

    const char* phi3 =
        R"({% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %})";
    const auto ph = ChatTemplate::detect(phi3, {}, {}, true);
    CHECK(ph.family() == ChatFamily::Phi3);
    CHECK(ph.format({{"system", ""}, {"user", "Hi"}}, true).text == "<|user|>\nHi<|end|>\n<|assistant|>\n");
    CHECK(ph.format({{"user", "Hi"}}, false).text == "<|user|>\nHi<|end|>\n<|endoftext|>");
}

TEST_CASE("an unknown template renders itself; natively, the plain format and a warning") {
    const auto j = ChatTemplate::detect("{{ messages | tojson }}");
    CHECK(j.usesJinja());
    const auto jp = j.format({{"system", "S"}, {"user", "Hi"}}, true);
    CHECK(jp.text == R"([{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}])");
    CHECK(jp.warning.empty());
    CHECK(j.stopStrings() == std::vector<std::string>{"<|endoftext|>"});

    const auto t = ChatTemplate::detect("{{ messages | tojson }}", {}, {}, true);
    CHECK(t.family() == ChatFamily::Plain);
    const auto p = t.format({{"system", "S"}, {"user", "Hi"}}, true);
    CHECK(p.text == "System: S\nUser: Hi\nAssistant:");
    CHECK(p.warning.find("unrecognised chat template") != std::string::npos);
    CHECK(ChatTemplate::detect("").warning().find("no chat template") != std::string::npos);
}

TEST_CASE("the model's own template through the Jinja interpreter, and the visible fallbacks") {
    // a template the interpreter renders: its own output, family kept for stop strings
    const char* gemmaLike =
        R"({{ bos_token }}{% for m in messages %}{% if m['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = m['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + m['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %})";
    const auto g = ChatTemplate::detect(gemmaLike, "<bos>", "<eos>");
    CHECK(g.usesJinja());
    const auto gp = g.format({{"user", " Hi "}, {"assistant", "Yo"}}, true);
    CHECK(gp.warning.empty());
    CHECK(gp.text == "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nYo<end_of_turn>\n"
                     "<start_of_turn>model\n");
    // raise_exception at render time: the family's native format, with the error in the warning
    const char* strict =
        R"({% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %})";
    const auto st = ChatTemplate::detect(strict);
    CHECK(st.usesJinja());
    CHECK(st.format({{"user", "Hi"}}, false).text == "<|im_start|>user\nHi<|im_end|>\n");
    const auto sp = st.format({{"system", "S"}, {"user", "Hi"}}, false);
    CHECK(sp.text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
    CHECK(sp.warning == "chat template: raise_exception: System role not supported; using the built-in chatml format");
    // a template the interpreter cannot parse: the native format and a warning naming the error
    const auto bad = ChatTemplate::detect("{% for m in messages %}<|im_start|>{{ m.content }");
    CHECK(!bad.usesJinja());
    CHECK(bad.family() == ChatFamily::ChatML);
    CHECK(bad.warning().rfind("chat template: line 1, column ", 0) == 0);
    CHECK(bad.warning().find("; using the built-in chatml format of its family") != std::string::npos);
    CHECK(bad.format({{"user", "Hi"}}, true).text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST_CASE("stop ids and encoding through the tokenizer") {
    auto spec = bpeSpec("qwen2");
    spec.chatTemplate = "{{ '<|im_start|>' + message['role'] }}";
    auto bpe = Tokenizer::create(spec);
    REQUIRE(bpe.ok());
    const auto chat = ChatTemplate::forTokenizer(*bpe);
    CHECK(chat.family() == ChatFamily::ChatML);
    const auto stops = chat.stopTokenIds(*bpe);
    CHECK(std::find(stops.begin(), stops.end(), B_IM_END) != stops.end());
    CHECK(std::find(stops.begin(), stops.end(), B_EOT) != stops.end());
    CHECK(chat.encode(*bpe, {{"user", "hi"}}, true) ==
          cat({{B_IM_START}, bpeBytes("user\nhi"), {B_IM_END}, bpeBytes("\n"), {B_IM_START},
               bpeBytes("assistant\n")}));

    // SPM + [INST]: the template writes "<s>", which becomes BOS once (not twice)
    auto s = spmSpec();
    s.chatTemplate = "{{ bos_token }}{{ '[INST] ' + message['content'] + ' [/INST]' }}";
    auto spm = Tokenizer::create(s);
    REQUIRE(spm.ok());
    const auto inst = ChatTemplate::forTokenizer(*spm);
    CHECK(inst.family() == ChatFamily::Mistral);
    const Ids ids = inst.encode(*spm, {{"user", "Hello"}}, true);
    REQUIRE(ids.size() > 2);
    CHECK(ids[0] == 1);
    CHECK(ids[1] != 1);
    CHECK(spm->decode(ids) == "<s>[INST] Hello [/INST]");
}

}  // TEST_SUITE("chat template")

// ---- end of generation in chats: the file's ids, gpt-oss's <|end|>, the template's turn end

namespace {

// bpeSpec plus control tokens at ids 277.. in the order given.
Tokenizer bpeWith(std::initializer_list<const char*> controls, std::string chatTemplate = {},
                  std::optional<int32_t> eot = {}, std::optional<int32_t> eom = {}) {
    auto s = bpeSpec("qwen2");
    for (const char* t : controls) {
        s.tokens.push_back(t);
        s.tokenTypes.push_back(3);
    }
    s.chatTemplate = std::move(chatTemplate);
    s.eot = eot;
    s.eom = eom;
    auto r = Tokenizer::create(s);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return std::move(r).value();
}

bool has(const std::vector<int32_t>& v, std::optional<int32_t> id) {
    return id && std::find(v.begin(), v.end(), *id) != v.end();
}

}  // namespace

TEST_CASE("stop ids: eot and eom from the file, gpt-oss's <|end|> ends a message, not the turn") {
    // eot / eom ids of names no list knows
    const auto t = bpeWith({"<my_eot>", "<my_eom>", "<|end|>"}, {}, B_THINK + 1, B_THINK + 2);
    CHECK(t.eot() == B_THINK + 1);
    CHECK(t.eom() == B_THINK + 2);
    CHECK(t.isEog(B_THINK + 1));
    CHECK(t.isEog(B_THINK + 2));
    CHECK(t.isEog(*t.tokenId("<|end|>")));  // Phi-3: <|end|> ends the turn
    // o200k_harmony: <|return|> and <|call|> end the turn; <|end|> only closes a channel's message
    const char* harmonySrc = "{% for m in messages %}<|start|>{{ m.role }}<|channel|>final<|message|>{{ m.content }}"
                             "<|end|>{% endfor %}{% if add_generation_prompt %}<|start|>assistant{% endif %}";
    const auto h = bpeWith({"<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|return|>", "<|call|>"}, harmonySrc);
    CHECK_FALSE(h.isEog(*h.tokenId("<|end|>")));
    CHECK(h.isEog(*h.tokenId("<|return|>")));
    CHECK(h.isEog(*h.tokenId("<|call|>")));
    const auto hc = ChatTemplate::forTokenizer(h);
    CHECK(hc.replyFormat().syntax == ReplyFormat::Syntax::Harmony);
    CHECK(hc.turnEnd() == "<|end|><|start|>user<|channel|>final<|message|>");
    const auto hs = hc.stopTokenIds(h);
    CHECK_FALSE(has(hs, h.tokenId("<|end|>")));
    CHECK(has(hs, h.tokenId("<|return|>")));
    CHECK(has(hs, h.tokenId("<|call|>")));
}

TEST_CASE("stop ids: the special token a template writes after an assistant turn") {
    // a turn marker no list knows: the template's own end of turn stops the reply
    const char* src = "{% for m in messages %}<|role|>{{ m.role }}\n{{ m.content }}<|turn_end|>\n{% endfor %}"
                      "{% if add_generation_prompt %}<|role|>assistant\n{% endif %}";
    const auto t = bpeWith({"<|role|>", "<|turn_end|>"}, src);
    CHECK_FALSE(t.isEog(*t.tokenId("<|turn_end|>")));
    const auto c = ChatTemplate::forTokenizer(t);
    CHECK(c.usesJinja());
    CHECK(c.turnEnd() == "<|turn_end|>\n<|role|>user\n");
    const auto stops = c.stopTokenIds(t);
    CHECK(has(stops, t.tokenId("<|turn_end|>")));
    CHECK_FALSE(has(stops, t.tokenId("<|role|>")));
    CHECK(has(stops, B_EOT));  // eos stays
    // GLM-4.5 writes no end marker: the next turn's <|user|> is where the reply ends
    const char* glm = "[gMASK]<sop>{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}{% endfor %}"
                      "{% if add_generation_prompt %}<|assistant|>{% endif %}";
    const auto g = bpeWith({"<|user|>", "<|assistant|>", "<|system|>"}, glm);
    const auto gc = ChatTemplate::forTokenizer(g);
    CHECK(gc.turnEnd() == "<|user|>\n");
    CHECK(has(gc.stopTokenIds(g), g.tokenId("<|user|>")));
    // text after the assistant turn that is not a special token adds nothing
    const auto plain = bpeWith({}, "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}");
    const auto pc = ChatTemplate::forTokenizer(plain);
    CHECK(pc.turnEnd() == "\nuser: ");
    CHECK(pc.stopTokenIds(plain) == plain.eogIds());
}
