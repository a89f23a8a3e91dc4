// The engine thread (runtime/session.h): events of a generation, greedy output equal to the
// generation loop run directly, routing policies applied, load failures keeping the previous
// model, stop, profiling, the CPU reference, closing while a reply streams, and the expert
// cache (per-step telemetry, live policy and prefetch, budget changes by reloading).
#include <doctest/doctest.h>

#include <chrono>
#include <deque>
#include <thread>

#include "runtime/session.h"
#include "synth_models.h"

using namespace moe;
using namespace moe::rt;

namespace {

SynthSpec sessionSpec() {
    SynthSpec s = synthSpecFor(Arch::Qwen2Moe);
    s.n_layer = 3;
    s.n_expert = 8;
    s.n_expert_used = 2;
    s.weightType = GgmlType::Q8_0;
    return s;
}

std::string modelPath() { return test::synthModelPath("session_qwen2moe", sessionSpec()); }

// Collects events until `done` says so (or a minute passes: a failure).
struct Collector {
    std::vector<SessionEvent> all;
    std::deque<SessionEvent> pending;  // polled after the event an until() stopped at
    template <class Pred>
    bool until(Session& s, Pred done) {
        auto t0 = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120)) {
            for (auto& e : s.poll()) pending.push_back(std::move(e));
            while (!pending.empty()) {
                all.push_back(std::move(pending.front()));
                pending.pop_front();
                if (done(all.back())) return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        return false;
    }
    template <class T>
    std::vector<T> of() const {
        std::vector<T> v;
        for (auto& e : all)
            if (auto* p = std::get_if<T>(&e)) v.push_back(*p);
        return v;
    }
};

template <class T>
auto is() {
    return [](const SessionEvent& e) { return std::holds_alternative<T>(e); };
}

void load(Session& s, Collector& c, const std::string& path, bool cpu = false) {
    LoadModelCmd cmd;
    cmd.path = path;
    cmd.backend.cpu = cpu;
    s.post(cmd);
    REQUIRE(c.until(s, [](const SessionEvent& e) {
        return std::holds_alternative<ModelLoadedEvent>(e) || std::holds_alternative<LoadFailedEvent>(e);
    }));
}

GenerationDoneEvent complete(Session& s, Collector& c, const std::string& prompt, int n) {
    GenerateCmd g;
    g.completion = true;
    g.prompt = prompt;
    g.params.maxTokens = n;
    s.post(g);
    REQUIRE(c.until(s, is<GenerationDoneEvent>()));
    auto d = std::get<GenerationDoneEvent>(c.all.back());
    CHECK_MESSAGE(d.error.empty(), d.error);
    CHECK(d.validationMessages == 0);
    return d;
}

}  // namespace

TEST_CASE("session: a greedy completion streams tokens and routing, equal to the generation loop") {
    Session s;
    Collector c;
    load(s, c, modelPath());
    auto loaded = c.of<ModelLoadedEvent>();
    REQUIRE(loaded.size() == 1);
    CHECK(loaded[0].facts.layers == 3);
    CHECK(loaded[0].facts.experts == 8);
    CHECK(loaded[0].facts.sharedExperts == 1);
    CHECK(loaded[0].facts.paramsActive < loaded[0].facts.paramsTotal);
    CHECK(c.of<DevicesEvent>().size() == 1);

    c.all.clear();
    auto done = complete(s, c, "Once upon a time", 12);
    auto prompt = c.of<PromptEvent>();
    auto tokens = c.of<TokenOutEvent>();
    auto routing = c.of<TokenRoutingEvent>();
    REQUIRE(prompt.size() == 1);
    CHECK(prompt[0].reused == 0);
    REQUIRE(tokens.size() == done.stats.generatedTokens);

    // the same generation through the loop directly
    auto model = loadModel(modelPath());
    REQUIRE(model.ok());
    auto backend = createBackend(*model.value(), {});
    REQUIRE(backend.ok());
    const Tokenizer& tok = *model.value()->tokenizer;
    GenerateParams gp;
    gp.maxTokens = 12;
    std::vector<int32_t> ref;
    auto st = generate(*backend.value(), tok, tok.encode("Once upon a time", true, true), gp, [&](const TokenEvent& e) {
        ref.push_back(e.id);
        return true;
    });
    REQUIRE(st.ok());
    std::vector<int32_t> got;
    for (auto& t : tokens) got.push_back(t.id);
    CHECK(got == ref);
    CHECK(prompt[0].ids == tok.encode("Once upon a time", true, true));

    // every evaluated token once, in position order: the prompt, then each sampled token but the last
    REQUIRE(routing.size() == prompt[0].ids.size() + tokens.size() - 1);
    for (size_t i = 0; i < routing.size(); ++i) {
        const auto& r = routing[i];
        CHECK(r.position == i);
        CHECK(r.token == (i < prompt[0].ids.size() ? prompt[0].ids[i] : tokens[i - prompt[0].ids.size()].id));
        REQUIRE(r.nLayer == 3);
        REQUIRE(r.nExpert == 8);
        CHECK(r.ids.size() == size_t(r.nLayer) * r.kMax);
        CHECK(r.probs.size() == size_t(r.nLayer) * r.nExpert);
        for (uint32_t il = 0; il < r.nLayer; ++il) CHECK(r.counts[il] == 2);
    }
    CHECK(!c.of<StatsEvent>().empty());
    auto mem = c.of<MemoryEvent>();
    REQUIRE(!mem.empty());
    CHECK(mem.back().bytes[size_t(vk::MemoryTag::Weights)] > 0);
    CHECK(mem.back().bytes[size_t(vk::MemoryTag::KvCache)] > 0);
}

