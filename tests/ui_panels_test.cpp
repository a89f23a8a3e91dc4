// The GUI without a window: session events applied to the GUI state, conversation files and
// the routing trace, and every panel drawn headless (ImGui without a renderer) in empty, full and
// hovered/clicked states. Registered by ui/CMakeLists.txt (label gui).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <imgui.h>
#include <imgui_internal.h>

#include "ui/controller.h"
#include "ui/conversation.h"
#include "ui/panels.h"
#include "ui/settings.h"

using namespace moe;
using namespace moe::ui;

namespace {

constexpr uint32_t kLayers = 4, kExperts = 16, kK = 2;

rt::ModelFacts facts() {
    rt::ModelFacts f;
    f.path = "/models/test.gguf";
    f.name = "test";
    f.arch = "qwen2moe";
    f.backend = "Vulkan (test)";
    f.layers = kLayers;
    f.experts = kExperts;
    f.expertsUsed = kK;
    f.tensorTypes = {{"F32", 10}, {"Q8_0", 20}};
    f.chatTemplate = "chatml";
    return f;
}

rt::TokenRoutingEvent routingAt(uint32_t pos, int32_t token) {
    rt::TokenRoutingEvent r;
    r.position = pos;
    r.token = token;
    r.nLayer = kLayers;
    r.kMax = kK;
    r.nExpert = kExperts;
    for (uint32_t il = 0; il < kLayers; ++il) {
        r.ids.push_back(int32_t((pos + il) % kExperts));
        r.ids.push_back(int32_t((pos * 3 + il + 1) % kExperts));
        r.weights.push_back(0.7f);
        r.weights.push_back(0.3f);
        r.counts.push_back(kK);
        for (uint32_t e = 0; e < kExperts; ++e) r.probs.push_back(1.0f / kExperts);
    }
    return r;
}

// A conversation as the session builds it: prompt of 5 tokens, 4 generated, all but the last routed.
AppState filledState() {
    AppState s;
    applyEvent(s, rt::ModelLoadedEvent{facts()});
    s.conv.messages.push_back({"user", "Hello", -1, -1});
    s.conv.messages.push_back({"assistant", "", -1, -1});
    rt::PromptEvent p;
    p.ids = {1, 10, 11, 12, 13};
    p.pieces = {"<s>", "Hel", "lo", "\n", "ok"};
    applyEvent(s, p);
    for (uint32_t i = 0; i < 5; ++i) applyEvent(s, routingAt(i, p.ids[i]));
    for (uint32_t i = 0; i < 4; ++i) {
        applyEvent(s, rt::TokenOutEvent{int32_t(20 + i), "w" + std::to_string(i), "w" + std::to_string(i), 5 + i, -1.0f});
        if (i < 3) applyEvent(s, routingAt(5 + i, int32_t(20 + i)));
    }
    rt::StatsEvent st;
    st.generatedTokens = 4;
    st.decodeTokPerSec = 12;
    applyEvent(s, st);
    rt::KernelTimesEvent k;
    k.nTok = 1;
    k.kernels = {{"mul_mat", 1.5, 10}, {"router", 0.2, 4}};
    applyEvent(s, k);
    rt::MemoryEvent m;
    m.bytes[size_t(vk::MemoryTag::Weights)] = 1 << 20;
    applyEvent(s, m);
    rt::GenerationDoneEvent d;
    d.stats.generatedTokens = 4;
    d.stats.stopReason = "max tokens";
    applyEvent(s, d);
    return s;
}

struct ImGuiHeadless {
    ImGuiHeadless() {
        ImGui::CreateContext();
        ImGuiIO& io = ImGui::GetIO();
        io.IniFilename = nullptr;
        io.DisplaySize = ImVec2(1280, 800);
        io.DeltaTime = 1.0f / 60;
        unsigned char* px = nullptr;
        int w = 0, h = 0;
        io.Fonts->AddFontDefault();
        io.Fonts->GetTexDataAsRGBA32(&px, &w, &h);
    }
    ~ImGuiHeadless() { ImGui::DestroyContext(); }
    // One frame of every panel, each window at a fixed place so the mouse can be aimed at it.
    UiActions frame(AppState& s, ImVec2 mouse = ImVec2(-FLT_MAX, -FLT_MAX), bool click = false) {
        ImGuiIO& io = ImGui::GetIO();
        io.MousePos = mouse;
        io.MouseDown[0] = click;
        ImGui::NewFrame();
        UiActions act;
        auto at = [](float x, float y, float w, float h) {
            ImGui::SetNextWindowPos(ImVec2(x, y));
            ImGui::SetNextWindowSize(ImVec2(w, h));
        };
        drawMainMenu(s, act);
        at(0, 20, 430, 780);
        drawChatPanel(s.chat, s.conv, s.model, s.perf, act);
        at(430, 20, 425, 300);
        drawHeatmapPanel(s.conv, s.routing);
        at(855, 20, 425, 300);
        drawHistoryPanel(s.conv);
        at(430, 320, 425, 240);
        drawExpertLoadPanel(s.conv);
        at(855, 320, 425, 240);
        drawPolicyPanel(s.routing, s.model, act);
        at(430, 560, 425, 240);
        drawModelPanel(s.model, act);
        at(855, 560, 425, 240);
        drawPerformancePanel(s.perf, act);
        ImGui::Render();
        return act;
    }
};

}  // namespace

