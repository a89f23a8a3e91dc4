// The offline expert-cache simulator (trace/cache_sim.h): hand-worked replays (decode steps,
// batched steps, prefetch from the trace's predictions), the same figures from a trace written
// and read back in both forms, Belady never beaten by an online policy on random traces (when
// every step fits in the cache), live
// telemetry replayed to the same counters, cache sizes as numbers and percentages, and errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "core/random.h"
#include "trace/cache_sim.h"
#include "trace/trace.h"

using namespace moe;
using namespace moe::cache;
using Tok = std::vector<std::vector<int32_t>>;  // one token: per layer, the selected experts

namespace {

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

struct StepSpec {
    std::vector<Tok> tokens;
    std::vector<Tok> pred;  // per token, per layer predictions (empty: none)
};

// A trace of L layers x E experts from steps of tokens (weights even, no probabilities).
trace::Trace build(uint32_t L, uint32_t E, const std::vector<StepSpec>& steps, uint32_t K = 4) {
    trace::Trace tr;
    tr.info.model = "sim";
    tr.info.arch = "olmoe";
    tr.info.nLayer = L;
    tr.info.nExpert = E;
    tr.info.k = 2;
    tr.info.hasProbs = false;
    int32_t pos = 0;
    for (const StepSpec& st : steps) {
        const uint32_t n = uint32_t(st.tokens.size());
        std::vector<int32_t> ids(L * n * K, -1), counts(L * n), pred(L * n * K, -1), toks(n, 7);
        std::vector<float> w(L * n * K, 0.0f);
        for (uint32_t t = 0; t < n; ++t)
            for (uint32_t l = 0; l < L; ++l) {
                const size_t r = size_t(l) * n + t;
                counts[r] = int32_t(st.tokens[t][l].size());
                for (size_t j = 0; j < st.tokens[t][l].size(); ++j) {
                    ids[r * K + j] = st.tokens[t][l][j];
                    w[r * K + j] = 1.0f / float(counts[r]);
                }
                if (!st.pred.empty())
                    for (size_t j = 0; j < st.pred[t][l].size(); ++j) pred[r * K + j] = st.pred[t][l][j];
            }
        trace::StepView v{n, L, K, E, ids.data(), w.data(), counts.data(), nullptr};
        if (!st.pred.empty()) v.pred = pred.data();
        REQUIRE(trace::append(tr, v, toks.data(), uint32_t(pos)).ok());
        pos += int32_t(n);
    }
    REQUIRE(trace::validate(tr).ok());
    return tr;
}

// Decode: one token per step.
std::vector<StepSpec> decode(const std::vector<Tok>& tokens, const std::vector<Tok>& pred = {}) {
    std::vector<StepSpec> s;
    for (size_t t = 0; t < tokens.size(); ++t) s.push_back({{tokens[t]}, pred.empty() ? std::vector<Tok>{} : std::vector<Tok>{pred[t]}});
    return s;
}

const SimRow& find(const std::vector<SimRow>& rows, Policy p, uint32_t slots) {
    for (const SimRow& r : rows)
        if (r.policy == p && r.slots == slots) return r;
    FAIL("no row for " << policyName(p) << " at " << slots);
    return rows[0];
}

void checkRow(const SimRow& r, uint64_t acc, uint64_t hits, uint64_t misses, uint64_t evictions) {
    CHECK(r.stats.accesses == acc);
    CHECK(r.stats.hits == hits);
    CHECK(r.stats.misses == misses);
    CHECK(r.stats.evictions == evictions);
}

std::string tmpPath(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("moescope_cachesim_" + std::to_string(::getpid()) + "_" + name)).string();
}

// layer 0: 0 1 2 0; layer 1: 3 3 3 2 (one expert per token)
const std::vector<Tok> kTokens{{{0}, {3}}, {{1}, {3}}, {{2}, {3}}, {{0}, {2}}};

}  // namespace