TEST_CASE("session: a failed load keeps the previous model") {
    Session s;
    Collector c;
    load(s, c, modelPath());
    load(s, c, "/nonexistent/model.gguf");
    auto failed = c.of<LoadFailedEvent>();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].message.find("nonexistent") != std::string::npos);
    c.all.clear();
    auto d = complete(s, c, "The", 4);
    CHECK(d.stats.generatedTokens == 4);
}

TEST_CASE("session: routing policies apply (top-k and masks), and a chat reuses its cached prefix") {
    Session s;
    Collector c;
    load(s, c, modelPath());
    auto p = routing::parsePolicy({"topk:1 mask:*:0,3"});
    REQUIRE(p.ok());
    s.post(SetRoutingCmd{{p.value()}});
    c.all.clear();
    complete(s, c, "Once upon a time", 6);
    auto routing = c.of<TokenRoutingEvent>();
    REQUIRE(!routing.empty());
    for (const auto& r : routing)
        for (uint32_t il = 0; il < r.nLayer; ++il) {
            CHECK(r.counts[il] == 1);
            const int32_t e = r.ids[size_t(il) * r.kMax];
            CHECK(e != 0);
            CHECK(e != 3);
            CHECK(r.probs[size_t(il) * r.nExpert + 0] == 0.0f);  // masked experts get no probability
        }

    // a policy posted while a reply streams applies from the next step on
    s.post(SetRoutingCmd{});  // back to the model's gating
    GenerateCmd live;
    live.completion = true;
    live.prompt = "Once upon a time";
    live.params.maxTokens = 40;
    live.params.stopAtEog = false;
    c.all.clear();
    s.post(live);
    REQUIRE(c.until(s, [n = 0](const SessionEvent& e) mutable { return std::holds_alternative<TokenOutEvent>(e) && ++n == 3; }));
    auto one = routing::parsePolicy({"topk:1"});
    REQUIRE(one.ok());
    s.post(SetRoutingCmd{{one.value()}});
    REQUIRE(c.until(s, is<GenerationDoneEvent>()));
    auto liveRouting = c.of<TokenRoutingEvent>();
    REQUIRE(liveRouting.size() > 10);
    CHECK(liveRouting.front().counts[0] == 2);
    CHECK(liveRouting.back().counts[0] == 1);

    s.post(SetRoutingCmd{});
    c.all.clear();
    GenerateCmd g;
    g.conversation = {{"user", "Hello there"}};
    g.params.maxTokens = 5;
    s.post(g);
    REQUIRE(c.until(s, is<GenerationDoneEvent>()));
    std::string reply;
    for (auto& t : c.of<TokenOutEvent>()) reply += t.text;
    c.all.clear();
    g.conversation.push_back({"assistant", reply});
    g.conversation.push_back({"user", "And then?"});
    s.post(g);
    REQUIRE(c.until(s, is<GenerationDoneEvent>()));
    auto prompt = c.of<PromptEvent>();
    REQUIRE(prompt.size() == 1);
    CHECK(prompt[0].reused > 0);
    for (auto& r : c.of<TokenRoutingEvent>()) CHECK(r.counts[0] == 2);

    // a policy the engine's checks reject (a mask leaving no expert) is a notice; the last one stays
    auto none = routing::parsePolicy({"mask:*:0,1,2,3,4,5,6,7"});
    REQUIRE(none.ok());
    c.all.clear();
    s.post(SetRoutingCmd{{none.value()}});
    REQUIRE(c.until(s, is<NoticeEvent>()));
    CHECK(std::get<NoticeEvent>(c.all.back()).about == NoticeEvent::About::Routing);
    c.all.clear();
    complete(s, c, "The", 3);
    for (auto& r : c.of<TokenRoutingEvent>()) CHECK(r.counts[0] == 2);
}

