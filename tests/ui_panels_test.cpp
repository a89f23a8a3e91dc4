// The GUI without a window: session events applied to the GUI state (conversation, routing,
// expert cache), conversation files, the routing trace (version 1) and its policy text, the state
// dump, and every panel drawn headless (ImGui without a renderer) in empty, full and
// hovered/clicked states; then the panels' actions through a real engine session on the bundled
// model (skipped without a usable Vulkan device). Registered by ui/CMakeLists.txt (label gui).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <unistd.h>

#include <imgui.h>
#include <imgui_internal.h>

#include "ui/autorun.h"
#include "ui/controller.h"
#include "ui/conversation.h"
#include "platform/paths.h"
#include "trace/cache_sim.h"
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

constexpr uint32_t kSlots = 4;
constexpr uint64_t kExpertBytes = 1000;

rt::CacheConfigEvent cacheConfig(bool enabled) {
    rt::CacheConfigEvent c;
    c.available = true;
    c.enabled = enabled;
    c.layers = kLayers;
    c.experts = kExperts;
    c.expertsUsed = kK;
    c.slots = enabled ? kSlots : kExperts;
    c.expertBytes = kExpertBytes;
    c.routedBytes = kExpertBytes * kExperts * kLayers;
    c.slotBytes = enabled ? kExpertBytes * kSlots * kLayers : 0;
    c.fresh = true;
    return c;
}

// A cache step as the engine reports it: in each layer `hits` of the `accesses` hit.
rt::CacheStepEvent cacheStep(bool prefill, uint32_t pos0, uint32_t nTok, uint64_t accesses, uint64_t hits) {
    rt::CacheStepEvent e;
    e.prefill = prefill;
    e.pos0 = pos0;
    e.nTok = nTok;
    for (uint32_t il = 0; il < kLayers; ++il) {
        cache::CacheStats st;
        st.accesses = accesses;
        st.hits = hits;
        st.misses = accesses - hits;
        st.evictions = st.misses / 2;
        st.bytesUploaded = st.misses * kExpertBytes;
        e.layers.push_back(st);
        std::vector<cache::SlotView> row(kSlots);
        for (uint32_t k = 0; k < kSlots; ++k) {
            row[k].expert = k + 1 < kSlots ? int32_t((pos0 + il + k) % kExperts) : -1;
            row[k].last = k == 0 ? cache::SlotEvent::Hit : k == 1 ? cache::SlotEvent::Miss
                        : k == 2 ? cache::SlotEvent::Prefetched : cache::SlotEvent::Empty;
        }
        e.slots.push_back(std::move(row));
    }
    return e;
}

