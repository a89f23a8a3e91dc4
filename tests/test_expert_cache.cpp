// The expert cache's policies (trace/expert_cache.h) on hand-worked access sequences: exact hit,
// miss and eviction counts and slot contents for LRU, LFU, LFRU, Static and Belady, passes when a
// step needs more experts than there are slots, prefetch used/wasted accounting, the GUI's slot
// view, run-time policy switches and the errors of bad options.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "trace/expert_cache.h"

using namespace moe;
using namespace moe::cache;

namespace {

LayerCache make(Policy p, uint32_t slots, uint32_t nExpert = 8, std::vector<float> rank = {}, uint64_t bytes = 100) {
    LayerCacheOptions o;
    o.nExpert = nExpert;
    o.slots = slots;
    o.policy = p;
    o.expertBytes = bytes;
    o.staticRank = std::move(rank);
    auto c = LayerCache::create(o);
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
    return std::move(c).value();
}

// slot -> occupant
std::vector<int32_t> contents(const LayerCache& c) {
    std::vector<int32_t> v;
    for (const SlotView& s : c.slots()) v.push_back(s.expert);
    return v;
}

void runAll(LayerCache& c, const std::vector<std::vector<int32_t>>& seq) {
    for (const auto& n : seq) (void)c.access(n);
}

void checkCounts(const CacheStats& s, uint64_t acc, uint64_t hits, uint64_t misses, uint64_t evictions) {
    CHECK(s.accesses == acc);
    CHECK(s.hits == hits);
    CHECK(s.misses == misses);
    CHECK(s.evictions == evictions);
}

}  // namespace

TEST_CASE("expert cache: policy names") {
    for (Policy p : {Policy::LRU, Policy::LFU, Policy::LFRU, Policy::Static, Policy::Belady}) {
        auto q = parsePolicy(policyName(p));
        REQUIRE(q.ok());
        CHECK(*q == p);
    }
    CHECK(parsePolicy("LRU").value() == Policy::LRU);
    auto bad = parsePolicy("fifo");
    REQUIRE(!bad.ok());
    CHECK(bad.error().message == "unknown cache policy 'fifo' (valid: lru, lfu, lfru, static, belady)");
}

TEST_CASE("expert cache: bad options are errors") {
    LayerCacheOptions o;
    o.nExpert = 8;
    o.slots = 0;
    CHECK(!LayerCache::create(o).ok());
    o.slots = 9;
    CHECK(LayerCache::create(o).error().message.find("9 slots for 8 experts") != std::string::npos);
    o.slots = 2;
    o.policy = Policy::Static;
    CHECK(LayerCache::create(o).error().message.find("0 values for 8 experts") != std::string::npos);
    o.policy = Policy::LFRU;
    o.lfruDecay = 0;
    CHECK(!LayerCache::create(o).ok());
}

TEST_CASE("expert cache: LRU by hand") {
    LayerCache c = make(Policy::LRU, 3);
    runAll(c, {{0, 1}, {2, 0}});
    CHECK(contents(c) == std::vector<int32_t>{0, 1, 2});
    (void)c.access({3});  // least recent: 1 (0 was used again)
    CHECK(contents(c) == std::vector<int32_t>{0, 3, 2});
    auto passes = c.access({1, 2});  // 2 hits; 1 evicts 0, older than 3
    CHECK(contents(c) == std::vector<int32_t>{1, 3, 2});
    REQUIRE(passes.size() == 1);
    CHECK(passes[0].experts == std::vector<int32_t>{2, 1});  // hits first
    CHECK(passes[0].slots == std::vector<uint32_t>{2, 0});
    REQUIRE(passes[0].loads.size() == 1);
    CHECK(passes[0].loads[0].expert == 1);
    CHECK(passes[0].loads[0].slot == 0);
    CHECK(!passes[0].loads[0].prefetch);
    checkCounts(c.stats(), 7, 2, 5, 2);
    CHECK(c.stats().bytesUploaded == 500);
    checkCounts(c.lastStep(), 2, 1, 1, 1);
    CHECK(c.stats().hitRate() == doctest::Approx(2.0 / 7.0));
    CHECK(c.slotOf()[1] == 0);
    CHECK(c.slotOf()[0] == -1);
    // recency follows first-use order within a call: 3 then 1 -> 2 (untouched) goes first, then 3
    runAll(c, {{3, 1}, {4}, {5}});
    CHECK(contents(c) == std::vector<int32_t>{1, 5, 4});
    // repeated and out-of-range ids are skipped
    (void)c.access({8, 1, 1, -1});
    checkCounts(c.lastStep(), 1, 1, 0, 0);
}

