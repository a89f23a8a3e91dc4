// The expert cache's bookkeeping, shared by the Vulkan engine (runtime/, which moves the bytes)
// and the offline simulator (trace/cache_sim.h, which only counts them): per MoE layer a fixed
// number of device slots, which expert occupies each, the eviction policy, prefetch accounting
// and telemetry. No Vulkan here: the engine asks a LayerCache for a plan (which experts go to
// which slot, in which passes), performs it, and the simulator replays the same calls from a
// trace, so both see identical hits, misses and evictions.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace moe::cache {

// Victim order: each policy's key, then (ties) the least recently used, then the lower expert id;
// Belady breaks ties of its key by the lower id alone. Recency ticks once per needed expert in
// first-use order, so two experts used by the layer never tie on it.
enum class Policy {
    LRU,     // evict the least recently used expert
    LFU,     // evict the least frequently used (count of steps that needed it; ties: LRU)
    LFRU,    // frequency-weighted recency: score = decayed use count (decay per access of the layer); lowest goes
    Static,  // a hot set learned from a trace: evict the resident expert of lowest learned rank
    Belady,  // offline optimum (MIN): evict the expert whose next use is farthest in the future; simulator only
};

const char* policyName(Policy p);  // "lru", "lfu", "lfru", "static", "belady"
// Parses one name; error names the bad word and lists the valid ones.
Result<Policy> parsePolicy(const std::string& name);

// What happened in one layer during one step (or summed over steps/layers).
struct CacheStats {
    uint64_t accesses = 0;        // expert requests (distinct experts a step needed in a layer)
    uint64_t hits = 0;            // needed and already resident (including prefetched ones)
    uint64_t misses = 0;          // needed and loaded on demand
    uint64_t evictions = 0;       // a resident expert replaced (demand or prefetch load)
    uint64_t prefetches = 0;      // experts loaded ahead by prediction
    uint64_t prefetchUsed = 0;    // prefetched experts that the next access of their layer needed
    uint64_t prefetchWasted = 0;  // prefetched experts that it did not need (or evicted before)
    uint64_t bytesUploaded = 0;   // demand + prefetch loads x expert bytes
    double waitMs = 0;            // engine only: host time spent waiting for uploads/passes
    double hitRate() const { return accesses ? double(hits) / double(accesses) : 0.0; }
    CacheStats& operator+=(const CacheStats& o);
};
// a - b field by field (telemetry of a step from two snapshots of the totals).
CacheStats difference(const CacheStats& a, const CacheStats& b);

// Slot state as the GUI shows it.
enum class SlotEvent : uint8_t { Empty, Hit, Miss, Prefetched, Idle };
struct SlotView {
    int32_t expert = -1;           // occupant, -1 empty
    SlotEvent last = SlotEvent::Empty;  // what the last step did with this slot
};

// One load the engine must perform: copy `expert`'s weights into `slot`.
struct Load {
    int32_t expert = 0;
    uint32_t slot = 0;
    bool prefetch = false;
};

// A request that needs more experts than there are slots runs in passes; in each pass the
// listed experts are resident (after that pass's loads) and only they are computed.
struct Pass {
    std::vector<int32_t> experts;  // experts computed in this pass (resident after `loads`)
    std::vector<uint32_t> slots;   // the slot of each of `experts` during this pass (parallel array)
    std::vector<Load> loads;       // copies to perform before the pass computes
};

struct LayerCacheOptions {
    uint32_t nExpert = 0;
    uint32_t slots = 0;  // 1..nExpert
    Policy policy = Policy::LRU;
    uint64_t expertBytes = 0;            // bytes of one expert (gate + up + down), for bytesUploaded
    std::vector<float> staticRank;       // Static: per expert, higher = hotter (learned from a trace)
    double lfruDecay = 0.9;              // LFRU: scores are multiplied by this at every access(), (0, 1]
};

