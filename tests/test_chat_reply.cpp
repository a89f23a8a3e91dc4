// Reply structure (tokenizer/chat_reply.h): reasoning, answer and tool calls split by the markers
// of each template family, streamed without showing a marker, passed back to the template in
// later turns as the template's own variables (compared byte for byte with python3-jinja2), and
// generation that ends where the chat's stop ids say.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <ctime>
#include <fstream>
#include <sstream>

#include "core/random.h"
#include "runtime/generate.h"
#include "synth_models.h"
#include "tokenizer/chat_reply.h"
#include "tokenizer/chat_template.h"

using namespace moe;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

std::string readFile(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string templateSource(const std::string& name) {
    const std::string s = readFile(fs::path(MOESCOPE_SOURCE_DIR) / "tests/jinja/templates" / name);
    REQUIRE_MESSAGE(!s.empty(), name);
    return s;
}

ReplyFormat formatOf(const std::string& name) { return ReplyFormat::detect(templateSource(name)); }

// The raw text of the spans of one part, concatenated.
std::string partText(std::string_view raw, const ParsedReply& r, ReplyPart part) {
    std::string s;
    for (const auto& sp : r.spans)
        if (sp.part == part) s.append(raw.substr(sp.begin, sp.end - sp.begin));
    return s;
}

// Spans cover the reply in order without gaps.
void checkCover(std::string_view raw, const ParsedReply& r) {
    size_t at = 0;
    for (const auto& sp : r.spans) {
        CHECK(sp.begin == at);
        CHECK(sp.end > sp.begin);
        at = sp.end;
    }
    CHECK(at == raw.size());
}

}  // namespace

