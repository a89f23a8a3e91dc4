// The expert cache's bookkeeping (expert_cache.h): slot table, victim order of each policy,
// passes for requests wider than the cache, prefetch accounting. These rules are the spec that
// the Vulkan engine and the offline simulator share; docs/cache.md states them for users.
#include "trace/expert_cache.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>

namespace moe::cache {

namespace {

constexpr Policy kPolicies[] = {Policy::LRU, Policy::LFU, Policy::LFRU, Policy::Static, Policy::Belady};

Status checkRank(const std::vector<float>& rank, uint32_t nExpert) {
    if (rank.size() != nExpert)
        return makeError("static cache ranks: " + std::to_string(rank.size()) + " values for " + std::to_string(nExpert) +
                         " experts");
    for (float r : rank)
        if (!std::isfinite(r)) return makeError("static cache ranks: a rank is not a finite number");
    return {};
}

}  // namespace

const char* policyName(Policy p) {
    switch (p) {
    case Policy::LRU: return "lru";
    case Policy::LFU: return "lfu";
    case Policy::LFRU: return "lfru";
    case Policy::Static: return "static";
    case Policy::Belady: return "belady";
    }
    return "?";
}

Result<Policy> parsePolicy(const std::string& name) {
    std::string low = name;
    for (char& c : low) c = char(std::tolower(static_cast<unsigned char>(c)));
    for (Policy p : kPolicies)
        if (low == policyName(p)) return p;
    return makeError("unknown cache policy '" + name.substr(0, 64) + "' (valid: lru, lfu, lfru, static, belady)");
}

CacheStats& CacheStats::operator+=(const CacheStats& o) {
    accesses += o.accesses;
    hits += o.hits;
    misses += o.misses;
    evictions += o.evictions;
    prefetches += o.prefetches;
    prefetchUsed += o.prefetchUsed;
    prefetchWasted += o.prefetchWasted;
    bytesUploaded += o.bytesUploaded;
    waitMs += o.waitMs;
    return *this;
}

CacheStats difference(const CacheStats& a, const CacheStats& b) {
    CacheStats d;
    d.accesses = a.accesses - b.accesses;
    d.hits = a.hits - b.hits;
    d.misses = a.misses - b.misses;
    d.evictions = a.evictions - b.evictions;
    d.prefetches = a.prefetches - b.prefetches;
    d.prefetchUsed = a.prefetchUsed - b.prefetchUsed;
    d.prefetchWasted = a.prefetchWasted - b.prefetchWasted;
    d.bytesUploaded = a.bytesUploaded - b.bytesUploaded;
    d.waitMs = a.waitMs - b.waitMs;
    return d;
}

Result<LayerCache> LayerCache::create(const LayerCacheOptions& opts) {
    if (opts.nExpert == 0) return makeError("expert cache: the layer has no experts");
    if (opts.slots == 0 || opts.slots > opts.nExpert)
        return makeError("expert cache: " + std::to_string(opts.slots) + " slots for " + std::to_string(opts.nExpert) +
                         " experts (need 1.." + std::to_string(opts.nExpert) + ")");
    if (!(opts.lfruDecay > 0.0 && opts.lfruDecay <= 1.0))
        return makeError("expert cache: the LFRU decay must be in (0, 1]");
    if (opts.policy == Policy::Static || !opts.staticRank.empty()) MOE_TRY(checkRank(opts.staticRank, opts.nExpert));
    LayerCache c;
    c.opts_ = opts;
    const size_t E = opts.nExpert;
    c.slotOf_.assign(E, -1);
    c.occupant_.assign(opts.slots, -1);
    c.lastEvent_.assign(opts.slots, SlotEvent::Empty);
    c.lastUse_.assign(E, 0);
    c.useCount_.assign(E, 0);
    c.lfruScore_.assign(E, 0.0);
    c.prefetched_.assign(E, 0);
    c.mark_.assign(E, 0);
    return c;
}

void LayerCache::setFuture(std::vector<std::vector<int32_t>> future) {
    future_ = std::move(future);
    futurePos_ = 0;
    futureUses_.assign(opts_.nExpert, {});
    futureNext_.assign(opts_.nExpert, 0);
    for (size_t i = 0; i < future_.size(); ++i)
        for (int32_t e : future_[i])
            if (e >= 0 && uint32_t(e) < opts_.nExpert &&
                (futureUses_[size_t(e)].empty() || futureUses_[size_t(e)].back() != i))
                futureUses_[size_t(e)].push_back(uint32_t(i));
}

size_t LayerCache::nextUse(int32_t e) {
    if (futureUses_.empty()) return SIZE_MAX;
    const std::vector<uint32_t>& uses = futureUses_[size_t(e)];
    size_t& i = futureNext_[size_t(e)];
    while (i < uses.size() && uses[i] < futurePos_) ++i;  // futurePos_ only grows
    return i < uses.size() ? uses[i] : SIZE_MAX;
}

// True when `a` is evicted before `b`. Each policy's own key first; ties go to the least recently
// used, then to the lower expert id (Belady: farthest next use, ties to the lower id).
bool LayerCache::evictsBefore(int32_t a, int32_t b) {
    const size_t ia = size_t(a), ib = size_t(b);
    switch (opts_.policy) {
    case Policy::LRU: break;
    case Policy::LFU:
        if (useCount_[ia] != useCount_[ib]) return useCount_[ia] < useCount_[ib];
        break;
    case Policy::LFRU:
        if (lfruScore_[ia] != lfruScore_[ib]) return lfruScore_[ia] < lfruScore_[ib];
        break;
    case Policy::Static:
        if (opts_.staticRank[ia] != opts_.staticRank[ib]) return opts_.staticRank[ia] < opts_.staticRank[ib];
        break;
    case Policy::Belady: {
        const size_t na = nextUse(a), nb = nextUse(b);
        if (na != nb) return na > nb;
        return a < b;
    }
    }
    if (lastUse_[ia] != lastUse_[ib]) return lastUse_[ia] < lastUse_[ib];
    return a < b;
}

// The lowest empty slot, else the slot of the policy's victim among occupants not marked in
// `keep`; -1 when every occupant is kept.
int32_t LayerCache::freeOrVictim(const std::vector<uint8_t>& keep) {
    for (uint32_t s = 0; s < opts_.slots; ++s)
        if (occupant_[s] < 0) return int32_t(s);
    int32_t best = -1;
    for (uint32_t s = 0; s < opts_.slots; ++s) {
        const int32_t e = occupant_[s];
        if (keep[size_t(e)]) continue;
        if (best < 0 || evictsBefore(e, occupant_[size_t(best)])) best = int32_t(s);
    }
    return best;
}

void LayerCache::evict(uint32_t slot, CacheStats& d) {
    const int32_t e = occupant_[slot];
    if (e < 0) return;
    if (prefetched_[size_t(e)]) {  // loaded ahead and gone before any access used it
        prefetched_[size_t(e)] = 0;
        ++d.prefetchWasted;
    }
    slotOf_[size_t(e)] = -1;
    occupant_[slot] = -1;
    ++d.evictions;
}

void LayerCache::load(int32_t e, uint32_t slot, CacheStats& d) {
    evict(slot, d);
    occupant_[slot] = e;
    slotOf_[size_t(e)] = int32_t(slot);
    d.bytesUploaded += opts_.expertBytes;
}

std::vector<Pass> LayerCache::access(const std::vector<int32_t>& needed) {
    CacheStats d;
    if (!futureUses_.empty()) ++futurePos_;  // this call consumes one entry of the future
    for (uint32_t s = 0; s < opts_.slots; ++s) lastEvent_[s] = occupant_[s] < 0 ? SlotEvent::Empty : SlotEvent::Idle;

    // the request: valid distinct ids in first-use order, split into hits and misses
    std::vector<int32_t> order, hits, misses;
    for (int32_t e : needed) {
        if (e < 0 || uint32_t(e) >= opts_.nExpert || mark_[size_t(e)]) continue;
        mark_[size_t(e)] = 1;
        order.push_back(e);
        (slotOf_[size_t(e)] >= 0 ? hits : misses).push_back(e);
    }
    d.accesses = order.size();
    d.hits = hits.size();
    d.misses = misses.size();

    // prefetches are judged by this, the next access of their layer
    for (uint32_t e = 0; e < opts_.nExpert; ++e)
        if (prefetched_[e]) {
            prefetched_[e] = 0;
            ++(mark_[e] ? d.prefetchUsed : d.prefetchWasted);
        }
    for (int32_t e : order) mark_[size_t(e)] = 0;

    // recency, frequency and LFRU score of every needed expert, resident or not
    for (double& s : lfruScore_) s *= opts_.lfruDecay;
    for (int32_t e : order) {
        lastUse_[size_t(e)] = ++clock_;
        ++useCount_[size_t(e)];
        lfruScore_[size_t(e)] += 1.0;
    }

    // hits first (they fit: at most `slots` experts are resident), so that all of them are in
    // the first pass, before any load of this call could evict one
    std::vector<int32_t>& work = hits;
    work.insert(work.end(), misses.begin(), misses.end());

    // passes of at most `slots` experts; a pass's loads never evict an expert of that pass
    std::vector<Pass> passes;
    for (size_t begin = 0; begin < work.size(); begin += opts_.slots) {
        const size_t end = std::min(work.size(), begin + opts_.slots);
        Pass p;
        for (size_t i = begin; i < end; ++i) mark_[size_t(work[i])] = 1;
        for (size_t i = begin; i < end; ++i) {
            const int32_t e = work[i];
            int32_t s = slotOf_[size_t(e)];
            if (s >= 0) {
                lastEvent_[size_t(s)] = SlotEvent::Hit;
            } else {
                s = freeOrVictim(mark_);  // never -1: the pass holds at most `slots` experts
                load(e, uint32_t(s), d);
                lastEvent_[size_t(s)] = SlotEvent::Miss;
                p.loads.push_back(Load{e, uint32_t(s), false});
            }
            p.experts.push_back(e);
            p.slots.push_back(uint32_t(s));
        }
        for (size_t i = begin; i < end; ++i) mark_[size_t(work[i])] = 0;
        passes.push_back(std::move(p));
    }
    step_ = d;
    total_ += d;
    return passes;
}

std::vector<Load> LayerCache::prefetch(const std::vector<int32_t>& predicted) {
    CacheStats d;
    std::vector<Load> loads;
    std::vector<int32_t> marked;
    for (int32_t e : predicted)  // every predicted expert is kept, resident or loaded here
        if (e >= 0 && uint32_t(e) < opts_.nExpert && !mark_[size_t(e)]) {
            mark_[size_t(e)] = 1;
            marked.push_back(e);
        }
    for (int32_t e : marked) {
        if (slotOf_[size_t(e)] >= 0) continue;
        const int32_t s = freeOrVictim(mark_);
        if (s < 0) break;  // every slot holds a predicted expert
        load(e, uint32_t(s), d);
        prefetched_[size_t(e)] = 1;
        lastEvent_[size_t(s)] = SlotEvent::Prefetched;
        ++d.prefetches;
        loads.push_back(Load{e, uint32_t(s), true});
    }
    for (int32_t e : marked) mark_[size_t(e)] = 0;
    step_ += d;
    total_ += d;
    return loads;
}

std::vector<SlotView> LayerCache::slots() const {
    std::vector<SlotView> v(opts_.slots);
    for (uint32_t s = 0; s < opts_.slots; ++s) v[s] = SlotView{occupant_[s], lastEvent_[s]};
    return v;
}

Status LayerCache::setPolicy(Policy p, std::vector<float> staticRank) {
    if (!staticRank.empty()) {
        MOE_TRY(checkRank(staticRank, opts_.nExpert));
        opts_.staticRank = std::move(staticRank);
    }
    if (p == Policy::Static && opts_.staticRank.empty())
        return makeError("the static cache policy needs expert ranks learned from a trace");
    opts_.policy = p;
    return {};
}

void LayerCache::place(int32_t expert, uint32_t slot) {
    if (expert < 0 || uint32_t(expert) >= opts_.nExpert || slot >= opts_.slots) return;
    const int32_t old = slotOf_[size_t(expert)];
    if (old >= 0) {
        occupant_[size_t(old)] = -1;
        lastEvent_[size_t(old)] = SlotEvent::Empty;
    }
    const int32_t prev = occupant_[slot];
    if (prev >= 0) {
        slotOf_[size_t(prev)] = -1;
        prefetched_[size_t(prev)] = 0;
    }
    occupant_[slot] = expert;
    slotOf_[size_t(expert)] = int32_t(slot);
    lastEvent_[slot] = SlotEvent::Idle;
}

}  // namespace moe::cache