TEST_CASE("session: stop, profiling, CPU reference, closing while generating") {
    Collector c;
    {
        Session s;
        load(s, c, modelPath());
        s.post(SetProfileCmd{true});
        GenerateCmd g;
        g.completion = true;
        g.prompt = "Once upon a time";
        g.params.maxTokens = 200;
        g.params.stopAtEog = false;
        c.all.clear();
        s.post(g);
        REQUIRE(c.until(s, is<TokenOutEvent>()));
        s.stop();
        REQUIRE(c.until(s, is<GenerationDoneEvent>()));
        auto d = std::get<GenerationDoneEvent>(c.all.back());
        CHECK(d.stats.stopReason == "stopped");
        CHECK(d.stats.generatedTokens < 200);
        auto kt = c.of<KernelTimesEvent>();
        REQUIRE(!kt.empty());
        CHECK(kt.front().prefill);
        CHECK(!kt.front().kernels.empty());

        // close mid-generation: the destructor stops and joins
        s.post(g);
        REQUIRE(c.until(s, is<TokenOutEvent>()));
    }
    Session cpu;
    load(cpu, c, modelPath(), true);
    REQUIRE(std::holds_alternative<ModelLoadedEvent>(c.all.back()));
    CHECK(std::get<ModelLoadedEvent>(c.all.back()).facts.backend == "CPU reference");
    c.all.clear();
    complete(cpu, c, "The", 3);
    auto routing = c.of<TokenRoutingEvent>();
    REQUIRE(!routing.empty());
    CHECK(routing[0].nLayer == 3);
    CHECK(routing[0].counts[0] == 2);
}

namespace {

std::vector<int32_t> ids(const std::vector<TokenOutEvent>& t) {
    std::vector<int32_t> v;
    for (const auto& e : t) v.push_back(e.id);
    return v;
}

CacheConfigEvent lastConfig(Session& s, Collector& c) {
    REQUIRE(c.until(s, is<CacheConfigEvent>()));
    return std::get<CacheConfigEvent>(c.all.back());
}

}  // namespace

