// The structure of a chat reply in the GUI: session events (PromptEvent, TokenOutEvent) split the
// streaming reply into reasoning, answer and tool calls by the model's reply format (think tags,
// opening in reasoning or not; gpt-oss harmony channels with a commentary tool call), the part
// each generated token is shown in, what later turns send to the template, the conversation file
// with the reply's parts (and files without them), the thinking settings, the state dump, and the
// chat panel's text drawn headless. Linked into ui_panels_test (ui/CMakeLists.txt, label gui).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <imgui.h>

#include "ui/autorun.h"
#include "ui/controller.h"
#include "ui/conversation.h"
#include "ui/panels.h"
#include "ui/settings.h"

using namespace moe;
using namespace moe::ui;

namespace {

using P = ReplyPart;

ReplyFormat tagsFormat() {
    ReplyFormat f;
    f.syntax = ReplyFormat::Syntax::Tags;
    f.thinkOpen = "<think>";
    f.thinkClose = "</think>";
    f.toolOpen = "<tool_call>";
    f.toolClose = "</tool_call>";
    return f;
}

ReplyFormat harmonyFormat() {
    ReplyFormat f;
    f.syntax = ReplyFormat::Syntax::Harmony;
    return f;
}

rt::ModelFacts factsWith(const ReplyFormat& f) {
    rt::ModelFacts m;
    m.path = "/models/reply.gguf";
    m.name = "reply";
    m.arch = "qwen3moe";
    m.layers = 2;
    m.experts = 4;
    m.expertsUsed = 2;
    m.chatTemplate = "chatml";
    m.templateJinja = true;
    m.replyFormat = f;
    return m;
}

// A state with the model loaded and a user message answered by `pieces`, one token each (text =
// piece), the prompt of 3 tokens ending inside a thinking block when `opensReasoning`.
AppState replied(const ReplyFormat& f, const std::vector<std::string>& pieces, bool opensReasoning = false) {
    AppState s;
    applyEvent(s, rt::ModelLoadedEvent{factsWith(f)});
    s.conv.messages.push_back({"user", "Hi", -1, -1});
    s.conv.messages.push_back({"assistant", "", -1, -1});
    rt::PromptEvent p;
    p.ids = {1, 2, 3};
    p.pieces = {"<s>", "Hi", opensReasoning ? "<think>\n" : "\n"};
    p.opensReasoning = opensReasoning;
    applyEvent(s, p);
    for (size_t i = 0; i < pieces.size(); ++i)
        applyEvent(s, rt::TokenOutEvent{int32_t(100 + i), pieces[i], pieces[i], uint32_t(3 + i), -1.0f});
    return s;
}

const MessageView& reply(const AppState& s) { return s.conv.messages.back(); }

// The chat panel's text in one headless frame (ImGui's log of every text item drawn), with the
// tree nodes opened down to `openDepth` levels as a user clicking them would (0: as drawn).
std::string chatPanelText(AppState& s, int openDepth) {
    std::string text;
    for (int frame = 0; frame < 2; ++frame) {  // a window skips its items in its first frame
        ImGui::NewFrame();
        if (frame == 1) ImGui::LogToClipboard(openDepth);  // headless: ImGui's own clipboard buffer
        UiActions act;
        ImGui::SetNextWindowPos(ImVec2(0, 0));
        ImGui::SetNextWindowSize(ImVec2(900, 1000));
        drawChatPanel(s.chat, s.conv, s.model, s.perf, act);
        if (frame == 1) {
            ImGui::LogFinish();
            text = ImGui::GetClipboardText();
        }
        ImGui::Render();
    }
    return text;
}

struct Headless {
    Headless() {
        ImGui::CreateContext();
        ImGuiIO& io = ImGui::GetIO();
        io.IniFilename = nullptr;
        io.DisplaySize = ImVec2(900, 1000);
        io.DeltaTime = 1.0f / 60;
        unsigned char* px = nullptr;
        int w = 0, h = 0;
        io.Fonts->AddFontDefault();
        io.Fonts->GetTexDataAsRGBA32(&px, &w, &h);
    }
    ~Headless() { ImGui::DestroyContext(); }
};

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

}  // namespace

