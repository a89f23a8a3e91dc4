// Routing traces: the routing of every token of a text (per layer: selected experts, weights,
// router probabilities, entropy, active count) with the model and policy that produced it,
// optionally the forward steps, the cross-layer gate's predictions and the expert cache's live
// telemetry, and its two file forms, JSON Lines (.jsonl) and a compact binary (.mstrace). The
// format is specified, versioned, in docs/trace-format.md. Readers take untrusted files: every size and
// index is checked, and a bad file is a one-line error naming the file, line or offset, never a
// crash.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "trace/expert_cache.h"

namespace moe::trace {

inline constexpr const char* kFormatName = "moescope-trace";
// Readers take versions kMinFormatVersion..kFormatVersion. Writers write the lowest version that
// holds the file: 2 only for a binary file with the optional sections (steps, predictions,
// cache telemetry); JSON Lines stays 1 (its additions are keys a version-1 reader ignores).
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kMinFormatVersion = 1;
// Reader limits (far above any supported model; they bound what a hostile file can allocate).
inline constexpr uint32_t kMaxLayers = 4096;
inline constexpr uint32_t kMaxExperts = 65535;  // ids are uint16 in .mstrace, 0xFFFF = none
inline constexpr uint32_t kMaxRowWidth = 255;   // counts are uint8 in .mstrace

// The expert cache a trace was recorded with (the header's `cache` object).
struct CacheSetting {
    std::string policy;   // cache::policyName text: "lru", "lfu", "lfru", "static"
    uint32_t slots = 0;   // expert slots per layer, 1..nExpert; 0: no cache (everything resident)
    bool prefetch = false;
};

// The header: what produced the trace.
struct TraceInfo {
    std::string model;                    // general.name of the model (or the file name)
    std::string arch;                     // general.architecture ("qwen2moe", ...)
    std::string policy = "model";         // routing policy (cpu/routing_policy.h text form)
    std::string mode = "teacher-forced";  // "teacher-forced" or "generated"
    std::string backend;                  // e.g. "Vulkan (llvmpipe ...)", "CPU reference"
    uint32_t nLayer = 0, nExpert = 0;
    uint32_t k = 0;                       // the model's own experts per token (expert_used_count)
    uint32_t kMax = 0;                    // row width: no token selects more experts in a layer
    uint32_t ctx = 0;                     // context window the tokens were evaluated in (0: unknown)
    bool hasProbs = true;                 // full router probability vectors present
    int32_t probDigits = -1;              // probabilities rounded to this many decimals (-1: exact)
    std::vector<uint64_t> expertBytes;    // (nLayer) bytes of one routed expert per layer; empty: unknown
    CacheSetting cache;                   // the expert cache the engine ran with (slots 0: none)
};

// Per token t and layer l (token-major). Invariants (validate()): ids[t,l,0..count) are distinct
// experts < nExpert, the rest of the row is -1 and its weights 0; 0 <= count <= kMax. Optional
// (empty when absent): steps start at 0 and grow by 0 or 1 from token to token; a pred row is
// distinct experts < nExpert then -1 padding, layer 0's row is all -1; cache holds one entry per
// step and layer, hits + misses = accesses, and needs info.cache.slots > 0.
struct Trace {
    TraceInfo info;
    std::vector<int32_t> tokens;      // (T) token ids in evaluation order
    std::vector<int32_t> positions;   // (T) position of each token in its context window
    std::vector<std::string> pieces;  // (T) token text, or empty (not recorded)
    std::vector<int32_t> counts;      // (T, nLayer) active experts
    std::vector<int32_t> ids;         // (T, nLayer, kMax) selected experts in rank order, -1 padded
    std::vector<float> weights;       // (T, nLayer, kMax) combine weights, 0 padded
    std::vector<float> entropy;       // (T, nLayer) router entropy in nats (of the full probabilities)
    std::vector<float> probs;         // (T, nLayer, nExpert) when info.hasProbs, else empty
    // Optional additions (version 2 in the binary form):
    std::vector<int32_t> steps;       // (T) the forward step that evaluated each token; tokens of one
                                      // step ran together (a prefill batch). Empty: one token per step
    std::vector<int32_t> pred;        // (T, nLayer, kMax) experts the cross-layer gate predicted for
                                      // layer l from layer l-1's output, -1 padded; or empty
    std::vector<cache::CacheStats> cache;  // (nSteps, nLayer) the live cache's counters per step; or empty