TEST_CASE("session: the expert cache reports every step, switches live and changes budget by reloading") {
    const std::string prompt = "Once upon a time";
    std::vector<int32_t> resident;
    {
        Session s;
        Collector c;
        load(s, c, modelPath());
        auto cfg = lastConfig(s, c);
        CHECK(cfg.available);
        CHECK_FALSE(cfg.enabled);
        CHECK(cfg.slots == 8);
        CHECK(cfg.routedBytes == cfg.expertBytes * 8 * 3);
        c.all.clear();
        complete(s, c, prompt, 10);
        resident = ids(c.of<TokenOutEvent>());
        CHECK(c.of<CacheStepEvent>().empty());  // every expert resident: no cache, no telemetry
    }
    Session s;
    Collector c;
    LoadModelCmd cmd;
    cmd.path = modelPath();
    cmd.backend.expertCache.slots = 3;
    cmd.backend.maxBatch = 4;  // the prompt's prefill runs in several cache steps
    s.post(cmd);
    auto cfg = lastConfig(s, c);
    REQUIRE(!c.of<ModelLoadedEvent>().empty());
    CHECK_FALSE(c.of<ModelLoadedEvent>().back().reload);
    CHECK(cfg.enabled);
    CHECK(cfg.fresh);
    CHECK(cfg.slots == 3);
    CHECK(cfg.policy == cache::Policy::LRU);
    CHECK(cfg.slotBytes > 0);

    c.all.clear();
    complete(s, c, prompt, 10);
    CHECK(ids(c.of<TokenOutEvent>()) == resident);
    auto steps = c.of<CacheStepEvent>();
    auto routing = c.of<TokenRoutingEvent>();
    REQUIRE(steps.size() > 2);
    CHECK(steps[0].prefill);
    CHECK(steps[1].prefill);  // a prompt of more than 4 tokens: two prefill batches at least
    CHECK(steps[0].nTok == 4);
    CHECK(steps[0].slots.empty());  // the slots come with the forward step's last cache step
    uint32_t tokens = 0;
    cache::CacheStats total;
    for (size_t i = 0; i < steps.size(); ++i) {
        const CacheStepEvent& st = steps[i];
        CHECK(st.pos0 == tokens);
        tokens += st.nTok;
        REQUIRE(st.layers.size() == 3);
        const bool lastOfForward = i + 1 == steps.size() || !steps[i + 1].prefill;
        REQUIRE(st.slots.size() == (lastOfForward ? 3u : 0u));
        for (uint32_t il = 0; il < 3; ++il) {
            const cache::CacheStats& l = st.layers[il];
            CHECK(l.hits + l.misses == l.accesses);
            CHECK(l.bytesUploaded == l.misses * cfg.expertBytes);
            total += l;
            if (st.prefill) continue;
            REQUIRE(st.slots[il].size() == 3);
            // a decode step needs its token's experts, which are resident after it
            CHECK(l.accesses == 2);
            const TokenRoutingEvent& r = routing.at(st.pos0);
            for (uint32_t j = 0; j < uint32_t(r.counts[il]); ++j) {
                const int32_t e = r.ids[size_t(il) * r.kMax + j];
                bool in = false;
                for (const auto& v : st.slots[il]) in |= v.expert == e && v.last != cache::SlotEvent::Idle;
                CHECK_MESSAGE(in, "layer " << il << " expert " << e << " after position " << st.pos0);
            }
        }
    }
    CHECK(tokens == routing.size());
    CHECK(total.misses > 0);
    CHECK(total.hits > 0);

    // policy and prefetch switch live; static without a trace and belady are refused
    c.all.clear();
    s.post(SetCachePolicyCmd{cache::Policy::LFU});
    s.post(SetPrefetchCmd{true});
    SetCachePolicyCmd noTrace;
    noTrace.policy = cache::Policy::Static;
    s.post(noTrace);
    s.post(SetCachePolicyCmd{cache::Policy::Belady});
    REQUIRE(c.until(s, [n = 0](const SessionEvent& e) mutable {
        return std::holds_alternative<CacheConfigEvent>(e) && ++n == 4;
    }));
    auto notices = c.of<NoticeEvent>();
    REQUIRE(notices.size() == 2);
    for (const auto& n : notices) CHECK(n.about == NoticeEvent::About::Cache);
    cfg = c.of<CacheConfigEvent>().back();
    CHECK(cfg.policy == cache::Policy::LFU);
    CHECK(cfg.prefetch);
    CHECK_FALSE(cfg.fresh);

    // a new budget rebuilds the model, keeping policy and prefetch; the output is the same
    c.all.clear();
    s.post(SetCacheBudgetCmd{5});
    cfg = lastConfig(s, c);
    REQUIRE(!c.of<ModelLoadedEvent>().empty());
    CHECK(c.of<ModelLoadedEvent>().back().reload);
    CHECK(cfg.slots == 5);
    CHECK(cfg.fresh);
    CHECK(cfg.policy == cache::Policy::LFU);
    CHECK(cfg.prefetch);
    c.all.clear();
    complete(s, c, prompt, 10);
    CHECK(ids(c.of<TokenOutEvent>()) == resident);
    CHECK(c.of<CacheStepEvent>().back().slots.front().size() == 5);
    // prefetching: each token's routing carries the cross-layer gate's predictions
    for (const auto& r : c.of<TokenRoutingEvent>()) CHECK(r.pred.size() == r.ids.size());

    // fewer slots than experts per token: refused, the model stays usable with its budget
    c.all.clear();
    s.post(SetCacheBudgetCmd{1});
    REQUIRE(c.until(s, is<LoadFailedEvent>()));
    CHECK(std::get<LoadFailedEvent>(c.all.back()).message.find("slots") != std::string::npos);
    cfg = lastConfig(s, c);
    CHECK(cfg.slots == 5);
    c.all.clear();
    complete(s, c, prompt, 4);

    // every expert: no cache
    c.all.clear();
    s.post(SetCacheBudgetCmd{8});
    cfg = lastConfig(s, c);
    CHECK_FALSE(cfg.enabled);
    CHECK(cfg.prefetch);  // remembered for a later budget

    // the CPU reference has no expert cache
    LoadModelCmd cpu = cmd;
    cpu.backend.cpu = true;
    c.all.clear();
    s.post(cpu);
    REQUIRE(c.until(s, is<LoadFailedEvent>()));
    CHECK(std::get<LoadFailedEvent>(c.all.back()).message.find("Vulkan") != std::string::npos);
}