TEST_CASE("reply formats: the markers each template uses") {
    const auto q = formatOf("qwen3_think.jinja");
    CHECK(q.syntax == ReplyFormat::Syntax::Tags);
    CHECK(q.thinkOpen == "<think>");
    CHECK(q.thinkClose == "</think>");
    CHECK(q.toolOpen == "<tool_call>");
    CHECK(q.toolClose == "</tool_call>");
    CHECK(q.describe() == "thinking <think>...</think>, tool calls <tool_call>...</tool_call>");
    const auto r1 = formatOf("deepseek_r1.jinja");
    CHECK(r1.thinkClose == "</think>");
    CHECK(r1.toolOpen == "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "begin\xEF\xBD\x9C>");
    CHECK(formatOf("glm45.jinja").toolOpen == "<tool_call>");
    CHECK(formatOf("harmony.jinja").syntax == ReplyFormat::Syntax::Harmony);
    CHECK(formatOf("chatml_tools.jinja").thinkClose.empty());
    CHECK(formatOf("chatml_tools.jinja").toolOpen == "<tool_call>");
    for (const char* plain : {"gemma.jinja", "llama31.jinja", "phi3.jinja", "tulu.jinja", "mistral_inst.jinja"}) {
        INFO(plain);
        CHECK(formatOf(plain).syntax == ReplyFormat::Syntax::Plain);
        CHECK_FALSE(formatOf(plain).hasReasoning());
    }
    // DeepSeek-R1's generation prompt opens the thinking block itself
    const auto r1t = ChatTemplate::detect(templateSource("deepseek_r1.jinja"), "<s>", "</s>");
    const auto p = r1t.format({{"user", "Hi"}}, true);
    CHECK(p.text.ends_with("<think>\n"));
    CHECK(p.opensReasoning);
    CHECK_FALSE(r1t.format({{"user", "Hi"}}, false).opensReasoning);
    // Qwen3 with thinking off closes an empty block in the prompt: the reply is the answer
    const auto qt = ChatTemplate::detect(templateSource("qwen3_think.jinja"));
    ChatOptions off;
    off.thinking = 0;
    const auto qp = qt.format({{"user", "Hi"}}, true, off);
    CHECK(qp.text.ends_with("<think>\n\n</think>\n\n"));
    CHECK_FALSE(qp.opensReasoning);
    CHECK_FALSE(qt.format({{"user", "Hi"}}, true).opensReasoning);
}

TEST_CASE("reply parsing: thinking tags") {
    const auto f = formatOf("qwen3_think.jinja");
    std::string raw = "<think>\nLet me see: 2 + 2.\n</think>\n\nThe answer is 4.";
    auto r = f.parse(raw);
    CHECK(r.reasoning == "Let me see: 2 + 2.");
    CHECK(r.content == "The answer is 4.");
    CHECK(r.toolCalls.empty());
    CHECK_FALSE(r.inReasoning);
    checkCover(raw, r);
    REQUIRE(r.spans.size() == 4);
    CHECK(r.spans[0] == ReplySpan{ReplyPart::Markup, 0, 7});
    CHECK(r.spans[1].part == ReplyPart::Reasoning);
    CHECK(r.spans[2].part == ReplyPart::Markup);
    CHECK(raw.substr(r.spans[2].begin, r.spans[2].end - r.spans[2].begin) == "</think>");
    CHECK(r.spans[3].part == ReplyPart::Answer);
    CHECK_FALSE(r.spans[3].closed);

    // still thinking when the reply ends
    raw = "<think>\nstill going";
    r = f.parse(raw);
    CHECK(r.inReasoning);
    CHECK(r.reasoning == "still going");
    CHECK(r.content.empty());
    checkCover(raw, r);

    // a tool call after thinking
    raw = "<think>need weather</think>\nCalling.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
          "{\"city\": \"Z\xC3\xBCrich\", \"days\": 2}}\n</tool_call>";
    r = f.parse(raw);
    CHECK(r.reasoning == "need weather");
    CHECK(r.content == "Calling.");
    REQUIRE(r.toolCalls.size() == 1);
    CHECK(r.toolCalls[0] == ToolCall{"get_weather", "{\"city\":\"Z\xC3\xBCrich\",\"days\":2}"});
    checkCover(raw, r);
    const auto tc = std::find_if(r.spans.begin(), r.spans.end(), [](const ReplySpan& s) { return s.part == ReplyPart::ToolCall; });
    REQUIRE(tc != r.spans.end());
    CHECK(tc->closed);
    CHECK(tc->firstCall == 0);
    CHECK(tc->calls == 1);

    // DeepSeek-R1: the prompt opened <think>, the reply starts inside it
    const auto d = formatOf("deepseek_r1.jinja");
    raw = "91 = 7 * 13.\n</think>\n\nNo, 91 is not prime.";
    r = d.parse(raw, true);
    CHECK(r.reasoning == "91 = 7 * 13.");
    CHECK(r.content == "No, 91 is not prime.");
    CHECK(r.spans[0].part == ReplyPart::Reasoning);
    r = d.parse("thinking and nothing else", true);
    CHECK(r.inReasoning);
    CHECK(r.content.empty());
    // without the flag the same text is the answer
    CHECK(d.parse("plain answer").content == "plain answer");

    // no markers: the reply as it is, untouched
    const ReplyFormat plain;
    r = plain.parse("  <think>x</think> kept  ");
    CHECK(r.content == "  <think>x</think> kept  ");
    CHECK(r.reasoning.empty());
}

TEST_CASE("reply parsing: harmony channels") {
    const auto f = formatOf("harmony.jinja");
    std::string raw = "<|channel|>analysis<|message|>User greets; reply briefly.<|end|><|start|>assistant"
                      "<|channel|>final<|message|>Hello!<|return|>";
    auto r = f.parse(raw);
    CHECK(r.reasoning == "User greets; reply briefly.");
    CHECK(r.content == "Hello!");
    CHECK_FALSE(r.inReasoning);
    checkCover(raw, r);
    CHECK(partText(raw, r, ReplyPart::Reasoning) == "User greets; reply briefly.");
    CHECK(partText(raw, r, ReplyPart::Answer) == "Hello!");

    // a function call on the commentary channel, recipient in the role header or the channel
    raw = "<|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant to=functions.get_weather"
          "<|channel|>commentary json<|message|>{\"city\": \"Paris\"}<|call|>";
    r = f.parse(raw);
    CHECK(r.reasoning == "Need the weather.");
    CHECK(r.content.empty());
    REQUIRE(r.toolCalls.size() == 1);
    CHECK(r.toolCalls[0] == ToolCall{"get_weather", "{\"city\": \"Paris\"}"});
    checkCover(raw, r);
    raw = "<|channel|>commentary to=functions.search <|constrain|>json<|message|>{\"q\": \"x\"}<|call|>";
    r = f.parse(raw);
    REQUIRE(r.toolCalls.size() == 1);
    CHECK(r.toolCalls[0].name == "search");
    // commentary without a recipient is a preamble shown as the answer
    r = f.parse("<|channel|>commentary<|message|>Checking now.<|end|>");
    CHECK(r.content == "Checking now.");

    // mid-stream states
    r = f.parse("<|channel|>analysis<|message|>thinking so fa");
    CHECK(r.inReasoning);
    CHECK(r.reasoning == "thinking so fa");
    r = f.parse("<|channel|>anal");
    CHECK(r.spans.size() == 1);
    CHECK(r.spans[0].part == ReplyPart::Markup);
    CHECK_FALSE(r.spans[0].closed);
    // a model that skips the channel header: its text is the answer
    CHECK(f.parse("Hi there").content == "Hi there");
}

TEST_CASE("tool-call blocks of each family") {
    // Hermes / Qwen JSON, Mistral's array of calls, OpenAI's nested function object
    CHECK(parseToolCalls(" {\"name\": \"a\", \"arguments\": {\"x\": 1}} ") == std::vector<ToolCall>{{"a", "{\"x\":1}"}});
    CHECK(parseToolCalls("[{\"name\": \"a\", \"arguments\": {}}, {\"name\": \"b\", \"parameters\": {\"y\": [1]}}]") ==
          std::vector<ToolCall>{{"a", "{}"}, {"b", "{\"y\":[1]}"}});
    CHECK(parseToolCalls("{\"function\": {\"name\": \"f\", \"arguments\": \"{\\\"k\\\": 2}\"}}") ==
          std::vector<ToolCall>{{"f", "{\"k\": 2}"}});
    // GLM-4.5: name, then key / value pairs (values JSON when they parse)
    CHECK(parseToolCalls("get_weather\n<arg_key>city</arg_key>\n<arg_value>Z\xC3\xBCrich</arg_value>\n"
                         "<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n") ==
          std::vector<ToolCall>{{"get_weather", "{\"city\":\"Z\xC3\xBCrich\",\"days\":2}"}});
    // DeepSeek V3 / R1, and V3.1's shorter form
    const std::string b = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "begin\xEF\xBD\x9C>";
    const std::string e = "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "end\xEF\xBD\x9C>";
    const std::string sep = "<\xEF\xBD\x9Ctool\xE2\x96\x81sep\xEF\xBD\x9C>";
    CHECK(parseToolCalls(b + "function" + sep + "get_weather\n```json\n{\"city\": \"Paris\"}\n```" + e + b + "function" +
                         sep + "search\n```json\n{}\n```" + e) ==
          std::vector<ToolCall>{{"get_weather", "{\"city\": \"Paris\"}"}, {"search", "{}"}});
    CHECK(parseToolCalls(b + "get_time" + sep + "{\"tz\": \"UTC\"}" + e) == std::vector<ToolCall>{{"get_time", "{\"tz\": \"UTC\"}"}});
    // Mistral v11
    CHECK(parseToolCalls("get_time[ARGS]{\"tz\": \"UTC\"}") == std::vector<ToolCall>{{"get_time", "{\"tz\": \"UTC\"}"}});
    // anything else is one unnamed call holding the block, shown as it is
    CHECK(parseToolCalls("  not a call {  ") == std::vector<ToolCall>{{"", "not a call {"}});
    CHECK(parseToolCalls("{\"no_name\": 1}") == std::vector<ToolCall>{{"", "{\"no_name\": 1}"}});
    CHECK(parseToolCalls("   ").empty());
}

TEST_CASE("reply streaming: any split shows the same parts and never a marker") {
    struct Case {
        ReplyFormat format;
        bool startsInReasoning;
        std::string raw;
    };
    const std::vector<Case> cases = {
        {formatOf("qwen3_think.jinja"), false,
         "<think>\nLet me think <b> about it.\n</think>\n\nIt is <4>.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n"
         "</tool_call>\nDone </thin"},
        {formatOf("deepseek_r1.jinja"), true, "reasoning first\n</think>\n\nanswer <think>again</think> end"},
        {formatOf("harmony.jinja"), false,
         "<|channel|>analysis<|message|>a <|x|> b<|end|><|start|>assistant to=functions.f<|channel|>commentary json"
         "<|message|>{\"a\": 1}<|call|><|start|>assistant<|channel|>final<|message|>fin<|return|>"},
        {formatOf("glm45.jinja"), false, "\n<think>t</think>\nvisible<tool_call>get\n<arg_key>k</arg_key>\n"
                                         "<arg_value>v</arg_value>\n</tool_call>"},
    };
    Rng rng(7);
    for (const auto& c : cases) {
        const ParsedReply whole = c.format.parse(c.raw, c.startsInReasoning);
        checkCover(c.raw, whole);
        const std::string reasoning = partText(c.raw, whole, ReplyPart::Reasoning);
        const std::string answer = partText(c.raw, whole, ReplyPart::Answer);
        for (int trial = 0; trial < 40; ++trial) {
            ReplyStream st(c.format, c.startsInReasoning);
            std::vector<ReplyStream::Piece> pieces;
            const size_t step = trial < 6 ? size_t(trial + 1) : 0;
            for (size_t at = 0; at < c.raw.size();) {
                const size_t n = step ? step : 1 + rng.next() % 9;
                for (auto& p : st.feed(std::string_view(c.raw).substr(at, n))) pieces.push_back(std::move(p));
                at += n;
            }
            for (auto& p : st.finish()) pieces.push_back(std::move(p));
            std::string gotReasoning, gotAnswer;
            std::vector<ToolCall> calls;
            for (const auto& p : pieces) {
                CHECK(p.part != ReplyPart::Markup);
                if (p.part == ReplyPart::Reasoning) gotReasoning += p.text;
                if (p.part == ReplyPart::Answer) gotAnswer += p.text;
                if (p.part == ReplyPart::ToolCall) calls.insert(calls.end(), p.calls.begin(), p.calls.end());
                for (std::string_view m : {"<think>", "</think>", "<|channel|>", "<|message|>", "<|end|>", "<tool_call>"})
                    CHECK(p.text.find(m) == std::string::npos);
            }
            INFO(c.raw << " trial " << trial);
            CHECK(gotReasoning == reasoning);
            CHECK(gotAnswer == answer);
            CHECK(calls == whole.toolCalls);
        }
    }
    // a marker split over tokens waits until it is known
    ReplyStream st(formatOf("qwen3_think.jinja"), false);
    CHECK(st.feed("Hi <thi").size() == 1);  // "Hi " shown, "<thi" held
    const auto more = st.feed("nk>deep");
    REQUIRE(more.size() == 1);
    CHECK(more[0].part == ReplyPart::Reasoning);
    CHECK(more[0].text == "deep");
}

// ---- later turns: what the template sees of a reply, compared with python3-jinja2

namespace {

// Renders with tests/jinja/render_ref.py (python3-jinja2 as transformers sets it up).
// The reference reads today's local date, as strftime_now does for ours (a fixed date would
// make the test fail on every later day).
std::string today() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

std::string renderRef(const std::string& source, const json& ctx) {
    const fs::path dir = fs::temp_directory_path() / ("moescope_reply_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "t.jinja", std::ios::binary) << source;
    std::ofstream(dir / "c.json", std::ios::binary) << ctx.dump();
    const std::string cmd = "python3 '" + (fs::path(MOESCOPE_SOURCE_DIR) / "tests/jinja/render_ref.py").string() +
                            "' '" + (dir / "t.jinja").string() + "' '" + (dir / "c.json").string() +
                            "' " + today() + " > '" + (dir / "out").string() + "'";
    const int rc = std::system(cmd.c_str());
    std::string out = readFile(dir / "out");
    fs::remove_all(dir);
    REQUIRE_MESSAGE(rc == 0, "render_ref.py failed: " << cmd);
    return out;
}

}  // namespace

TEST_CASE("later turns: reasoning and tool calls reach the template as its own variables") {
    REQUIRE_MESSAGE(std::system("python3 -c 'import jinja2' 2>/dev/null") == 0,
                    "python3-jinja2 is needed for this test (apt-get install python3-jinja2)");
    // the conversation as a chat keeps it
    const std::vector<ChatMessage> conv = {
        {"system", "Be brief."},
        {"user", "Is 91 prime?"},
        {"assistant", "No, 91 = 7 \xC3\x97 13.", "91 = 7 * 13.", {}},
        {"user", "And 97?"},
        {"assistant", "Let me check.", "Check primes up to 9.", {{"is_prime", "{\"n\":97}"}}},
        {"tool", "true"},
    };
    // ... and as an OpenAI-style request would carry it, written by hand
    const json tools = json::parse(R"([{"type": "function", "function": {"name": "is_prime", "description": "Primality",
        "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}}])");
    json msgs = json::parse(R"([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Is 91 prime?"},
        {"role": "assistant", "content": "No, 91 = 7 × 13.", "reasoning_content": "91 = 7 * 13.", "thinking": "91 = 7 * 13."},
        {"role": "user", "content": "And 97?"},
        {"role": "assistant", "content": "Let me check.", "reasoning_content": "Check primes up to 9.",
         "thinking": "Check primes up to 9.",
         "tool_calls": [{"type": "function", "function": {"name": "is_prime", "arguments": {"n": 97}}}]},
        {"role": "tool", "content": "true"}])");
    ChatOptions opts;
    opts.tools = tools;
    opts.reasoningEffort = "low";
    for (const char* name : {"qwen3_think.jinja", "deepseek_r1.jinja", "harmony.jinja", "glm45.jinja", "chatml_tools.jinja"}) {
        for (int thinking : {-1, 0, 1}) {
            INFO(std::string(name) << " enable_thinking " << thinking);
            const std::string src = templateSource(name);
            const auto t = ChatTemplate::detect(src, "<s>", "</s>");
            REQUIRE(t.usesJinja());
            opts.thinking = thinking;
            const ChatPrompt ours = t.format(conv, true, opts);
            CHECK(ours.warning.empty());
            json ctx = {{"messages", msgs}, {"add_generation_prompt", true}, {"bos_token", "<s>"}, {"eos_token", "</s>"}};
            if (thinking >= 0) ctx["enable_thinking"] = thinking == 1;
            ctx["reasoning_effort"] = "low";
            ctx["tools"] = tools;
            CHECK(ours.text == renderRef(src, ctx));
            CHECK(t.context(conv, true, opts) == ctx);
        }
    }
    // what the templates keep: the reasoning after the last user query, not the earlier turn's
    const auto q = ChatTemplate::detect(templateSource("qwen3_think.jinja"));
    const std::string qt = q.format(conv, true).text;
    CHECK(qt.find("<think>\nCheck primes up to 9.\n</think>\n\nLet me check.") != std::string::npos);
    CHECK(qt.find("91 = 7 * 13.") == std::string::npos);
    CHECK(qt.find("<tool_call>\n{\"name\": \"is_prime\", \"arguments\": {\"n\": 97}}\n</tool_call>") != std::string::npos);
    const std::string ht = ChatTemplate::detect(templateSource("harmony.jinja")).format(conv, true).text;
    CHECK(ht.find("<|channel|>analysis<|message|>Check primes up to 9.<|end|>") != std::string::npos);
    CHECK(ht.find("91 = 7 * 13.") == std::string::npos);
    // the native renderers keep the answer only
    const auto native = ChatTemplate::detect(templateSource("qwen3_think.jinja"), {}, {}, true);
    CHECK(native.format(conv, false).text.find("Check primes") == std::string::npos);

    // a reply parsed from the model's raw text goes back exactly as the template wants it
    const auto f = q.replyFormat();
    const ParsedReply r = f.parse("<think>\nsmall check\n</think>\n\nYes, 97 is prime.");
    std::vector<ChatMessage> next = {{"user", "And 97?"}, {"assistant", r.content, r.reasoning, r.toolCalls}};
    const std::string nt = q.format(next, false).text;
    CHECK(nt == "<|im_start|>user\nAnd 97?<|im_end|>\n<|im_start|>assistant\n<think>\nsmall check\n</think>\n\n"
                "Yes, 97 is prime.<|im_end|>\n");
}