class LayerCache {
public:
    static Result<LayerCache> create(const LayerCacheOptions& opts);

    // The distinct experts one step needs in this layer, in first-use order (token-major, rank
    // order; invalid or repeated ids are skipped). Returns the passes: the request is ordered hits
    // first, then misses (each in first-use order) and cut into passes of at most nSlots() experts,
    // so every hit is in the first pass, before a load of this call could evict it; one pass when
    // it fits. A pass's misses go to the lowest empty slot, else to the policy's victim among
    // residents not in that pass. Prefetched experts are judged here (used if needed, else wasted). Recency,
    // frequency and LFRU scores are updated for every needed expert, before victims are chosen.
    // Belady consumes one entry of setFuture's list.
    std::vector<Pass> access(const std::vector<int32_t>& needed);

    // Loads predicted experts ahead of the layer's next access: each non-resident one goes to the
    // lowest empty slot or evicts the policy's victim; no predicted expert (resident or loaded by
    // this call) is evicted, so at most nSlots() loads happen. A prefetch is not a use: recency
    // and frequency are left alone. Returns the loads.
    std::vector<Load> prefetch(const std::vector<int32_t>& predicted);

    // Belady (simulator): the whole future sequence of this layer's accesses, one entry per
    // access() call to come, each the `needed` list that call will receive.
    void setFuture(std::vector<std::vector<int32_t>> future);

    // expert -> slot (-1 not resident), nExpert entries: the engine's slot table.
    const std::vector<int32_t>& slotOf() const { return slotOf_; }
    std::vector<SlotView> slots() const;
    const CacheStats& stats() const { return total_; }
    // Since the last access() began: reset by access(), prefetch() calls after it add to it. A
    // prefetch for a layer is issued before that layer's access of the same step, so per-step
    // telemetry that should include it is better taken as difference() of stats() snapshots.
    const CacheStats& lastStep() const { return step_; }
    void addWait(double ms) { total_.waitMs += ms; step_.waitMs += ms; }
    // Switches the eviction policy keeping the resident experts (run-time switch).
    Status setPolicy(Policy p, std::vector<float> staticRank = {});
    Policy policy() const { return opts_.policy; }
    uint32_t nSlots() const { return opts_.slots; }
    // Marks `expert` resident in `slot` without counting a load (initial fill of a warm cache).
    // A previous occupant of `slot` leaves without counting an eviction; out-of-range arguments
    // are ignored.
    void place(int32_t expert, uint32_t slot);

private:
    LayerCache() = default;
    bool evictsBefore(int32_t a, int32_t b);   // victim order of the current policy
    size_t nextUse(int32_t e);                 // Belady: index of e's next access, SIZE_MAX never
    int32_t freeOrVictim(const std::vector<uint8_t>& keep);  // slot to load into, -1 none
    void evict(uint32_t slot, CacheStats& d);
    void load(int32_t e, uint32_t slot, CacheStats& d);

    LayerCacheOptions opts_;
    std::vector<int32_t> slotOf_;   // expert -> slot
    std::vector<int32_t> occupant_;  // slot -> expert
    std::vector<SlotEvent> lastEvent_;
    std::vector<uint64_t> lastUse_, useCount_;
    std::vector<double> lfruScore_;
    std::vector<uint8_t> prefetched_;  // expert loaded by prefetch and not yet accessed
    std::vector<uint8_t> mark_;        // scratch, per expert: needed / in the pass / protected
    std::vector<std::vector<int32_t>> future_;
    std::vector<std::vector<uint32_t>> futureUses_;  // Belady: per expert, the future indices needing it
    std::vector<size_t> futureNext_;                 // per expert: first entry of futureUses_ not yet passed
    size_t futurePos_ = 0;  // access() calls consumed from future_
    uint64_t clock_ = 0;    // recency: ticks once per needed expert, in first-use order
    CacheStats total_, step_;
};

}  // namespace moe::cache