TEST_CASE("ui reply: think tags split the streaming reply into reasoning and answer") {
    AppState s = replied(tagsFormat(), {"<think>", "Let", " me", " see"});
    CHECK(s.conv.replyFormat.syntax == ReplyFormat::Syntax::Tags);  // from the model's facts
    CHECK_FALSE(s.conv.replyOpensReasoning);
    CHECK(reply(s).inReasoning);
    CHECK(reply(s).reasoning == "Let me see");
    CHECK(reply(s).content.empty());

    // "</think>" arrives in two tokens: the first is markup once the marker is complete, the
    // second starts in it and goes on into the answer, so it is of the answer
    for (const char* t : {"</th", "ink>\n\nThe", " answer", "."})
        applyEvent(s, rt::TokenOutEvent{7, t, t, uint32_t(3 + reply(s).tokenText.size()), -1.0f});
    const MessageView& m = reply(s);
    CHECK_FALSE(m.inReasoning);
    CHECK(m.raw == "<think>Let me see</think>\n\nThe answer.");
    CHECK(m.reasoning == "Let me see");
    CHECK(m.content == "The answer.");
    CHECK(m.toolCalls.empty());
    CHECK(m.firstPos == 3);
    CHECK(m.endPos == 11);
    CHECK(m.tokenText == std::vector<TextRange>{{0, 7}, {7, 10}, {10, 13}, {13, 17}, {17, 21}, {21, 30}, {30, 37}, {37, 38}});
    CHECK(tokenParts(m) ==
          std::vector<P>{P::Markup, P::Reasoning, P::Reasoning, P::Reasoning, P::Markup, P::Answer, P::Answer, P::Answer});

    // the next turn sends the answer and the reasoning apart; the template decides what it keeps
    s.chat.settings.system = "be brief";
    s.conv.messages.push_back({"user", "More?", -1, -1});
    const auto msgs = chatMessages(s.conv, s.chat.settings);
    REQUIRE(msgs.size() == 4);
    CHECK(msgs[0].role == "system");
    CHECK(msgs[2].role == "assistant");
    CHECK(msgs[2].content == "The answer.");
    CHECK(msgs[2].reasoning == "Let me see");
    CHECK(msgs[3].content == "More?");
    CHECK(msgs[3].reasoning.empty());
}

TEST_CASE("ui reply: a prompt that opens the thinking block starts the reply in reasoning") {
    // DeepSeek-R1's generation prompt ends with "<think>\n": no marker in the reply opens it
    AppState s = replied(tagsFormat(), {"Hmm", ",", " ok"}, true);
    CHECK(s.conv.replyOpensReasoning);
    CHECK(reply(s).inReasoning);
    CHECK(reply(s).reasoning == "Hmm, ok");
    CHECK(reply(s).content.empty());
    CHECK(tokenParts(reply(s)) == std::vector<P>{P::Reasoning, P::Reasoning, P::Reasoning});
    for (const char* t : {"</think>", "\n\n", "Hi", "!"})
        applyEvent(s, rt::TokenOutEvent{7, t, t, uint32_t(3 + reply(s).tokenText.size()), -1.0f});
    CHECK_FALSE(reply(s).inReasoning);
    CHECK(reply(s).reasoning == "Hmm, ok");
    CHECK(reply(s).content == "Hi!");
    CHECK(tokenParts(reply(s)) ==
          std::vector<P>{P::Reasoning, P::Reasoning, P::Reasoning, P::Markup, P::Answer, P::Answer, P::Answer});

    // the same tokens after a prompt that does not open it: all answer
    AppState plain = replied(tagsFormat(), {"Hmm", ",", " ok"}, false);
    CHECK(reply(plain).content == "Hmm, ok");
    CHECK(reply(plain).reasoning.empty());
    CHECK_FALSE(reply(plain).inReasoning);
}