// ---- generation ends at the chat's stop ids; control tokens stream as text when asked

namespace {

// Logits that make each step pick the next id of a script.
class ScriptedBackend final : public rt::Backend {
public:
    ScriptedBackend(const Model& m, std::vector<int32_t> script)
        : Backend(m, rt::BackendOptions{}), script_(std::move(script)) {}
    Status forward(const int32_t*, uint32_t nTok, uint32_t, float* logits, bool) override {
        std::fill(logits, logits + model().cfg.n_vocab, 0.0f);
        logits[script_[std::min(step_++, script_.size() - 1)]] = 50.0f;
        return {};
    }
    uint32_t nCtx() const override { return 256; }
    std::string name() const override { return "scripted"; }

private:
    std::vector<int32_t> script_;
    size_t step_ = 0;
};

}  // namespace

TEST_CASE("generation stops at the chat's stop ids and can stream control tokens") {
    auto model = loadModel(test::synthModelPath("reply_qwen2moe", synthSpecFor(Arch::Qwen2Moe)));
    REQUIRE(model.ok());
    const Model& m = *model.value();
    const Tokenizer& tok = *m.tokenizer;
    const int32_t start = *tok.tokenId("<|im_start|>"), end = *tok.tokenId("<|im_end|>");
    const int32_t a = tok.encode("a", false, false)[0], b = tok.encode("b", false, false)[0];
    auto run = [&](rt::GenerateParams gp, std::string* text) {
        ScriptedBackend be(m, {a, start, b, end, a});
        gp.maxTokens = 8;
        std::string out;
        auto r = rt::generate(be, tok, {a}, gp, [&](const rt::TokenEvent& e) {
            out += e.text;
            return true;
        });
        REQUIRE(r.ok());
        *text = out;
        return r.value();
    };
    std::string text;
    // the tokenizer's end-of-generation ids: <|im_end|>
    auto st = run({}, &text);
    CHECK(st.stopReason == "eog");
    CHECK(st.generatedTokens == 3);
    CHECK(text == "ab");  // <|im_start|> is a control token: not text
    rt::GenerateParams gp;
    gp.renderSpecial = true;
    run(gp, &text);
    CHECK(text == "a<|im_start|>b");
    // a chat's own stop ids replace them
    gp.stopTokens = {start};
    st = run(gp, &text);
    CHECK(st.generatedTokens == 1);
    CHECK(text == "a");
}
