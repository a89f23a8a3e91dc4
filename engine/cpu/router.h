// CPU reference of the MoE router: gating (softmax or sigmoid + selection bias), selection
// policies (top-k, top-p) and interventions (mask, force, logit scale). The GPU router must
// reproduce these selections exactly, so every step below is specified, including ties.
//
// Per token, over logits l (nExpert):
//  1. Logit scale:   l[e] *= logitScale[e]                       (logitScale empty: no-op)
//  2. Probabilities: Softmax: p = softmax over unmasked experts (masked experts get p = 0, i.e.
//                    the mass is renormalised over the rest);
//                    Sigmoid: p[e] = sigmoid(l[e]), masked experts get p = 0.
//  3. Rank:          selection score s[e] = base[e] + selectionBias[e] (bias empty: 0) with
//                    base = the scaled logit l for Softmax (same order as p, but exact: no exp),
//                    base = p = sigmoid(l) for Sigmoid (DeepSeek-V3: bias on the sigmoid score).
//                    Experts are ranked by s descending (float compare);
//                    TIE RULE: equal s -> the lower expert id ranks first.
//                    Masked experts are never selected.
//  3b. Groups:       with nGroup > 1 the experts form nGroup groups of nExpert / nGroup
//                    consecutive ids. A group's score is the sum of the selection scores s of
//                    its two best unmasked experts (its one unmasked expert's score when it has
//                    one; -inf when none). The groupsUsed best groups (ties: lower group id)
//                    stay; the rank-order fill of step 4 takes experts of those groups only
//                    (forced experts are selected wherever they are).
//  4. Select:        forced experts (unmasked, in range, deduplicated, at most kMax of them, in
//                    list order) are always selected; then unmasked, non-forced experts are
//                    taken in rank order:
//                      TopK: until the count reaches max(k, #forced) (capped by kMax and by the
//                            number of unmasked experts);
//                      TopP: while count < kMax and the cumulative mass c < topP, where c is the
//                            float running sum of q[e] over selected experts in the order taken
//                            (forced first, then rank order) and q = p for softmax,
//                            q = p * float(1 / Σ_unmasked p) for sigmoid. At least 1 expert is
//                            selected (if any is unmasked).
//  5. Order:         the selected experts are written in rank order (ties: lower id first).
//  6. Weights:       w[e] = p[e] (sigmoid: the score without bias). normalize:
//                    w /= max(Σ_selected w, kWeightSumFloor). Then w *= routedScale.
// Outputs: ids (nTok, kMax) int32 padded with -1, weights (nTok, kMax) padded with 0,
// counts (nTok), and optionally the probability vector p (nTok, nExpert) for routing records.
#pragma once
#include <cstdint>
#include <vector>

#include "core/result.h"
#include "push_moe.h"  // MOE_ROUTE_CAP, shared with shaders/router.comp

namespace moe::cpu {

// The widest routing row (k, kMax) any router may produce, on every backend.
constexpr int kRouteCap = int(MOE_ROUTE_CAP);
// The floor of the renormalised weights' divisor (llama.cpp's: 2^-14, the smallest normal half).
constexpr float kWeightSumFloor = 6.103515625e-5f;
// Widest row for a layer of nExpert experts: min(nExpert, kRouteCap).
inline int routeWidthCap(int64_t nExpert) { return nExpert < kRouteCap ? int(nExpert) : kRouteCap; }

enum class Gating { Softmax, Sigmoid };
enum class Selection { TopK, TopP };

struct RouterParams {
    Gating gating = Gating::Softmax;
    Selection selection = Selection::TopK;
    int k = 2;                         // TopK: experts per token (per layer: the caller picks it)
    float topP = 1.0f;                 // TopP: cumulative probability threshold
    int kMax = 2;                      // width of ids/weights rows; TopK needs k <= kMax
    bool normalize = true;             // renormalise the selected weights to sum 1
    float routedScale = 1.0f;          // multiplies the final weights (DeepSeek routed_scaling_factor)
    std::vector<float> selectionBias;  // (nExpert) or empty; added to p for ranking only
    std::vector<float> logitScale;     // (nExpert) or empty; multiplies the logits
    std::vector<uint8_t> mask;         // (nExpert) or empty; nonzero = expert never selected
    std::vector<int32_t> forced;       // expert ids always selected (unless masked)
    int nGroup = 0;                    // group-limited selection: groups (0 or 1: off)
    int groupsUsed = 0;                // groups kept (1..nGroup)
};

// Checks one layer's parameters for nExpert experts: kMax in 1..routeWidthCap(nExpert), TopK's
// k in 1..kMax, per-expert arrays of nExpert values, forced experts in range, groups that
// divide nExpert with groupsUsed in 1..nGroup. The one check of
// every backend; errors read "routing, layer 3: kMax 70 is out of range 1..64".
Status checkRouterParams(const RouterParams& p, int64_t nExpert, uint32_t layer);
// The same for every layer, and that there is one entry per layer.
Status checkRouting(const std::vector<RouterParams>& layers, int64_t nExpert, uint32_t nLayer);

// logits: (nTok, nExpert); ids: (nTok, kMax); weights: (nTok, kMax); counts: (nTok);
// probs: (nTok, nExpert) or null. Handles any nExpert >= 1 and kMax >= 1.
void route(const RouterParams& params, const float* logits, int64_t nTok, int64_t nExpert, int32_t* ids,
           float* weights, int32_t* counts, float* probs = nullptr);

// Shannon entropy in nats of a probability vector p: (n); terms with p == 0 contribute 0.
float entropy(const float* p, int64_t n);

}  // namespace moe::cpu