TEST_CASE("ui reply: a tool-call block becomes a call, its tokens are of the call") {
    AppState s = replied(tagsFormat(), {"Checking", ".\n", "<tool_call>", "\n{\"name\": \"get_weather\", ",
                                        "\"arguments\": {\"city\": \"Paris\"}}\n", "</tool_call>"});
    const MessageView& m = reply(s);
    CHECK(m.content == "Checking.");
    REQUIRE(m.toolCalls.size() == 1);
    CHECK(m.toolCalls[0].name == "get_weather");
    CHECK(nlohmann::json::parse(m.toolCalls[0].arguments) == nlohmann::json{{"city", "Paris"}});
    CHECK(tokenParts(m) == std::vector<P>{P::Answer, P::Answer, P::Markup, P::ToolCall, P::ToolCall, P::Markup});
    const auto msgs = chatMessages(s.conv, s.chat.settings);
    REQUIRE(msgs.size() == 2);
    CHECK(msgs[1].toolCalls == m.toolCalls);
    CHECK(msgs[1].content == "Checking.");
}

TEST_CASE("ui reply: harmony channels: analysis is reasoning, final the answer, commentary to= a tool call") {
    // the session streams the control tokens' text for harmony replies
    AppState s = replied(harmonyFormat(), {"<|channel|>", "analysis", "<|message|>", "User", " greets", ".", "<|end|>",
                                           "<|start|>", "assistant", "<|channel|>", "final", "<|message|>", "Hello",
                                           "!", "<|return|>"});
    const MessageView& m = reply(s);
    CHECK(m.reasoning == "User greets.");
    CHECK(m.content == "Hello!");
    CHECK(m.toolCalls.empty());
    CHECK_FALSE(m.inReasoning);
    const std::vector<P> M(3, P::Markup);
    std::vector<P> want = M;
    for (int i = 0; i < 3; ++i) want.push_back(P::Reasoning);
    for (int i = 0; i < 6; ++i) want.push_back(P::Markup);  // <|end|> to <|message|>
    want.insert(want.end(), {P::Answer, P::Answer, P::Markup});
    CHECK(tokenParts(m) == want);

    // still in the analysis channel: thinking
    AppState t = replied(harmonyFormat(), {"<|channel|>", "analysis", "<|message|>", "Need", " weather"});
    CHECK(reply(t).inReasoning);
    CHECK(reply(t).reasoning == "Need weather");

    // analysis, then a call to a function in the commentary channel
    AppState c = replied(harmonyFormat(), {"<|channel|>", "analysis", "<|message|>", "Need weather.", "<|end|>",
                                           "<|start|>", "assistant", "<|channel|>", "commentary",
                                           " to=functions.get_weather", " <|constrain|>", "json", "<|message|>",
                                           "{\"city\":", " \"Paris\"}", "<|call|>"});
    const MessageView& cm = reply(c);
    CHECK(cm.reasoning == "Need weather.");
    CHECK(cm.content.empty());
    REQUIRE(cm.toolCalls.size() == 1);
    CHECK(cm.toolCalls[0].name == "get_weather");
    CHECK(cm.toolCalls[0].arguments == "{\"city\": \"Paris\"}");
    const auto parts = tokenParts(cm);
    REQUIRE(parts.size() == 16);
    CHECK(parts[3] == P::Reasoning);
    CHECK(parts[8] == P::Markup);  // the channel's name
    CHECK(parts[13] == P::ToolCall);
    CHECK(parts[14] == P::ToolCall);
    CHECK(parts[15] == P::Markup);
    const auto msgs = chatMessages(c.conv, c.chat.settings);
    CHECK(msgs.back().reasoning == "Need weather.");
    CHECK(msgs.back().toolCalls == cm.toolCalls);
}

