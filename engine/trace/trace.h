// Routing traces: the routing of every token of a text (per layer: selected experts, weights,
// router probabilities, entropy, active count) with the model and policy that produced it, and
// its two file forms, JSON Lines (.jsonl) and a compact binary (.mstrace). The format is
// specified, versioned, in docs/trace-format.md. Readers take untrusted files: every size and
// index is checked, and a bad file is a one-line error naming the file, line or offset, never a
// crash.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace moe::trace {

inline constexpr const char* kFormatName = "moescope-trace";
inline constexpr uint32_t kFormatVersion = 1;
// Reader limits (far above any supported model; they bound what a hostile file can allocate).
inline constexpr uint32_t kMaxLayers = 4096;
inline constexpr uint32_t kMaxExperts = 65535;  // ids are uint16 in .mstrace, 0xFFFF = none
inline constexpr uint32_t kMaxRowWidth = 255;   // counts are uint8 in .mstrace

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
};

// Per token t and layer l (token-major). Invariants (validate()): ids[t,l,0..count) are distinct
// experts < nExpert, the rest of the row is -1 and its weights 0; 0 <= count <= kMax.
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

    size_t nTokens() const { return tokens.size(); }
    size_t row(size_t t, uint32_t layer) const { return t * info.nLayer + layer; }
    const int32_t* idsAt(size_t t, uint32_t layer) const { return ids.data() + row(t, layer) * info.kMax; }
    const float* weightsAt(size_t t, uint32_t layer) const { return weights.data() + row(t, layer) * info.kMax; }
    int32_t countAt(size_t t, uint32_t layer) const { return counts[row(t, layer)]; }
    const float* probsAt(size_t t, uint32_t layer) const { return probs.data() + row(t, layer) * info.nExpert; }
};

// The routing of nTok consecutive tokens, layer-major, as one forward step produced it
// (rt::RoutingRecord's layout): ids/weights (nLayer, nTok, kMax), counts (nLayer, nTok),
// probs (nLayer, nTok, nExpert) or null.
struct StepView {
    uint32_t nTok = 0, nLayer = 0, kMax = 0, nExpert = 0;
    const int32_t* ids = nullptr;
    const float* weights = nullptr;
    const int32_t* counts = nullptr;
    const float* probs = nullptr;
};

// Appends a step's tokens (tokens[i] at position pos0 + i; pieces may be null). The trace row
// width grows to the step's if it is wider. Errors: a layer/expert count that differs from the
// trace's, probabilities missing while the trace has them, invalid ids or counts.
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