TEST_CASE("expert cache: LFU by hand (ties: least recent)") {
    LayerCache c = make(Policy::LFU, 2);
    runAll(c, {{0}, {0}, {1}, {2}});  // 2 evicts 1 (count 1) although 0 is older
    CHECK(contents(c) == std::vector<int32_t>{0, 2});
    (void)c.access({1});  // counts 0:2 2:1 -> 2 goes
    CHECK(contents(c) == std::vector<int32_t>{0, 1});
    (void)c.access({2});  // counts 0:2 1:2 -> the least recent, 0
    CHECK(contents(c) == std::vector<int32_t>{2, 1});
    checkCounts(c.stats(), 6, 1, 5, 3);
    // frequency counts accesses that needed the expert, resident or not: 2 now has 2
    (void)c.access({3});  // 1:2 (older) 2:2 -> 1
    CHECK(contents(c) == std::vector<int32_t>{2, 3});
}

TEST_CASE("expert cache: LFRU by hand (decay 0.9 per access)") {
    // an expert used often long ago against a recent one-off: LFRU keeps the frequent one (as LFU)
    // where LRU drops it ...
    const std::vector<std::vector<int32_t>> a{{0}, {0}, {0}, {1}, {2}};
    LayerCache lfru = make(Policy::LFRU, 2), lru = make(Policy::LRU, 2), lfu = make(Policy::LFU, 2);
    runAll(lfru, a), runAll(lru, a), runAll(lfu, a);
    CHECK(contents(lfru) == std::vector<int32_t>{0, 2});  // scores 0: 2.195, 1: 0.9
    CHECK(contents(lru) == std::vector<int32_t>{2, 1});
    CHECK(contents(lfu) == std::vector<int32_t>{0, 2});
    // ... and a more frequent but decayed expert against a recently frequent one: LFRU drops the
    // decayed one (as LRU) where LFU keeps it
    const std::vector<std::vector<int32_t>> b{{0}, {0}, {0}, {0}, {1}, {1}, {1}, {2}};
    LayerCache lfru2 = make(Policy::LFRU, 2), lfu2 = make(Policy::LFU, 2);
    runAll(lfru2, b), runAll(lfu2, b);
    CHECK(contents(lfru2) == std::vector<int32_t>{2, 1});  // 0: 3.439 x 0.9^4 = 2.256 < 1: 2.439
    CHECK(contents(lfu2) == std::vector<int32_t>{0, 2});   // counts 4 > 3
    checkCounts(lfru2.stats(), 8, 5, 3, 1);
}

TEST_CASE("expert cache: Static by hand (ties: least recent)") {
    const std::vector<float> rank{5, 1, 3, 3};
    LayerCache c = make(Policy::Static, 2, 4, rank);
    runAll(c, {{1}, {0}, {2}});  // 2 evicts 1 (rank 1)
    CHECK(contents(c) == std::vector<int32_t>{2, 0});
    runAll(c, {{3}, {2}});  // 3 evicts 2 (rank 3 < 5), then 2 evicts 3
    CHECK(contents(c) == std::vector<int32_t>{2, 0});
    checkCounts(c.stats(), 5, 0, 5, 3);
    LayerCache t = make(Policy::Static, 3, 4, rank);
    runAll(t, {{2}, {3}, {0}, {1}});  // 1 evicts 2 (rank tie with 3, less recent)
    CHECK(contents(t) == std::vector<int32_t>{1, 3, 0});
}

