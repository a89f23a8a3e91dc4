// The expert cache on the device: with a budget of slots per layer down to the model's k, the
// Vulkan forward pass gives bit-identical logits to the fully resident run (prefill in batches
// whose experts exceed the slots, then decode), for every architecture and policy, with and
// without prefetch; the telemetry adds up; bad budgets are one-line errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>

#include "gpu_env.h"
#include "trace/cache_sim.h"
#include "trace/trace.h"
#include "runtime/vk_forward.h"
#include "synth_models.h"

using namespace moe;
using namespace moe::test;

namespace {

int32_t argmax(const float* v, size_t n) { return int32_t(std::max_element(v, v + n) - v); }

struct Run {
    std::vector<float> prefill;               // all prompt positions
    std::vector<std::vector<float>> decode;   // per step
    std::vector<int32_t> tokens;
};

// 40-token prompt in batches of 16, then 12 greedy steps.
Run runModel(rt::VkForward& f, const Model& m, std::vector<int32_t> prompt, cache::CacheStats* total,
             uint32_t* distinctChecks) {
    const uint32_t V = m.cfg.n_vocab, n = uint32_t(prompt.size());
    Run r;
    r.prefill.resize(size_t(n) * V);
    REQUIRE(f.forward(prompt.data(), n, 0, r.prefill.data(), true).ok());
    auto account = [&]() {
        if (!f.expertCache()) return;
        // every step's accesses are the distinct experts its tokens selected, per layer
        const rt::RoutingRecord& rec = f.lastRouting();
        const auto& steps = f.lastCacheSteps();
        REQUIRE(steps.size() == rec.stepStart.size());
        for (size_t s = 0; s < steps.size(); ++s) {
            const uint32_t t0 = rec.stepStart[s];
            const uint32_t t1 = s + 1 < steps.size() ? rec.stepStart[s + 1] : rec.nTok;
            for (uint32_t il = 0; il < rec.nLayer; ++il) {
                std::vector<int32_t> d;
                for (uint32_t t = t0; t < t1; ++t)
                    for (int32_t j = 0; j < rec.countAt(il, t); ++j) {
                        const int32_t e = rec.idsAt(il, t)[j];
                        if (std::find(d.begin(), d.end(), e) == d.end()) d.push_back(e);
                    }
                const cache::CacheStats& st = steps[s][il];
                CHECK(st.accesses == d.size());
                CHECK(st.hits + st.misses == st.accesses);
                if (total) *total += st;
                if (distinctChecks) ++*distinctChecks;
            }
        }
    };
    account();
    int32_t tok = argmax(r.prefill.data() + size_t(n - 1) * V, V);
    for (uint32_t s = 0; s < 12; ++s) {
        std::vector<float> g(V);
        REQUIRE(f.forward(&tok, 1, n + s, g.data(), false).ok());
        account();
        r.tokens.push_back(tok);
        tok = argmax(g.data(), V);
        r.decode.push_back(std::move(g));
    }
    return r;
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

void checkArch(const char* name, Arch arch, const char* variant = "") {
    CAPTURE(std::string(name));
    ValidationGuard guard;
    SynthSpec spec = synthVariant(arch, variant).value();
    auto model = loadSynth(std::string("cache_") + name, spec);
    auto& dev = GpuEnv::dev();
    auto prompt = model->tokenizer->encode(
        "The quick brown fox jumps over the lazy dog. Routing is learned; experts specialise on text.", true, false);
    prompt.resize(std::min<size_t>(prompt.size(), 40));
    REQUIRE(prompt.size() >= 24);

    rt::ForwardOptions fo;
    fo.nCtx = 96;
    fo.maxBatch = 16;
    auto resident = rt::VkForward::create(dev, *model, fo);
    REQUIRE_MESSAGE(resident.ok(), (resident.ok() ? std::string() : resident.error().message));
    CHECK(resident.value()->expertCache() == nullptr);
    const Run ref = runModel(*resident.value(), *model, prompt, nullptr, nullptr);

    const uint32_t NE = model->cfg.expert_count, k = model->cfg.expert_used_count;
    struct Budget {
        uint32_t slots;
        cache::Policy policy;
        bool prefetch;
    };
    const Budget budgets[] = {{k, cache::Policy::LRU, false},
                              {k + 1, cache::Policy::LFU, true},
                              {NE / 4 > k ? NE / 4 : k, cache::Policy::LFRU, false},
                              {NE / 2, cache::Policy::LRU, true},
                              {NE - 1, cache::Policy::LFU, false}};
    for (const Budget& b : budgets) {
        CAPTURE(b.slots);
        CAPTURE(int(b.policy));
        CAPTURE(b.prefetch);
        rt::ForwardOptions co = fo;
        co.expertCache.slots = b.slots;
        co.expertCache.policy = b.policy;
        co.expertCache.prefetch = b.prefetch;
        auto cached = rt::VkForward::create(dev, *model, co);
        REQUIRE_MESSAGE(cached.ok(), (cached.ok() ? std::string() : cached.error().message));
        REQUIRE(cached.value()->expertCache() != nullptr);
        CHECK(cached.value()->expertCache()->slots() == b.slots);
        cache::CacheStats total;
        uint32_t checks = 0;
        const Run got = runModel(*cached.value(), *model, prompt, &total, &checks);
        CHECK(checks == (3 + 12) * model->cfg.block_count);  // 3 prefill batches + 12 decode steps
        CHECK(sameBits(got.prefill, ref.prefill));
        REQUIRE(got.decode.size() == ref.decode.size());
        for (size_t s = 0; s < got.decode.size(); ++s) CHECK_MESSAGE(sameBits(got.decode[s], ref.decode[s]), "step ", s);
        CHECK(got.tokens == ref.tokens);
        // telemetry: bytes = loads x expert bytes; the cache was cold, so the first use of
        // every expert was a miss
        uint32_t m0 = 0;  // the first MoE layer (deepseek2: after a dense one)
        while (!model->plan.layers[m0].moe()) ++m0;
        const uint64_t eb = expertBytes(*model->plan.layers[m0].moe());
        CHECK(total.bytesUploaded == (total.misses + total.prefetches) * eb);
        CHECK(total.misses >= std::min<uint64_t>(NE, b.slots));
        CHECK(total.hits > 0);
        CHECK(total.prefetchUsed + total.prefetchWasted <= total.prefetches);
        if (b.prefetch) {
            CHECK(total.prefetches > 0);
            CHECK(total.prefetchUsed > 0);
            const rt::RoutingRecord& rec = cached.value()->lastRouting();
            REQUIRE(rec.pred.size() == rec.ids.size());
            CHECK(rec.predAt(m0, 0)[0] == -1);  // nothing predicts the first MoE layer
            CHECK(rec.predAt(m0 + 1, 0)[0] >= 0);
        } else {
            CHECK(total.prefetches == 0);
        }
        // the slot table view: every resident expert in exactly one slot
        for (uint32_t il = 0; il < model->cfg.block_count; ++il) {
            const auto& lc = cached.value()->expertCache()->layer(il);
            uint32_t occupied = 0;
            for (const cache::SlotView& sv : lc.slots())
                if (sv.expert >= 0) {
                    ++occupied;
                    CHECK(lc.slotOf()[sv.expert] >= 0);
                }
            CHECK(occupied == (model->plan.layers[il].moe() ? b.slots : 0u));  // a dense layer caches nothing
        }
    }
}

}  // namespace

TEST_CASE("expert cache == resident: llama") { checkArch("llama", Arch::Llama); }
TEST_CASE("expert cache == resident: qwen2moe (shared expert)") { checkArch("qwen2moe", Arch::Qwen2Moe); }
TEST_CASE("expert cache == resident: qwen3moe") { checkArch("qwen3moe", Arch::Qwen3Moe); }
TEST_CASE("expert cache == resident: olmoe") { checkArch("olmoe", Arch::Olmoe); }
TEST_CASE("expert cache == resident: deepseek2 V3-like (a dense first layer, grouped sigmoid router)") {
    checkArch("deepseek2_v3", Arch::Deepseek2, "v3");
}

TEST_CASE("expert cache: budgets and policies the engine cannot take are one-line errors") {
    ValidationGuard guard;
    auto model = loadSynth("cache_errors", synthSpecFor(Arch::Llama));
    auto& dev = GpuEnv::dev();
    rt::ForwardOptions fo;
    fo.nCtx = 32;
    auto tryCreate = [&](rt::ExpertCacheOptions o) {
        fo.expertCache = std::move(o);
        auto r = rt::VkForward::create(dev, *model, fo);
        REQUIRE(!r.ok());
        return r.error().message;
    };
    rt::ExpertCacheOptions o;
    o.slots = 1;
    CHECK(tryCreate(o) == "expert cache: 1 slots per layer is fewer than the 2 experts each token uses");
    o.slots = 4;
    o.policy = cache::Policy::Belady;
    CHECK(tryCreate(o).find("belady needs the future") != std::string::npos);
    o.policy = cache::Policy::Static;
    CHECK(tryCreate(o).find("static policy needs a hot set") != std::string::npos);
    o = {};
    o.budgetMiB = 0;
    o.slots = -1;
    o.budgetMiB = 1;  // far more than this tiny model's experts: all resident
    fo.expertCache = o;
    auto all = rt::VkForward::create(dev, *model, fo);
    REQUIRE(all.ok());
    CHECK(all.value()->expertCache() == nullptr);
}

// The engine's live counters equal the simulator's replay of the trace the run recorded (steps,
// predictions), step by step and layer by layer, for every online policy, with and without prefetch.
TEST_CASE("expert cache: live telemetry == simulator replay of the recorded trace") {
    ValidationGuard guard;
    SynthSpec spec = synthSpecFor(Arch::Olmoe);
    spec.n_expert = 16;
    spec.n_expert_used = 4;
    auto model = loadSynth("cache_sim_equal", spec);
    auto& dev = GpuEnv::dev();
    const ModelConfig& c = model->cfg;
    auto prompt = model->tokenizer->encode(
        "Experts are cached on the device; the rest stay in host memory and are copied in when a token needs them.",
        true, false);
    prompt.resize(std::min<size_t>(prompt.size(), 40));
    REQUIRE(prompt.size() >= 24);
    const uint32_t V = c.n_vocab;
    trace::Trace lruTrace;  // the first run's trace: the static policy's hot set is learned from it
    for (cache::Policy policy : {cache::Policy::LRU, cache::Policy::LFU, cache::Policy::LFRU, cache::Policy::Static}) {
        for (bool prefetch : {false, true}) {
            const std::string name = std::string(cache::policyName(policy)) + (prefetch ? " +prefetch" : "");
            CAPTURE(name);
            rt::ForwardOptions fo;
            fo.nCtx = 96;
            fo.maxBatch = 16;
            fo.expertCache.slots = 6;
            fo.expertCache.policy = policy;
            fo.expertCache.prefetch = prefetch;
            if (policy == cache::Policy::Static) {
                auto rank = cache::learnStaticRank(lruTrace, c.block_count, c.expert_count);
                REQUIRE(rank.ok());
                fo.expertCache.staticRank = rank.value();
            }
            auto f = rt::VkForward::create(dev, *model, fo);
            REQUIRE_MESSAGE(f.ok(), (f.ok() ? std::string() : f.error().message));
            trace::Trace tr;
            tr.info.nLayer = c.block_count;
            tr.info.nExpert = c.expert_count;
            tr.info.k = c.expert_used_count;
            tr.info.kMax = c.expert_used_count;
            tr.info.cache = {cache::policyName(policy), 6, prefetch};
            for (const LayerPlan& l : model->plan.layers) tr.info.expertBytes.push_back(expertBytes(*l.moe()));
            std::vector<float> logits(V);
            auto step = [&](const int32_t* toks, uint32_t n, uint32_t pos) {
                REQUIRE(f.value()->forward(toks, n, pos, logits.data(), false).ok());
                const rt::RoutingRecord& r = f.value()->lastRouting();
                REQUIRE(f.value()->lastCacheSteps().size() == 1);
                trace::StepView v{r.nTok, r.nLayer, r.kMax, r.nExpert, r.ids.data(), r.weights.data(), r.counts.data(),
                                  r.probs.data()};
                v.pred = prefetch ? r.pred.data() : nullptr;
                v.cache = f.value()->lastCacheSteps()[0].data();
                auto st = trace::append(tr, v, toks, pos);
                REQUIRE_MESSAGE(st.ok(), st.message());
            };
            const uint32_t n = uint32_t(prompt.size());
            for (uint32_t done = 0; done < n; done += 16) step(prompt.data() + done, std::min(16u, n - done), done);
            int32_t tok = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
            for (uint32_t s = 0; s < 20; ++s) {
                step(&tok, 1, n + s);
                tok = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
            }
            // write and read back (the binary form), then replay
            const std::string path = (synthDir() / (std::string("live_") + cache::policyName(policy) +
                                                   (prefetch ? "_pf" : "") + ".mstrace")).string();
            REQUIRE(trace::writeTrace(path, tr).ok());
            auto back = trace::readTrace(path);
            REQUIRE_MESSAGE(back.ok(), (back.ok() ? std::string() : back.error().message));
            cache::SimOptions so;
            so.prefetch = prefetch;
            if (policy == cache::Policy::Static) so.staticFrom = &lruTrace;
            auto rep = cache::replay(back.value(), policy, 6, so);
            REQUIRE_MESSAGE(rep.ok(), (rep.ok() ? std::string() : rep.error().message));
            REQUIRE(rep.value().perStep.size() == back.value().cache.size());
            for (size_t i = 0; i < rep.value().perStep.size(); ++i) {
                const cache::CacheStats& a = rep.value().perStep[i];
                const cache::CacheStats& b = back.value().cache[i];
                CAPTURE(i);
                CHECK(a.accesses == b.accesses);
                CHECK(a.hits == b.hits);
                CHECK(a.misses == b.misses);
                CHECK(a.evictions == b.evictions);
                CHECK(a.prefetches == b.prefetches);
                CHECK(a.prefetchUsed == b.prefetchUsed);
                CHECK(a.prefetchWasted == b.prefetchWasted);
                CHECK(a.bytesUploaded == b.bytesUploaded);
            }
            const cache::CacheStats live = cache::liveTotals(back.value());
            CHECK(live.hitRate() == rep.value().total.hitRate());
            MESSAGE(name, ": live hit rate ", live.hitRate(),
                    ", prefetched ", live.prefetches, " (used ", live.prefetchUsed, ")");
            if (policy == cache::Policy::LRU && !prefetch) lruTrace = back.value();
        }
    }
}