// filledState with an expert cache of 4 slots: a prefill of 5 tokens and 3 decode steps.
AppState cachedState() {
    AppState s = filledState();
    applyEvent(s, cacheConfig(true));
    applyEvent(s, cacheStep(true, 0, 5, 8, 2));
    for (uint32_t i = 0; i < 3; ++i) applyEvent(s, cacheStep(false, 5 + i, 1, 2, 1));
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
        at(0, 20, 430, 500);
        drawChatPanel(s.chat, s.conv, s.model, s.perf, act);
        at(0, 520, 430, 280);
        drawModelPanel(s.model, act);
        at(430, 20, 425, 300);
        drawHeatmapPanel(s.conv, s.routing);
        at(855, 20, 425, 300);
        drawHistoryPanel(s.conv);
        at(430, 320, 425, 240);
        drawExpertLoadPanel(s.conv);
        at(855, 320, 425, 240);
        drawPolicyPanel(s.routing, s.model, act);
        at(430, 560, 425, 240);
        drawCachePanel(s.cache, s.model, s.conv, act);
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

    // the routing trace: version 1 through engine/trace, in both forms, with the context's tokens
    for (const char* name : {"t.jsonl", "t.mstrace"}) {
        const std::string trace = (dir / name).string();
        auto n = exportTrace(trace, s.conv, traceInfo(s));
        REQUIRE_MESSAGE(n.ok(), (n.ok() ? std::string() : n.error().message));
        CHECK(n.value() == 8);  // every routed token
        auto tr = trace::readTrace(trace);
        REQUIRE_MESSAGE(tr.ok(), (tr.ok() ? std::string() : tr.error().message));
        const trace::Trace& t = tr.value();
        CHECK(t.info.nLayer == kLayers);
        CHECK(t.info.nExpert == kExperts);
        CHECK(t.info.kMax == kK);
        CHECK(t.info.k == kK);
        CHECK(t.info.model == "test");
        CHECK(t.info.arch == "qwen2moe");
        CHECK(t.info.policy == "model");
        CHECK(t.info.mode == "generated");
        CHECK(t.info.backend == "Vulkan (test)");
        REQUIRE(t.nTokens() == 8);
        for (size_t i = 0; i < 8; ++i) {
            CHECK(t.positions[i] == int32_t(i));
            CHECK(t.tokens[i] == s.conv.tokens[i].id);
            CHECK(t.pieces[i] == s.conv.tokens[i].piece);
            CHECK(t.idsAt(i, 1)[0] == s.conv.tokens[i].ids[1 * kK]);
        }
    }
    if (std::ifstream f(dir / "t.jsonl"); f) {
        std::string header;
        std::getline(f, header);
        auto j = nlohmann::json::parse(header);
        CHECK(j["format"] == "moescope-trace");
        CHECK(j["version"] == 1);
    }
    CHECK_FALSE(exportTrace((dir / "e.jsonl").string(), Conversation{}, traceInfo(s)).ok());  // nothing evaluated

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

TEST_CASE("ui: the routing controls are engine policies, and their text in a trace header") {
    AppState s = filledState();
    REQUIRE(s.routing.policies.size() == kLayers);
    for (const auto& p : s.routing.policies) CHECK(p.isModel());
    CHECK(routingText(s.routing.policies, kK) == "model");
    auto parse = [](const char* text) {
        auto p = routing::parsePolicy({text});
        REQUIRE(p.ok());
        return p.value();
    };
    std::vector<routing::Policy> ps(kLayers, parse("topk:3"));
    CHECK(routingText(ps, kK) == "topk:3");
    ps[2] = parse("topk:1");
    CHECK(routingText(ps, kK) == "topk:3,3,1,3");
    ps[0] = routing::Policy{};  // the model's gating: its own k in the per-layer list
    ps[1] = parse("topk:3 mask:*:4,5");
    CHECK(routingText(ps, kK) == "topk:2,3,1,3 mask:1:4,5");
    std::vector<routing::Policy> pp(kLayers, parse("topp:0.5:4 mask:*:1"));
    CHECK(routingText(pp, kK) == "topp:0.5:4 mask:*:1");
    pp[3] = parse("topp:0.5:4");
    CHECK(routingText(pp, kK) == "topp:0.5:4 mask:0:1 mask:1:1 mask:2:1");
    pp[3] = parse("topk:2");  // top-p and top-k mixed: no single policy, one per layer
    CHECK(routingText(pp, kK) == "topp:0.5:4 mask:*:1 | topp:0.5:4 mask:*:1 | topp:0.5:4 mask:*:1 | topk:2");
    // every text the engine gets parses and resolves against the model
    ModelConfig cfg;
    cfg.block_count = kLayers;
    cfg.expert_count = kExperts;
    cfg.expert_used_count = kK;
    for (const auto* set : {&ps, &pp})
        for (const auto& p : *set) CHECK(routing::resolve(p, cfg).ok());
}

TEST_CASE("ui: cache events build the cache panel's state, and the state dump carries it") {
    AppState s = cachedState();
    const CacheState& c = s.cache;
    CHECK(c.known);
    CHECK(c.budget == int32_t(kSlots));
    REQUIRE(c.totals.size() == kLayers);
    CHECK(c.totals[0].accesses == 8 + 3 * 2);
    CHECK(c.totals[0].hits == 2 + 3 * 1);
    CHECK(c.tokens == 8);
    REQUIRE(c.steps.size() == 4);
    CHECK(c.steps[0].prefill);
    CHECK(c.steps[0].stats.accesses == 8 * kLayers);
    CHECK(c.steps[3].slots == kSlots);
    REQUIRE(c.slots.size() == kLayers);
    CHECK(c.slots[0].size() == kSlots);

    nlohmann::json d = dumpState(s, Autorun{}, AppOptions{}, Screenshot{}, 0, "test");
    const auto& j = d["cache"];
    REQUIRE(j.is_object());
    CHECK(j["enabled"] == true);
    CHECK(j["budget"] == kSlots);
    CHECK(j["policy"] == "lru");
    CHECK(j["prefetch"] == false);
    CHECK(j["accesses"] == 14 * kLayers);
    CHECK(j["hits"].get<uint64_t>() + j["misses"].get<uint64_t>() == j["accesses"].get<uint64_t>());
    CHECK(j["hit_rate"].get<double>() == doctest::Approx(5.0 / 14));
    CHECK(j["bytes_per_token"].get<double>() == doctest::Approx(9.0 * kLayers * kExpertBytes / 8));
    REQUIRE(j["layers"].size() == kLayers);
    CHECK(j["layers"][1]["evictions"] == 3);
    CHECK(j["layers"][1]["slots"][0]["last"] == "hit");
    CHECK(j["layers"][1]["slots"][3]["expert"] == -1);
    CHECK(j["timeline"].size() == 4);
    CHECK(j["legend"]["hit"].get<std::string>().size() == 7);
    CHECK(d["routing_policy"] == "model");

    // a budget change (reload) keeps the routing and the timeline; the new cache starts empty
    AppState r = cachedState();
    r.routing.policies[1].selection = routing::Policy::Selection::TopK;
    rt::ModelLoadedEvent again{*r.model.facts, true};
    applyEvent(r, again);
    CHECK(r.routing.policies[1].selection == routing::Policy::Selection::TopK);
    CHECK(r.conv.tokens.size() == 9);
    auto six = cacheConfig(true);
    six.slots = 6;
    applyEvent(r, six);
    CHECK(r.cache.steps.size() == 4);
    CHECK(r.cache.slots.empty());
    CHECK(r.cache.tokens == 0);
    CHECK(r.cache.budget == 6);
    applyEvent(r, cacheStep(true, 0, 9, 8, 0));
    CHECK(r.cache.steps.back().slots == 6);
    // a new model starts over
    applyEvent(r, rt::ModelLoadedEvent{*r.model.facts, false});
    CHECK(r.cache.steps.empty());
    CHECK_FALSE(r.cache.known);
    CHECK(r.routing.policies[1].isModel());
    // notices go to the panel they concern
    applyEvent(r, rt::NoticeEvent{"no static", rt::NoticeEvent::About::Cache});
    CHECK(r.cache.notice == "no static");
    CHECK(r.routing.notice.empty());
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

    // the expert cache: live, choosing static's source, every expert resident, CPU reference
    AppState cached = cachedState();
    for (int i = 0; i < 2; ++i) gui.frame(cached);
    for (ImVec2 m : {ImVec2(520, 720), ImVec2(700, 780), ImVec2(600, 650)}) gui.frame(cached, m);
    cached.cache.choosingStatic = true;
    cached.cache.notice = "static cache policy not applied: no trace";
    gui.frame(cached);
    cached.cache.staticFromConversation = false;
    gui.frame(cached);
    applyEvent(cached, cacheConfig(false));
    gui.frame(cached);
    auto cpu = cacheConfig(false);
    cpu.available = false;
    applyEvent(cached, cpu);
    gui.frame(cached);

    // many layers and experts, a load error, profiling off
    s.model.error = "bad file";
    s.perf.profile = false;
    s.conv.nLayer = 48;
    s.conv.nExpert = 128;
    s.conv.tokens.clear();
    gui.frame(s);
}

namespace {

// Applies the session's events to the state until `done` holds (two minutes at most).
bool pump(rt::Session& session, AppState& s, const std::function<bool()>& done) {
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120)) {
        for (auto& e : session.poll()) applyEvent(s, e);
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

void reply(rt::Session& session, AppState& s, const std::string& text) {
    UiActions act;
    s.chat.input = text;
    act.send = true;
    const uint32_t before = s.chat.repliesDone;
    handleActions(s, act, session);
    REQUIRE(pump(session, s, [&] { return s.chat.repliesDone > before; }));
    CHECK_MESSAGE(s.chat.lastError.empty(), s.chat.lastError);
    CHECK(s.perf.engineValidationMessages == 0);
}

}  // namespace

TEST_CASE("ui: the cache and routing controls reach the engine, a budget change keeps the conversation") {
    const std::string model = bundledModelPath();
    if (!std::filesystem::exists(model)) return;  // an install without the bundled model
    rt::Session session;
    AppState s;
    s.chat.settings.completion = true;
    s.chat.settings.sampler = rt::SamplerParams{};  // greedy
    s.chat.settings.maxTokens = 12;
    s.cache.request.slots = 4;
    requestLoad(s, session, model);
    {
        // the same load with prefill batches of 4 tokens: a prompt runs in several cache steps
        rt::LoadModelCmd again;
        again.path = model;
        again.backend.expertCache = s.cache.request;
        again.backend.maxBatch = 4;
        session.post(again);
    }
    REQUIRE(pump(session, s, [&] { return !s.model.loading && s.cache.known; }));
    if (!s.model.facts) {
        MESSAGE("no usable Vulkan device: " << s.model.error);
        return;
    }
    REQUIRE(s.cache.config.enabled);
    CHECK(s.cache.config.slots == 4);
    reply(session, s, "Once upon a time");
    const std::string first = s.conv.messages.back().content;
    CHECK(!first.empty());
    CHECK(s.cache.steps.size() > 1);
    CHECK(s.cache.steps.front().freshCache);
    CHECK(s.cache.steps[1].prefill);

    // the exported trace has the engine's cache steps with their live counters, and the offline
    // simulator replays its routing to the same counters
    auto tr = conversationTrace(s.conv, traceInfo(s), &s.cache.steps);
    REQUIRE(tr.ok());
    CHECK(tr.value().nSteps() == s.cache.steps.size());
    REQUIRE(tr.value().cache.size() == tr.value().nSteps() * s.model.facts->layers);
    auto rep = cache::replay(tr.value(), cache::Policy::LRU, 4, cache::SimOptions{});
    REQUIRE(rep.ok());
    for (size_t i = 0; i < tr.value().cache.size(); ++i) {
        CHECK(rep.value().perStep[i].hits == tr.value().cache[i].hits);
        CHECK(rep.value().perStep[i].evictions == tr.value().cache[i].evictions);
    }

    // static learns its hot set from this conversation; prefetch on; a routing mask through the
    // engine's policy code
    UiActions act;
    act.cachePolicy = cache::Policy::Static;
    act.prefetch = true;
    routing::Policy masked = defaultRoutingControls(2);
    masked.interventions.push_back({routing::Intervention::Kind::Mask, -1, {0, 1}, 1.0f});
    s.routing.policies.assign(s.model.facts->layers, masked);
    act.routingChanged = true;
    handleActions(s, act, session);
    REQUIRE(pump(session, s, [&] { return s.cache.config.prefetch && s.cache.config.policy == cache::Policy::Static; }));
    CHECK(s.cache.config.staticSource.find("this conversation") == 0);
    CHECK(s.cache.notice.empty());

    // a new budget: the model is rebuilt, the conversation, routing and policy stay
    UiActions budget;
    budget.cacheBudget = 6;
    handleActions(s, budget, session);
    CHECK(s.model.loading);
    REQUIRE(pump(session, s, [&] { return !s.model.loading && s.cache.config.slots == 6; }));
    CHECK(s.model.error.empty());
    CHECK(s.cache.config.policy == cache::Policy::Static);
    CHECK(s.cache.config.prefetch);
    CHECK(s.conv.messages.size() == 2);
    CHECK(s.routing.policies[0].interventions.size() == 1);
    reply(session, s, " The end.");
    for (const auto& t : s.conv.tokens)
        for (uint32_t il = 0; t.routed && il < s.conv.nLayer; ++il)
            for (uint32_t j = 0; j < t.kMax; ++j) CHECK(t.ids[size_t(il) * t.kMax + j] > 1);  // 0 and 1 masked
    CHECK(s.cache.steps.back().slots == 6);

    // a budget below the experts per token is refused in the panel's notice; the model stays
    UiActions tooSmall;
    tooSmall.cacheBudget = 1;
    handleActions(s, tooSmall, session);
    REQUIRE(pump(session, s, [&] { return !s.model.loading; }));
    CHECK(s.cache.notice.find("slots") != std::string::npos);
    CHECK(s.model.facts.has_value());
}
