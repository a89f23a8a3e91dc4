// Routing statistics of a trace: per-layer expert load and imbalance, router entropy, active
// experts, inter-layer transitions, and the local routing consistency metrics SRP and SCH of
// Liang et al., "Not All Models Suit Expert Offloading: On Local Routing Consistency of
// Mixture-of-Expert Models" (arXiv 2505.16056). `moescope stats` and the GUI share this code.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "trace/trace.h"

namespace moe::trace {

// One layer's selections: sel[t] = the experts token t was routed to.
using Selections = std::vector<std::vector<int32_t>>;

// SRP: Segment Routing Best Performance. A segment is m consecutive tokens (every start,
// stride 1). "Segment routing" sends every token of a segment s to one expert set; the set
// made of the experts that token-level routing activated at least tau times in s is
//   S_s(tau) = { e : c_s(e) >= tau },   c_s(e) = #tokens of s routed to e.
// Against the token-level routing, summed over the segments:
//   matches M(tau) = sum_s sum_{e in S_s(tau)} c_s(e),  predictions P(tau) = sum_s m |S_s(tau)|,
//   activations A = sum_s sum_e c_s(e),  F1(tau) = 2 M / (P + A),
// and SRP = max over tau in 0..m of F1(tau): how well a fixed expert group per segment can
// serve the segment (1: every segment routes all its tokens to the same experts). This is the
// authors' definition as their code (ljcleo/moe-lrc, src/30_srp_calc.py + 31_srp_refine.py)
// computes it: one threshold for all segments of a layer, F1 micro-averaged over segments.
// The model-level SRP sums M, P and A over layers before taking the maximum.
struct SrpTally {
    std::vector<double> matches, predictions;  // (m + 1) indexed by tau
    double activations = 0;
    uint64_t segments = 0;
    void add(const SrpTally& o);
    double best() const;  // max_tau F1(tau); NaN without segments
};
SrpTally srpTally(const Selections& sel, uint32_t nExpert, uint32_t m);

// SCH: Segment Cache Best Hit Rate, with segment length m and cache size C (per layer). A cache
// of C experts serves the tokens in order, knowing the next m tokens' routing (the final,
// ICLR 2026 definition: "the hit rate of an expert cache utilizing a length of future
// information under a cache limit"; src/41_sch_calc.py of the authors' code). Token t's experts
// are looked up in the cache as it was before t (all of them are needed at once); a hit is an
// expert found there, and an expert used for the first time while fewer than C distinct experts
// have been seen is also a hit (an empty slot could have been filled ahead of time). Then each
// requested expert, in the token's order, is loaded if absent, evicting the cached expert with
// the lowest priority (number of uses among tokens t..t+m-1 not yet served, then least recently
// used). SCH = hits / requests. C >= n_expert gives 1.
double sch(const Selections& sel, uint32_t nExpert, uint32_t m, uint32_t cacheSize);

// The first version's SCH (arXiv v1, src/40_sch_calc.py): the best hit rate of a cache whose
// content is fixed during a segment of m tokens and chosen knowing the segment, i.e. per segment
// the C experts with the largest c_s(e): SCH_static = sum_s (sum of the C largest c_s(e)) / A.
double schStatic(const Selections& sel, uint32_t nExpert, uint32_t m, uint32_t cacheSize);

struct StatsOptions {
    uint32_t segment = 16;    // m of SRP and SCH
    uint32_t cacheSize = 0;   // C of SCH, per layer (0: 2 x the model's k, the paper's suggestion)
};

struct LayerStats {
    // false: no token selected an expert here (a dense FFN layer: DeepSeek's leading layers);
    // such a layer is left out of the model-wide means
    bool routed = true;
    std::vector<uint64_t> load;  // (nExpert) tokens routed to each expert
    std::vector<double> mass;    // (nExpert) routing mass: the sum of each expert's combine weights
    double maxOverMean = 0;      // max(load) / mean(load)
    double cv = 0;               // coefficient of variation of load: std / mean (population std)
    double meanEntropy = 0;      // router entropy, nats, mean over tokens
    double meanActive = 0;       // experts per token
    double srp = std::numeric_limits<double>::quiet_NaN();
    double sch = std::numeric_limits<double>::quiet_NaN();
    double schStatic = std::numeric_limits<double>::quiet_NaN();
    // (nExpert, nExpert) row i, column j: P(expert j at layer l+1 | expert i at layer l) =
    // #tokens routed to i here and to j in the next layer / #tokens routed to i here. A row sums
    // to the mean number of experts those tokens use at l+1 (0 for an unused i). Empty for the
    // last layer.
    std::vector<double> transition;
};

struct TraceStats {
    TraceInfo info;
    uint64_t nTokens = 0;
    StatsOptions opts;             // with the cache size resolved
    std::vector<LayerStats> layers;
    double meanEntropy = 0;        // over tokens and layers
    double meanActive = 0;         // experts per token and layer
    double activePerToken = 0;     // summed over layers
    double expertFlopsShare = 0;   // routed-expert FLOPs relative to the model's k per layer
    double srp = std::numeric_limits<double>::quiet_NaN();  // model level (tallies summed over layers)
    double sch = std::numeric_limits<double>::quiet_NaN();  // mean over layers
    double schStatic = std::numeric_limits<double>::quiet_NaN();
};

Result<TraceStats> computeStats(const Trace& trace, const StatsOptions& opts);

// Text table (transition matrices only when asked: they are nExpert^2 per layer) and JSON.
std::string formatStats(const TraceStats& s, bool transitions = false);
std::string statsJson(const TraceStats& s);

// One layer's selections from a trace.
Selections layerSelections(const Trace& trace, uint32_t layer);

}  // namespace moe::trace