TEST_CASE("ui: session events build the conversation with its routing") {
    AppState s = filledState();
    REQUIRE(s.conv.tokens.size() == 9);
    CHECK(s.conv.messages.back().content == "w0w1w2w3");
    CHECK(s.conv.messages.back().firstPos == 5);
    CHECK(s.conv.messages.back().endPos == 9);
    CHECK(s.conv.tokens[7].routed);
    CHECK_FALSE(s.conv.tokens[8].routed);
    CHECK(focusPosition(s.conv) == 7);
    s.conv.pinned = 2;
    CHECK(focusPosition(s.conv) == 2);
    CHECK(s.routing.policies.size() == kLayers);
    CHECK(s.model.recent.front() == "/models/test.gguf");
    CHECK(s.chat.repliesDone == 1);
    CHECK(s.perf.decodeRate.size() == 1);

    // a second reply reusing 7 cached positions keeps their routing and replaces the rest
    rt::PromptEvent p;
    p.ids = {1, 10, 11, 12, 13, 20, 21, 30, 31};
    p.pieces.assign(9, "x");
    p.reused = 7;
    s.conv.messages.push_back({"assistant", "", -1, -1});
    applyEvent(s, p);
    CHECK(s.conv.tokens.size() == 9);
    CHECK(s.conv.tokens[6].routed);
    CHECK_FALSE(s.conv.tokens[7].routed);
    CHECK(s.conv.tokens[8].id == 31);
    CHECK(s.conv.pinned == 2);

    // a stale routing event (a token that is no longer at that position) is ignored
    applyEvent(s, routingAt(8, 99));
    CHECK_FALSE(s.conv.tokens[8].routed);
}

TEST_CASE("ui: conversation files, settings and the routing trace") {
    const auto dir = std::filesystem::temp_directory_path() / ("moescope_ui_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    AppState s = filledState();
    s.chat.settings.system = "be brief";
    s.chat.settings.sampler.temperature = 0.7f;
    const std::string conv = (dir / "c.json").string();
    REQUIRE(saveConversation(conv, s.conv, s.chat.settings).ok());
    Conversation c2;
    ChatSettings cs2;
    REQUIRE(loadConversation(conv, c2, cs2).ok());
    REQUIRE(c2.messages.size() == 2);
    CHECK(c2.messages[1].content == "w0w1w2w3");
    CHECK(cs2.system == "be brief");
    CHECK(cs2.sampler.temperature == doctest::Approx(0.7f));
    auto msgs = chatMessages(c2, cs2);
    REQUIRE(msgs.size() == 3);
    CHECK(msgs[0].role == "system");

    std::ofstream(dir / "bad.json") << "{\"format\": \"something else\"}";
    CHECK_FALSE(loadConversation((dir / "bad.json").string(), c2, cs2).ok());
    CHECK_FALSE(loadConversation((dir / "missing.json").string(), c2, cs2).ok());

    const std::string trace = (dir / "t.jsonl").string();
    auto n = exportTrace(trace, s.conv);
    REQUIRE(n.ok());
    CHECK(n.value() == 8);  // every routed token
    std::ifstream tf(trace);
    std::string line;
    size_t lines = 0;
    while (std::getline(tf, line)) {
        auto j = nlohmann::json::parse(line);
        CHECK(j["v"] == 0);
        CHECK(j["pos"] == lines);
        REQUIRE(j["layers"].size() == kLayers);
        CHECK(j["layers"][0]["ids"].size() == kK);
        CHECK(j["layers"][0]["probs"].size() == kExperts);
        ++lines;
    }
    CHECK(lines == 8);

    const std::string settings = (dir / "settings.json").string();
    s.fontSize = 18;
    s.model.device = 1;
    saveSettings(settings, s);
    AppState r;
    loadSettings(settings, r);
    CHECK(r.fontSize == 18);
    CHECK(r.model.device == 1);
    CHECK(r.model.recent == s.model.recent);
    CHECK(r.chat.settings.system == "be brief");
    std::filesystem::remove_all(dir);
}

TEST_CASE("ui: every panel draws empty, full, hovered and clicked") {
    ImGuiHeadless gui;
    AppState empty;
    for (int i = 0; i < 3; ++i) gui.frame(empty);

    AppState s = filledState();
    for (int i = 0; i < 3; ++i) gui.frame(s);
    // hover the heatmap, the history strip and the load bars
    for (ImVec2 m : {ImVec2(600, 150), ImVec2(1000, 150), ImVec2(600, 420), ImVec2(1000, 700)}) gui.frame(s, m);
    // click a column of the history strip: its token gets pinned
    ImGuiWindow* strip = nullptr;
    for (ImGuiWindow* w : ImGui::GetCurrentContext()->Windows)
        if (std::string(w->Name).find("Routing history") == 0 && std::string(w->Name).find("strip") != std::string::npos)
            strip = w;
    REQUIRE(strip != nullptr);
    const ImVec2 cellAt(strip->Pos.x + 2, strip->Pos.y + 20);
    gui.frame(s, cellAt, false);
    gui.frame(s, cellAt, true);
    gui.frame(s, cellAt, false);
    CHECK(s.conv.pinned == 0);
    for (int i = 0; i < 2; ++i) gui.frame(s);

    // many layers and experts, a load error, profiling off
    s.model.error = "bad file";
    s.perf.profile = false;
    s.conv.nLayer = 48;
    s.conv.nExpert = 128;
    s.conv.tokens.clear();
    gui.frame(s);
}