TEST_CASE("cache-sim: decode steps by hand") {
    trace::Trace tr = build(2, 4, decode(kTokens));
    SimOptions o;
    o.slots = {2};
    o.expertBytes = {1000};
    auto rows = simulate(tr, o);
    REQUIRE_MESSAGE(rows.ok(), (rows.ok() ? "" : rows.error().message));
    REQUIRE(rows->size() == 5);
    // LRU: layer 0 misses all four (2 evicts 0, 0 evicts 1); layer 1 misses 3 and 2
    const SimRow& lru = find(*rows, Policy::LRU, 2);
    checkRow(lru, 8, 2, 6, 2);
    CHECK(lru.stats.bytesUploaded == 6000);
    CHECK(lru.bytesKnown);
    CHECK(lru.tokens == 4);
    CHECK(lru.steps == 4);
    CHECK(lru.bytesPerToken() == doctest::Approx(1500.0));
    CHECK(lru.hitRate() == doctest::Approx(0.25));
    // Belady: 2 evicts 1 (never used again), so 0 hits
    checkRow(find(*rows, Policy::Belady, 2), 8, 3, 5, 1);
    // Static learned from the trace itself: layer 0 ranks 0:2 1:1 2:1 -> 2 evicts 1
    checkRow(find(*rows, Policy::Static, 2), 8, 3, 5, 1);
    // no expert size: bytes unknown
    o.expertBytes.clear();
    rows = simulate(tr, o);
    REQUIRE(rows.ok());
    CHECK(!(*rows)[0].bytesKnown);
    CHECK((*rows)[0].stats.bytesUploaded == 0);
    // from the header
    tr.info.expertBytes = {10, 20};
    rows = simulate(tr, o);
    REQUIRE(rows.ok());
    CHECK(find(*rows, Policy::LRU, 2).stats.bytesUploaded == 4 * 10 + 2 * 20);
}

TEST_CASE("cache-sim: a step's tokens are one access") {
    // steps {t0, t1}, {t2, t3}: layer 0 needs {0,1} then {2,0}; layer 1 {3} then {3,2}
    std::vector<StepSpec> steps(2);
    steps[0].tokens = {kTokens[0], kTokens[1]};
    steps[1].tokens = {kTokens[2], kTokens[3]};
    trace::Trace tr = build(2, 4, steps);
    REQUIRE(tr.steps == std::vector<int32_t>{0, 0, 1, 1});
    SimOptions o;
    o.slots = {2};
    o.policies = {Policy::LRU};
    auto rows = simulate(tr, o);
    REQUIRE(rows.ok());
    checkRow((*rows)[0], 7, 2, 5, 1);
    CHECK((*rows)[0].steps == 2);
    // --per-token replays it as decode
    o.perToken = true;
    rows = simulate(tr, o);
    REQUIRE(rows.ok());
    checkRow((*rows)[0], 8, 2, 6, 2);
    // a step wider than the cache runs in passes: 1 slot, layer 0 step 0 needs {0, 1}
    o.perToken = false;
    o.slots = {1};
    rows = simulate(tr, o);
    REQUIRE(rows.ok());
    // layer 0: 0 1 | 2 0 (0 evicted in its own step by 1, then a miss again): 4 misses, 3 evictions;
    // layer 1: 3 | 3 2: 1 hit, 2 misses, 1 eviction
    checkRow((*rows)[0], 7, 1, 6, 4);
}

