// The offline expert-cache simulator: replays a routing trace through the policies of
// expert_cache.h, at several cache sizes, and reports hits, misses, evictions and bytes moved,
// including Belady's optimum (MIN), which no online policy beats without prefetch. It makes the
// calls the engine makes, in the same order (see replay()), so a trace recorded with the live
// cache replays to the same counters.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "trace/expert_cache.h"
#include "trace/trace.h"

namespace moe::cache {

struct SimOptions {
    std::vector<uint32_t> slots;    // cache sizes to simulate, experts per layer, each 1..n_expert
    std::vector<Policy> policies;   // empty: all five (with prefetch: the online ones prefetching,
                                    // Belady without, as the reference)
    bool prefetch = false;          // prefetch each next layer's predicted experts (the trace's `pred`)
    // Static's ranks are learned from this trace; null: from the simulated trace itself, which is
    // optimistic (the hot set has seen the text it is judged on).
    const trace::Trace* staticFrom = nullptr;
    // Bytes of one expert: empty: the trace header's `expert_bytes` (or unknown); one value: every
    // layer; n_layer values: per layer.
    std::vector<uint64_t> expertBytes;
    bool perToken = false;  // every token its own step (as in decode), ignoring the trace's steps
};

// One policy at one size, summed over every step and layer.
struct SimRow {
    Policy policy = Policy::LRU;
    uint32_t slots = 0;
    bool prefetch = false;
    CacheStats stats;
    uint64_t tokens = 0, steps = 0;
    bool bytesKnown = false;  // false: the expert size is unknown and stats.bytesUploaded is 0
    double hitRate() const { return stats.hitRate(); }
    double bytesPerToken() const { return tokens ? double(stats.bytesUploaded) / double(tokens) : 0.0; }
};

// Every row: for each size in opts.slots (outer), each policy (inner). Errors: a size outside
// 1..n_expert, prefetch on a trace without predictions, Belady asked for with prefetch, a
// static-rank trace of another shape, expert sizes that do not match the layers.
Result<std::vector<SimRow>> simulate(const trace::Trace& trace, const SimOptions& opts);

// One run with per-step counters, laid out like a trace's cache telemetry: (nSteps, nLayer).
// For each step s and layer l in order: caches[l].access(needed) with needed the distinct experts
// of the step's tokens in token-major, rank order; then, with prefetch and l + 1 < nLayer,
// caches[l + 1].prefetch(the union, same order, of the step's predictions for layer l + 1).
// A step's counters are the difference of each layer's totals before and after the step, so a
// prefetch counts in the step and layer it loads into. The caches start empty.
struct Replay {
    std::vector<CacheStats> perStep;  // (nSteps, nLayer)
    CacheStats total;
    uint64_t tokens = 0, steps = 0;
};
Result<Replay> replay(const trace::Trace& trace, Policy policy, uint32_t slots, const SimOptions& opts);

// Static ranks: per layer, how many tokens of the trace selected each expert (nLayer x nExpert).
// Errors when the trace's shape is not nLayer x nExpert.
Result<std::vector<std::vector<float>>> learnStaticRank(const trace::Trace& trace, uint32_t nLayer, uint32_t nExpert);

// Cache sizes from "8", "25%" or "2,4,50%" (a percentage of nExpert, rounded to the nearest
// integer, at least 1). Duplicates are dropped; errors name the bad entry.
Result<std::vector<uint32_t>> parseSlots(const std::string& list, uint32_t nExpert);

// The trace's live cache telemetry summed over steps and layers (zero when it has none).
CacheStats liveTotals(const trace::Trace& trace);

}  // namespace moe::cache