TEST_CASE("expert cache: Belady by hand") {
    const std::vector<std::vector<int32_t>> seq{{0}, {1}, {2}, {0}, {1}, {2}};
    LayerCache b = make(Policy::Belady, 2), l = make(Policy::LRU, 2);
    b.setFuture(seq);
    (void)b.access(seq[0]), (void)b.access(seq[1]), (void)b.access(seq[2]);  // 2 evicts 1 (next use farther)
    CHECK(contents(b) == std::vector<int32_t>{0, 2});
    (void)b.access(seq[3]), (void)b.access(seq[4]);  // 1 evicts 0 (never used again)
    CHECK(contents(b) == std::vector<int32_t>{1, 2});
    (void)b.access(seq[5]);
    checkCounts(b.stats(), 6, 2, 4, 2);
    runAll(l, seq);
    checkCounts(l.stats(), 6, 0, 6, 4);
    // ties (both never used again): the lower id goes
    LayerCache t = make(Policy::Belady, 2);
    t.setFuture({{0}, {1}, {2}});
    runAll(t, {{0}, {1}, {2}});
    CHECK(contents(t) == std::vector<int32_t>{2, 1});
}

TEST_CASE("expert cache: a step that needs more experts than slots runs in passes") {
    LayerCache c = make(Policy::LRU, 2);
    runAll(c, {{0}, {1}});
    auto passes = c.access({2, 0, 3, 1, 4});
    REQUIRE(passes.size() == 3);
    // hits first, then the misses in first-use order, cut into passes of 2
    CHECK(passes[0].experts == std::vector<int32_t>{0, 1});
    CHECK(passes[0].slots == std::vector<uint32_t>{0, 1});
    CHECK(passes[0].loads.empty());
    CHECK(passes[1].experts == std::vector<int32_t>{2, 3});
    CHECK(passes[1].slots == std::vector<uint32_t>{0, 1});  // 2 evicts 0 (used before 1 in this call)
    REQUIRE(passes[1].loads.size() == 2);
    CHECK(passes[1].loads[0].expert == 2);
    CHECK(passes[1].loads[1].slot == 1);
    CHECK(passes[2].experts == std::vector<int32_t>{4});
    CHECK(passes[2].slots == std::vector<uint32_t>{0});  // 4 evicts 2, never 4's own pass
    checkCounts(c.lastStep(), 5, 2, 3, 3);
    CHECK(contents(c) == std::vector<int32_t>{4, 3});
    // every pass's experts are resident in its slots after its loads: replay the plan
    LayerCache d = make(Policy::LFU, 3, 16);
    std::vector<int32_t> slot(3, -1);
    for (const auto& need : std::vector<std::vector<int32_t>>{{1, 2, 3, 4, 5, 6, 7}, {7, 8, 1, 9}, {2, 3, 4, 10, 11}}) {
        for (const Pass& p : d.access(need)) {
            CHECK(p.experts.size() <= 3);
            for (const Load& ld : p.loads) slot[ld.slot] = ld.expert;
            for (size_t i = 0; i < p.experts.size(); ++i) CHECK(slot[p.slots[i]] == p.experts[i]);
        }
    }
}