TEST_CASE("ui reply: completions are raw text; a context shift keeps each token's place in the reply") {
    // completion mode continues the text: markers in it are text
    AppState s;
    applyEvent(s, rt::ModelLoadedEvent{factsWith(tagsFormat())});
    s.conv.messages.push_back({"user", "Once", -1, -1});
    MessageView cont{"assistant", "", -1, -1};
    cont.completion = true;
    s.conv.messages.push_back(cont);
    rt::PromptEvent p;
    p.ids = {1, 2};
    p.pieces = {"<s>", "Once"};
    applyEvent(s, p);
    for (const char* t : {" <think>", " upon ", " a"})
        applyEvent(s, rt::TokenOutEvent{5, t, t, uint32_t(2 + reply(s).tokenText.size()), -1.0f});
    CHECK(reply(s).content == " <think> upon  a");
    CHECK(reply(s).reasoning.empty());
    CHECK(completionText(s.conv) == "Once <think> upon  a");

    // positions 4 and 5 (the second and third generated tokens) are cut: the rest move down
    AppState r = replied(tagsFormat(), {"<think>", "a", "b", "</think>", "c"});
    applyEvent(r, rt::ContextShiftEvent{4, 2});
    const MessageView& m = reply(r);
    CHECK(m.firstPos == 3);
    CHECK(m.endPos == 6);
    CHECK(m.tokenText == std::vector<TextRange>{{0, 7}, {9, 17}, {17, 18}});
    CHECK(tokenParts(m) == std::vector<P>{P::Markup, P::Markup, P::Answer});
    CHECK(m.reasoning == "ab");  // the text stays whole
}

TEST_CASE("ui reply: conversation files keep reasoning and tool calls; older files load") {
    const auto dir = std::filesystem::temp_directory_path() / ("moescope_ui_reply_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    AppState s = replied(tagsFormat(), {"<think>", "Plan", "</think>", "Calling", "<tool_call>",
                                        "{\"name\": \"f\", \"arguments\": {\"x\": 1}}", "</tool_call>"});
    s.chat.settings.thinking = 0;
    s.chat.settings.reasoningEffort = "high";
    const std::string path = (dir / "c.json").string();
    REQUIRE(saveConversation(path, s.conv, s.chat.settings).ok());
    const nlohmann::json j = conversationToJson(s.conv, s.chat.settings);
    CHECK(j["version"] == 1);
    CHECK(j["thinking"] == "off");
    CHECK(j["messages"][0].size() == 2);  // a user message has only role and content
    CHECK(j["messages"][1]["reasoning"] == "Plan");
    CHECK(j["messages"][1]["tool_calls"][0]["name"] == "f");
    CHECK(j["messages"][1]["raw"] == reply(s).raw);

    Conversation c2;
    c2.replyFormat = harmonyFormat();  // the loaded model's: kept
    ChatSettings cs2;
    REQUIRE(loadConversation(path, c2, cs2).ok());
    CHECK(c2.replyFormat.syntax == ReplyFormat::Syntax::Harmony);
    REQUIRE(c2.messages.size() == 2);
    const MessageView& m = c2.messages[1];
    CHECK(m.content == "Calling");
    CHECK(m.reasoning == "Plan");
    CHECK(m.toolCalls == reply(s).toolCalls);
    CHECK(m.raw == reply(s).raw);
    CHECK(m.firstPos == -1);
    CHECK(cs2.thinking == 0);
    CHECK(cs2.reasoningEffort == "high");
    const auto msgs = chatMessages(c2, cs2);
    CHECK(msgs[1].reasoning == "Plan");
    CHECK(msgs[1].toolCalls.size() == 1);

    // a file written before replies had parts: no reasoning, no calls, the template's default thinking
    std::ofstream(dir / "old.json") << R"({"format": "moescope-conversation", "version": 1, "mode": "chat",
        "system": "", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]})";
    REQUIRE(loadConversation((dir / "old.json").string(), c2, cs2).ok());
    REQUIRE(c2.messages.size() == 2);
    CHECK(c2.messages[1].content == "Hello");
    CHECK(c2.messages[1].reasoning.empty());
    CHECK(c2.messages[1].toolCalls.empty());
    CHECK(cs2.thinking == 0);  // not in the file: as it was
    CHECK(chatMessages(c2, cs2)[1].content == "Hello");

    // hand-written arguments as an object are kept as JSON text; wrong types are refused
    std::ofstream(dir / "obj.json") << R"({"format": "moescope-conversation", "messages": [{"role": "assistant",
        "content": "", "tool_calls": [{"name": "g", "arguments": {"a": [1, 2]}}]}]})";
    REQUIRE(loadConversation((dir / "obj.json").string(), c2, cs2).ok());
    REQUIRE(c2.messages[0].toolCalls.size() == 1);
    CHECK(nlohmann::json::parse(c2.messages[0].toolCalls[0].arguments) == nlohmann::json{{"a", {1, 2}}});
    std::ofstream(dir / "bad.json") << R"json({"format": "moescope-conversation", "messages": [{"role": "assistant",
        "content": "", "tool_calls": "f()"}]})json";
    CHECK_FALSE(loadConversation((dir / "bad.json").string(), c2, cs2).ok());
    CHECK(c2.messages[0].toolCalls.size() == 1);  // a refused file changes nothing

    // the thinking controls persist with the other chat settings
    const std::string settings = (dir / "settings.json").string();
    saveSettings(settings, s);
    AppState back;
    loadSettings(settings, back);
    CHECK(back.chat.settings.thinking == 0);
    CHECK(back.chat.settings.reasoningEffort == "high");
    std::filesystem::remove_all(dir);
}