TEST_CASE("cache-sim: prefetch from the trace's predictions") {
    // layer 1's predictions: 3, 3, 3, then {2, 1} (1 is a wrong guess)
    const std::vector<Tok> pred{{{}, {3}}, {{}, {3}}, {{}, {3}}, {{}, {2, 1}}};
    trace::Trace tr = build(2, 4, decode(kTokens, pred));
    SimOptions o;
    o.slots = {2};
    o.prefetch = true;
    o.expertBytes = {1000};
    auto rows = simulate(tr, o);
    REQUIRE_MESSAGE(rows.ok(), (rows.ok() ? "" : rows.error().message));
    const SimRow& lru = find(*rows, Policy::LRU, 2);
    CHECK(lru.prefetch);
    // layer 0 as without prefetch (4 misses, 2 evictions); layer 1: 3 prefetched then hit three
    // times, 2 prefetched into the free slot and hit, 1 evicts 3 and is wasted
    checkRow(lru, 8, 4, 4, 3);
    CHECK(lru.stats.prefetches == 3);
    CHECK(lru.stats.prefetchUsed == 2);
    CHECK(lru.stats.prefetchWasted == 1);
    CHECK(lru.stats.bytesUploaded == 7000);
    // Belady is the reference without prefetch
    const SimRow& bel = find(*rows, Policy::Belady, 2);
    CHECK(!bel.prefetch);
    checkRow(bel, 8, 3, 5, 1);
    // the per-step counters put each prefetch in the step and layer it loads into
    auto r = replay(tr, Policy::LRU, 2, o);
    REQUIRE(r.ok());
    REQUIRE(r->perStep.size() == 8);
    CHECK(r->perStep[0 * 2 + 1].prefetches == 1);
    CHECK(r->perStep[0 * 2 + 1].prefetchUsed == 1);
    CHECK(r->perStep[3 * 2 + 1].prefetches == 2);
    CHECK(r->perStep[3 * 2 + 1].prefetchWasted == 1);
    CHECK(r->total.hits == 4);
}

TEST_CASE("cache-sim: errors") {
    trace::Trace tr = build(2, 4, decode(kTokens));
    SimOptions o;
    o.slots = {0};
    CHECK(contains(simulate(tr, o).error().message, "cache size 0 is out of range 1..4"));
    o.slots = {5};
    CHECK(contains(simulate(tr, o).error().message, "cache size 5 is out of range"));
    o.slots = {2};
    o.prefetch = true;
    CHECK(contains(simulate(tr, o).error().message, "prefetch needs the experts the cross-layer gate predicted"));
    trace::Trace withPred = build(2, 4, decode(kTokens, {{{}, {3}}, {{}, {3}}, {{}, {3}}, {{}, {2}}}));
    o.policies = {Policy::LRU, Policy::Belady};
    CHECK(contains(simulate(withPred, o).error().message, "belady does not support prefetch"));
    o.prefetch = false;
    o.policies = {Policy::Static};
    trace::Trace other = build(3, 4, decode({{{0}, {1}, {2}}}));
    o.staticFrom = &other;
    CHECK(contains(simulate(tr, o).error().message, "3 layers x 4 experts, not 2 x 4"));
    o.staticFrom = nullptr;
    o.expertBytes = {1, 2, 3};
    CHECK(contains(simulate(tr, o).error().message, "3 values for 2 layers"));
}

TEST_CASE("cache-sim: static ranks from another trace") {
    trace::Trace tr = build(2, 4, decode(kTokens));
    auto rank = learnStaticRank(tr, 2, 4);
    REQUIRE(rank.ok());
    CHECK((*rank)[0] == std::vector<float>{2, 1, 1, 0});
    CHECK((*rank)[1] == std::vector<float>{0, 0, 1, 3});
    // a hot set learned elsewhere that prefers 1 over 0 in layer 0: 2 evicts 0, 0 evicts 2
    trace::Trace hot = build(2, 4, decode({{{1}, {3}}, {{1}, {3}}, {{2}, {2}}}));
    SimOptions o;
    o.slots = {2};
    o.policies = {Policy::Static};
    o.staticFrom = &hot;
    auto rows = simulate(tr, o);
    REQUIRE(rows.ok());
    checkRow((*rows)[0], 8, 2, 6, 2);
}