    size_t nTokens() const { return tokens.size(); }
    size_t row(size_t t, uint32_t layer) const { return t * info.nLayer + layer; }
    const int32_t* idsAt(size_t t, uint32_t layer) const { return ids.data() + row(t, layer) * info.kMax; }
    const float* weightsAt(size_t t, uint32_t layer) const { return weights.data() + row(t, layer) * info.kMax; }
    int32_t countAt(size_t t, uint32_t layer) const { return counts[row(t, layer)]; }
    const float* probsAt(size_t t, uint32_t layer) const { return probs.data() + row(t, layer) * info.nExpert; }
    size_t nSteps() const { return steps.empty() ? tokens.size() : size_t(steps.back()) + 1; }
    int32_t stepOf(size_t t) const { return steps.empty() ? int32_t(t) : steps[t]; }
    const int32_t* predAt(size_t t, uint32_t layer) const { return pred.data() + row(t, layer) * info.kMax; }
};

// The token index where each step begins, then nTokens(): step s is tokens [b[s], b[s+1]).
std::vector<size_t> stepBegins(const Trace& trace);

// The routing of nTok consecutive tokens, layer-major, as one forward step produced it
// (rt::RoutingRecord's layout): ids/weights (nLayer, nTok, kMax), counts (nLayer, nTok),
// probs (nLayer, nTok, nExpert) or null. Optional: pred (nLayer, nTok, kMax), -1 padded, the
// cross-layer gate's prediction for each layer (layer 0's rows all -1); cache (nLayer) the
// step's expert-cache counters per layer, e.g. cache::difference of LayerCache::stats()
// snapshots taken before and after the step.
struct StepView {
    uint32_t nTok = 0, nLayer = 0, kMax = 0, nExpert = 0;
    const int32_t* ids = nullptr;
    const float* weights = nullptr;
    const int32_t* counts = nullptr;
    const float* probs = nullptr;
    const int32_t* pred = nullptr;
    const cache::CacheStats* cache = nullptr;
};

// Appends one forward step's tokens (tokens[i] at position pos0 + i; pieces may be null). Each
// call is one step: a call with several tokens records `steps` (from then on every call does).
// The trace row width grows to the step's if it is wider. Pieces, pred and cache must be given
// for every step or for none; cache also needs trace.info.cache.slots > 0. Errors: a layer/
// expert count that differs from the trace's, probabilities missing while the trace has them,
// invalid ids or counts.
Status append(Trace& trace, const StepView& step, const int32_t* tokens, uint32_t pos0,
              const std::vector<std::string>* pieces = nullptr);

// Checks every invariant above (sizes, ranges, distinct ids, padding, finite numbers).
Status validate(const Trace& trace);

struct WriteOptions {
    bool probs = true;      // write the probability vectors (if the trace has them)
    int32_t probDigits = -1;  // round probabilities to this many decimals (-1: exact float round trip)
};

// Writes JSON Lines, or the binary form when the path ends in ".mstrace".
Status writeTrace(const std::string& path, const Trace& trace, const WriteOptions& opts = {});
// Reads either form (the binary one is recognised by its magic bytes).
Result<Trace> readTrace(const std::string& path);

// The two forms in memory (fuzz targets and tests). `name` prefixes error messages.
std::string toJsonl(const Trace& trace, const WriteOptions& opts = {});
Result<Trace> parseJsonl(std::string_view text, const std::string& name = "trace");
std::vector<uint8_t> toBinary(const Trace& trace, const WriteOptions& opts = {});
Result<Trace> parseBinary(const uint8_t* data, size_t size, const std::string& name = "trace");

// Rounds p to `digits` decimals (digits < 0: unchanged), as the writers do.
float roundProb(float p, int32_t digits);

}  // namespace moe::trace