TEST_CASE("ui reply: the thinking controls go into the generate command for models that reason") {
    AppState s = replied(harmonyFormat(), {"<|channel|>", "final", "<|message|>", "Hi", "<|return|>"});
    s.conv.messages.push_back({"user", "Again", -1, -1});
    s.chat.settings.thinking = 1;
    s.chat.settings.reasoningEffort = "low";
    rt::GenerateCmd g = generateCommand(s);
    CHECK_FALSE(g.completion);
    CHECK(g.chatOptions.thinking == 1);
    CHECK(g.chatOptions.reasoningEffort == "low");
    REQUIRE(g.conversation.size() == 3);
    CHECK(g.conversation[1].content == "Hi");

    // think tags: no effort (gpt-oss only); a model without reasoning: the template's defaults
    s.model.facts->replyFormat = tagsFormat();
    g = generateCommand(s);
    CHECK(g.chatOptions.thinking == 1);
    CHECK(g.chatOptions.reasoningEffort.empty());
    s.model.facts->replyFormat = ReplyFormat{};
    g = generateCommand(s);
    CHECK(g.chatOptions.thinking == -1);
    s.model.facts->replyFormat = tagsFormat();
    s.chat.settings.completion = true;
    g = generateCommand(s);
    CHECK(g.completion);
    CHECK(g.chatOptions.thinking == -1);

    // a new chat keeps the model's reply format
    AppState n = replied(tagsFormat(), {"x"});
    rt::Session session;
    UiActions act;
    act.newChat = true;
    handleActions(n, act, session);
    CHECK(n.conv.messages.empty());
    CHECK(n.conv.replyFormat.syntax == ReplyFormat::Syntax::Tags);
}

TEST_CASE("ui reply: the state dump has each reply's parts and the template facts") {
    AppState s = replied(tagsFormat(), {"Mulling", " it"}, true);
    s.model.facts->templateWarning = "bad template; using the built-in chatml format of its family";
    const nlohmann::json d = dumpState(s, Autorun{}, AppOptions{}, Screenshot{}, 0, "test");
    CHECK(d["generated_text"] == "Mulling it");
    const auto& m = d["messages"].back();
    CHECK(m["role"] == "assistant");
    CHECK(m["reasoning"] == "Mulling it");
    CHECK(m["content"] == "");
    CHECK(m["tool_calls"].empty());
    CHECK(m["in_reasoning"] == true);
    CHECK(m["token_parts"] == nlohmann::json{"reasoning", "reasoning"});
    CHECK(d["model"]["template_jinja"] == true);
    CHECK(d["model"]["template_line"] == "template: the model's own (Jinja), chatml family");
    CHECK(d["model"]["reply_format"] == tagsFormat().describe());
    CHECK(d["model"]["template_warning"] == "bad template; using the built-in chatml format of its family");
    s.model.facts->templateJinja = false;
    CHECK(templateLine(*s.model.facts) == "template: built-in chatml");
}