TEST_CASE("cache-sim: the same figures from a trace written and read back") {
    Rng rng(11);
    std::vector<StepSpec> steps;
    for (int s = 0; s < 40; ++s) {
        StepSpec st;
        const int n = s % 7 == 0 ? 5 : 1;
        for (int t = 0; t < n; ++t) {
            Tok tok(3), pr(3);
            for (uint32_t l = 0; l < 3; ++l) {
                const int32_t a = int32_t(rng.next32() % 12), b = int32_t((uint32_t(a) + 1 + rng.next32() % 11) % 12);
                tok[l] = {a, b};
                if (l > 0) pr[l] = {b, int32_t(rng.next32() % 12) == b ? (b + 1) % 12 : int32_t((uint32_t(b) + 3) % 12)};
            }
            st.tokens.push_back(tok);
            st.pred.push_back(pr);
        }
        steps.push_back(st);
    }
    trace::Trace tr = build(3, 12, steps);
    tr.info.expertBytes = {100, 100, 300};
    for (bool prefetch : {false, true}) {
        SimOptions o;
        o.slots = {2, 4, 6, 12};
        o.prefetch = prefetch;
        auto want = simulate(tr, o);
        REQUIRE(want.ok());
        for (const char* ext : {".jsonl", ".mstrace"}) {
            CAPTURE(ext);
            const std::string path = tmpPath(std::string("rt") + ext);
            REQUIRE(trace::writeTrace(path, tr).ok());
            auto back = trace::readTrace(path);
            REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.error().message));
            auto got = simulate(*back, o);
            REQUIRE(got.ok());
            REQUIRE(got->size() == want->size());
            for (size_t i = 0; i < want->size(); ++i) {
                CHECK((*got)[i].stats.hits == (*want)[i].stats.hits);
                CHECK((*got)[i].stats.evictions == (*want)[i].stats.evictions);
                CHECK((*got)[i].stats.prefetchUsed == (*want)[i].stats.prefetchUsed);
                CHECK((*got)[i].stats.bytesUploaded == (*want)[i].stats.bytesUploaded);
            }
            std::filesystem::remove(path);
        }
        // everything resident: only the cold misses
        for (const SimRow& r : *want)
            if (r.slots == 12 && !r.prefetch) CHECK(r.stats.evictions == 0);
    }
}

// MIN is optimal when every step fits in the cache (one pass). A step wider than the cache runs
// in passes whose order is fixed (hits, then misses in first-use order), so the experts left
// resident after it are not the policy's choice and MIN is only a heuristic there (random traces
// show online policies beating it by a miss or two): such sizes are skipped (docs/cache.md).
TEST_CASE("cache-sim: Belady is never beaten without prefetch (random traces)") {
    Rng rng(2024);
    int compared = 0, comparedBatched = 0;
    for (int trial = 0; trial < 300; ++trial) {
        const uint32_t E = 4 + rng.next32() % 29, L = 1 + rng.next32() % 3, k = 1 + rng.next32() % std::min<uint32_t>(4, E);
        const bool batched = trial % 3 == 0;  // steps of several tokens
        // skewed, bursty routing: a drifting hot set, as real routers show
        std::vector<StepSpec> steps;
        std::vector<uint32_t> hot(L);
        for (uint32_t l = 0; l < L; ++l) hot[l] = rng.next32() % E;
        size_t widest = 0;  // most distinct experts a step needs in a layer
        for (int s = 0; s < 100; ++s) {
            StepSpec st;
            const int n = batched ? 1 + int(rng.next32() % 4) : 1;
            std::vector<std::vector<int32_t>> distinct(L);
            for (int t = 0; t < n; ++t) {
                Tok tok(L);
                for (uint32_t l = 0; l < L; ++l) {
                    if (rng.next32() % 10 == 0) hot[l] = rng.next32() % E;
                    while (tok[l].size() < k) {
                        const int32_t e = rng.next32() % 3 ? int32_t((hot[l] + rng.next32() % 3) % E) : int32_t(rng.next32() % E);
                        if (std::find(tok[l].begin(), tok[l].end(), e) == tok[l].end()) tok[l].push_back(e);
                    }
                    for (int32_t e : tok[l])
                        if (std::find(distinct[l].begin(), distinct[l].end(), e) == distinct[l].end()) distinct[l].push_back(e);
                }
                st.tokens.push_back(tok);
            }
            for (const auto& d : distinct) widest = std::max(widest, d.size());
            steps.push_back(st);
        }
        trace::Trace tr = build(L, E, steps, k);
        SimOptions o;
        for (uint32_t s = uint32_t(widest); s <= E; s += 1 + E / 8) o.slots.push_back(s);
        auto rows = simulate(tr, o);
        REQUIRE(rows.ok());
        for (uint32_t s : o.slots) {
            const uint64_t best = find(*rows, Policy::Belady, s).stats.misses;
            for (Policy p : {Policy::LRU, Policy::LFU, Policy::LFRU, Policy::Static}) {
                CAPTURE(trial);
                CAPTURE(s);
                CAPTURE(std::string(policyName(p)));
                CHECK(best <= find(*rows, p, s).stats.misses);
                ++compared;
                comparedBatched += batched;
            }
        }
    }
    CHECK(compared > 2000);
    CHECK(comparedBatched > 500);
}