TEST_CASE("expert cache: prefetch accounting") {
    LayerCache c = make(Policy::LRU, 2, 16);
    (void)c.access({0});
    auto loads = c.prefetch({1, 2});  // 1 into the empty slot, 2 evicts 0
    REQUIRE(loads.size() == 2);
    CHECK(loads[0].expert == 1);
    CHECK(loads[0].slot == 1);
    CHECK(loads[0].prefetch);
    CHECK(loads[1].slot == 0);
    CHECK(c.lastStep().prefetches == 2);
    CHECK(c.lastStep().accesses == 1);  // the access before it and the prefetch after it
    CHECK(c.slots()[0].last == SlotEvent::Prefetched);
    auto passes = c.access({1, 3});  // 1 prefetched and used; 2 prefetched and wasted; 3 evicts 2
    REQUIRE(passes.size() == 1);
    CHECK(passes[0].loads.size() == 1);
    const CacheStats& s = c.lastStep();
    checkCounts(s, 2, 1, 1, 1);
    CHECK(s.prefetches == 0);
    CHECK(s.prefetchUsed == 1);
    CHECK(s.prefetchWasted == 1);
    CHECK(contents(c) == std::vector<int32_t>{3, 1});
    CHECK(c.slots()[0].last == SlotEvent::Miss);
    CHECK(c.slots()[1].last == SlotEvent::Hit);
    checkCounts(c.stats(), 3, 1, 2, 2);
    CHECK(c.stats().prefetches == 2);
    CHECK(c.stats().bytesUploaded == 400);

    // a predicted expert already resident is kept and not reloaded; at most `slots` loads
    loads = c.prefetch({3, 4, 5});  // 3 resident and kept: 4 evicts 1; 5 finds no slot
    REQUIRE(loads.size() == 1);
    CHECK(loads[0].expert == 4);
    CHECK(contents(c) == std::vector<int32_t>{3, 4});
    // a prefetch is not a use: 5 evicts 4, which LRU sees as never used (and which is a wasted
    // prefetch), not 3; then 6 evicts 3; 7 finds no slot
    loads = c.prefetch({5, 6, 7});
    CHECK(loads.size() == 2);
    CHECK(c.stats().prefetchWasted == 2);
    CHECK(contents(c) == std::vector<int32_t>{6, 5});
    (void)c.access({6, 8});  // 6 used, 5 wasted, 8 evicts 5
    CHECK(contents(c) == std::vector<int32_t>{6, 8});
    CHECK(c.stats().prefetchUsed == 2);
    CHECK(c.stats().prefetchWasted == 3);
    // the idle and empty slot states
    (void)c.access({8});
    CHECK(c.slots()[1].last == SlotEvent::Hit);
    CHECK(c.slots()[0].last == SlotEvent::Idle);
    CHECK(make(Policy::LRU, 2).slots()[0].last == SlotEvent::Empty);
}

TEST_CASE("expert cache: switching the policy keeps the residents") {
    LayerCache c = make(Policy::LRU, 2);
    runAll(c, {{0}, {0}, {1}});
    REQUIRE(c.setPolicy(Policy::LFU).ok());
    CHECK(c.policy() == Policy::LFU);
    CHECK(contents(c) == std::vector<int32_t>{0, 1});
    (void)c.access({2});  // LFU with the history kept: 1 (count 1) goes, not 0 (LRU's choice)
    CHECK(contents(c) == std::vector<int32_t>{0, 2});
    CHECK(!c.setPolicy(Policy::Static).ok());  // no ranks yet
    CHECK(c.policy() == Policy::LFU);
    CHECK(!c.setPolicy(Policy::Static, {1, 2}).ok());  // wrong size
    std::vector<float> rank(8, 0.0f);
    rank[2] = 9;
    REQUIRE(c.setPolicy(Policy::Static, rank).ok());
    (void)c.access({3});  // 0 has rank 0, 2 rank 9
    CHECK(contents(c) == std::vector<int32_t>{3, 2});
    checkCounts(c.stats(), 5, 1, 4, 2);
}

TEST_CASE("expert cache: place fills a warm cache without counting loads") {
    LayerCache c = make(Policy::LRU, 2);
    c.place(5, 1);
    c.place(6, 0);
    c.place(9, 0);  // out of range: ignored
    CHECK(contents(c) == std::vector<int32_t>{6, 5});
    (void)c.access({5, 6});
    checkCounts(c.stats(), 2, 2, 0, 0);
    CHECK(c.stats().bytesUploaded == 0);
    c.place(5, 0);  // moves 5, replacing 6
    CHECK(contents(c) == std::vector<int32_t>{5, -1});
    CHECK(c.slotOf()[6] == -1);
}