TEST_CASE("ui reply: the chat panel shows thinking collapsed, the answer, tool calls in frames, the warning") {
    Headless gui;
    // streaming, still inside its reasoning
    AppState s = replied(tagsFormat(), {"<think>", "Pondering", " deeply"});
    s.chat.generating = true;
    std::string text = chatPanelText(s, 0);
    CHECK(has(text, "Thinking..."));
    CHECK_FALSE(has(text, "Pondering"));  // collapsed by default
    CHECK(has(text, "template: the model's own (Jinja), chatml family"));
    CHECK(has(text, "template default"));  // the thinking control of a model that reasons
    CHECK_FALSE(has(text, "Reasoning effort"));
    text = chatPanelText(s, 8);  // opened, its tokens are chips
    CHECK(has(text, "Pondering"));

    // done: the count of reasoning tokens, the answer as chips, the call in its frame, no markers
    for (const char* t : {"</think>", "Sure", "<tool_call>", "{\"name\": \"lookup\", \"arguments\": {\"q\": \"moe\"}}",
                          "</tool_call>"})
        applyEvent(s, rt::TokenOutEvent{9, t, t, uint32_t(3 + reply(s).tokenText.size()), -1.0f});
    s.chat.generating = false;
    text = chatPanelText(s, 0);
    CHECK(has(text, "Thinking (2 tokens)"));
    CHECK(has(text, "Sure"));
    CHECK(has(text, "tool call: lookup"));
    CHECK(has(text, "\"q\": \"moe\""));  // the arguments indented as JSON
    CHECK_FALSE(has(text, "<think>"));
    CHECK_FALSE(has(text, "<tool_call>"));
    CHECK_FALSE(has(text, "{\"name\""));

    // a tool-call block still being written
    AppState w = replied(tagsFormat(), {"<tool_call>", "{\"name\": \"loo"});
    w.chat.generating = true;
    text = chatPanelText(w, 0);
    CHECK(has(text, "tool call: ... (being written)"));
    CHECK_FALSE(has(text, "> Thinking"));  // no reasoning: no thinking node (the log marks nodes with ">")
    CHECK_FALSE(has(text, "(no answer"));

    // a reply loaded from a file (no tokens): its text; the template's fallback warning; harmony's effort
    AppState l;
    applyEvent(l, rt::ModelLoadedEvent{factsWith(harmonyFormat())});
    l.model.facts->templateJinja = false;
    l.model.facts->templateWarning = "unknown tag; using the built-in chatml format of its family";
    MessageView loaded{"assistant", "Loaded answer", -1, -1};
    loaded.reasoning = "Loaded reasoning";
    loaded.toolCalls = {{"", "not json"}};
    l.conv.messages = {{"user", "Q", -1, -1}, loaded};
    text = chatPanelText(l, 8);
    CHECK(has(text, "template: built-in chatml"));
    CHECK(has(text, "unknown tag; using the built-in chatml format of its family"));
    CHECK(has(text, "Reasoning effort"));
    CHECK(has(text, "Loaded reasoning"));
    CHECK(has(text, "Loaded answer"));
    CHECK(has(text, "tool call: (unreadable)"));
    CHECK(has(text, "not json"));
    // completion mode: the template and its controls do not apply
    l.chat.settings.completion = true;
    text = chatPanelText(l, 0);
    CHECK_FALSE(has(text, "using the built-in"));
    CHECK_FALSE(has(text, "Reasoning effort"));
}