TEST_CASE("cache-sim: live telemetry in a trace replays to the same counters") {
    const std::vector<Tok> pred{{{}, {3}}, {{}, {3}}, {{}, {3}}, {{}, {2, 1}}};
    const trace::Trace plain = build(2, 4, decode(kTokens, pred));
    SimOptions o;
    o.prefetch = true;
    o.expertBytes = {64};
    auto live = replay(plain, Policy::LFU, 2, o);
    REQUIRE(live.ok());
    // what the engine records: each step's counters next to its routing
    trace::Trace tr = plain;
    tr.info.cache = trace::CacheSetting{"lfu", 2, true};
    tr.cache = live->perStep;
    tr.cache[3].waitMs = 0.25;
    REQUIRE(trace::validate(tr).ok());
    for (const char* ext : {".jsonl", ".mstrace"}) {
        const std::string path = tmpPath(std::string("live") + ext);
        REQUIRE(trace::writeTrace(path, tr).ok());
        auto back = trace::readTrace(path);
        REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.error().message));
        std::filesystem::remove(path);
        CHECK(back->info.cache.policy == "lfu");
        const CacheStats sum = liveTotals(*back);
        CHECK(sum.hits == live->total.hits);
        CHECK(sum.prefetchWasted == live->total.prefetchWasted);
        CHECK(sum.bytesUploaded == live->total.bytesUploaded);
        CHECK(sum.waitMs == 0.25);
        auto again = replay(*back, parsePolicy(back->info.cache.policy).value(), back->info.cache.slots, o);
        REQUIRE(again.ok());
        REQUIRE(again->perStep.size() == back->cache.size());
        for (size_t i = 0; i < again->perStep.size(); ++i) {
            CHECK(again->perStep[i].hits == back->cache[i].hits);
            CHECK(again->perStep[i].prefetches == back->cache[i].prefetches);
        }
    }
}

TEST_CASE("cache-sim: cache sizes as numbers and percentages") {
    auto s = parseSlots("2, 25%,50%,2,100%", 16);
    REQUIRE(s.ok());
    CHECK(*s == std::vector<uint32_t>{2, 4, 8, 16});
    CHECK(parseSlots("1%", 16).value() == std::vector<uint32_t>{1});     // at least one
    CHECK(parseSlots("10%", 16).value() == std::vector<uint32_t>{2});    // 1.6 rounds to 2
    CHECK(contains(parseSlots("0", 16).error().message, "cache size '0' is out of range 1..16"));
    CHECK(contains(parseSlots("17", 16).error().message, "out of range"));
    CHECK(contains(parseSlots("150%", 16).error().message, "not a percentage in (0, 100]"));
    CHECK(contains(parseSlots("2.5", 16).error().message, "not a whole number"));
    CHECK(contains(parseSlots("four", 16).error().message, "'four'"));
    CHECK(contains(parseSlots("2,,4", 16).error().message, "empty entry"));
    CHECK(!parseSlots("", 16).ok());
}
