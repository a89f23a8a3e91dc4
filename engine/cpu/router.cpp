// CPU reference of the MoE router (see router.h for the step-by-step specification).
#include "cpu/router.h"

#include <string>

#include <algorithm>
#include <cassert>
#include <cmath>

namespace moe::cpu {

void route(const RouterParams& params, const float* logits, int64_t nTok, int64_t nExpert, int32_t* ids,
           float* weights, int32_t* counts, float* probs) {
    const int64_t kMax = params.kMax;
    assert(kMax >= 1);
    assert(params.selection != Selection::TopK || params.k <= params.kMax);
    const bool hasBias = !params.selectionBias.empty();
    const bool hasScale = !params.logitScale.empty();
    const bool hasMask = !params.mask.empty();
    assert(!hasBias || int64_t(params.selectionBias.size()) == nExpert);
    assert(!hasScale || int64_t(params.logitScale.size()) == nExpert);
    assert(!hasMask || int64_t(params.mask.size()) == nExpert);

    const size_t n = size_t(nExpert);
    std::vector<float> l(n), p(n), s(n);  // scaled logits, probabilities, selection scores
    std::vector<int32_t> order, chosen;
    std::vector<uint8_t> isForced(n);
    for (int64_t t = 0; t < nTok; ++t) {
        auto masked = [&](int64_t e) { return hasMask && params.mask[size_t(e)] != 0; };

        // 1. logit scale
        for (int64_t e = 0; e < nExpert; ++e)
            l[size_t(e)] = logits[t * nExpert + e] * (hasScale ? params.logitScale[size_t(e)] : 1.0f);

        // 2. probabilities (masked experts: 0; softmax renormalised over the unmasked ones)
        double pSum = 0.0;
        if (params.gating == Gating::Softmax) {
            float mx = -INFINITY;
            for (int64_t e = 0; e < nExpert; ++e)
                if (!masked(e)) mx = std::max(mx, l[size_t(e)]);
            for (int64_t e = 0; e < nExpert; ++e) {
                p[size_t(e)] = masked(e) ? 0.0f : std::exp(l[size_t(e)] - mx);
                pSum += p[size_t(e)];
            }
            for (int64_t e = 0; e < nExpert; ++e) p[size_t(e)] = pSum > 0.0 ? float(p[size_t(e)] / pSum) : 0.0f;
            pSum = 1.0;  // top-p uses p as is
        } else {
            for (int64_t e = 0; e < nExpert; ++e) {
                p[size_t(e)] = masked(e) ? 0.0f : 1.0f / (1.0f + std::exp(-l[size_t(e)]));
                pSum += p[size_t(e)];
            }
        }
        if (probs)
            for (int64_t e = 0; e < nExpert; ++e) probs[t * nExpert + e] = p[size_t(e)];

        // 3. rank unmasked experts by selection score, ties -> lower id first
        order.clear();
        for (int64_t e = 0; e < nExpert; ++e) {
            // softmax ranks by the logit itself: the same order as p, but free of exp() rounding,
            // so a GPU whose exp differs in the last bit still selects identically
            const float base = params.gating == Gating::Softmax ? l[size_t(e)] : p[size_t(e)];
            s[size_t(e)] = base + (hasBias ? params.selectionBias[size_t(e)] : 0.0f);
            if (!masked(e)) order.push_back(int32_t(e));
        }
        std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
            return s[size_t(a)] != s[size_t(b)] ? s[size_t(a)] > s[size_t(b)] : a < b;
        });

        // 3b. group-limited selection: keep the experts of the best groups (order is by score,
        // so a group's first two entries in it are its two best)
        std::vector<int32_t> groupOrder;  // rank-order fill candidates
        const std::vector<int32_t>* fill = &order;
        if (params.nGroup > 1) {
            const int64_t G = params.nGroup, per = nExpert / G;
            std::vector<float> gScore(static_cast<size_t>(G), -INFINITY);
            std::vector<int> seen(static_cast<size_t>(G), 0);
            for (int32_t e : order) {
                const int64_t g = e / per;
                if (seen[size_t(g)] == 0) gScore[size_t(g)] = s[size_t(e)];
                else if (seen[size_t(g)] == 1) gScore[size_t(g)] += s[size_t(e)];
                ++seen[size_t(g)];
            }
            std::vector<int32_t> gs(static_cast<size_t>(G));
            for (int64_t g = 0; g < G; ++g) gs[size_t(g)] = int32_t(g);
            std::stable_sort(gs.begin(), gs.end(), [&](int32_t a, int32_t b) { return gScore[size_t(a)] > gScore[size_t(b)]; });
            std::vector<uint8_t> keep(static_cast<size_t>(G), 0);
            for (int64_t i = 0; i < std::min<int64_t>(params.groupsUsed, G); ++i) keep[size_t(gs[size_t(i)])] = 1;
            for (int32_t e : order)
                if (keep[size_t(e / per)]) groupOrder.push_back(e);
            fill = &groupOrder;
        }

        // 4. select: forced experts first, then rank order
        chosen.clear();
        std::fill(isForced.begin(), isForced.end(), 0);
        for (int32_t e : params.forced) {
            if (e < 0 || e >= nExpert || masked(e) || isForced[size_t(e)]) continue;
            if (int64_t(chosen.size()) >= kMax) break;
            isForced[size_t(e)] = 1;
            chosen.push_back(e);
        }
        const float qNorm = pSum > 0.0 ? float(1.0 / pSum) : 0.0f;
        auto q = [&](int32_t e) { return params.gating == Gating::Softmax ? p[size_t(e)] : p[size_t(e)] * qNorm; };
        if (params.selection == Selection::TopK) {
            const int64_t target = std::min<int64_t>(std::max<int64_t>(params.k, int64_t(chosen.size())), kMax);
            for (int32_t e : *fill) {
                if (int64_t(chosen.size()) >= target) break;
                if (!isForced[size_t(e)]) chosen.push_back(e);
            }
        } else {
            float c = 0.0f;
            for (int32_t e : chosen) c += q(e);
            for (int32_t e : *fill) {
                if (int64_t(chosen.size()) >= kMax || (!chosen.empty() && c >= params.topP)) break;
                if (isForced[size_t(e)]) continue;
                chosen.push_back(e);
                c += q(e);
            }
        }

        // 5. write in rank order; 6. weights
        std::sort(chosen.begin(), chosen.end(), [&](int32_t a, int32_t b) {
            return s[size_t(a)] != s[size_t(b)] ? s[size_t(a)] > s[size_t(b)] : a < b;
        });
        double wSum = 0.0;
        for (int32_t e : chosen) wSum += p[size_t(e)];
        const bool renorm = params.normalize;
        wSum = std::max(wSum, double(kWeightSumFloor));
        for (int64_t j = 0; j < kMax; ++j) {
            const bool used = j < int64_t(chosen.size());
            const int32_t e = used ? chosen[size_t(j)] : -1;
            ids[t * kMax + j] = e;
            float w = used ? p[size_t(e)] : 0.0f;
            if (used && renorm) w = float(double(w) / wSum);
            weights[t * kMax + j] = w * params.routedScale;
        }
        counts[t] = int32_t(chosen.size());
    }
}

float entropy(const float* p, int64_t n) {
    double h = 0.0;
    for (int64_t i = 0; i < n; ++i)
        if (p[i] > 0.0f) h -= double(p[i]) * std::log(double(p[i]));
    return float(h);
}

Status checkRouterParams(const RouterParams& p, int64_t nExpert, uint32_t layer) {
    const std::string at = "routing, layer " + std::to_string(layer) + ": ";
    const int cap = routeWidthCap(nExpert);
    if (p.kMax < 1 || p.kMax > cap)
        return makeError(at + "kMax " + std::to_string(p.kMax) + " is out of range 1.." + std::to_string(cap));
    if (p.selection == Selection::TopK && (p.k < 1 || p.k > p.kMax))
        return makeError(at + "k " + std::to_string(p.k) + " must be in 1..kMax (" + std::to_string(p.kMax) + ")");
    for (const auto* v : {&p.selectionBias, &p.logitScale})
        if (!v->empty() && int64_t(v->size()) != nExpert)
            return makeError(at + "per-expert arrays need " + std::to_string(nExpert) + " values");
    if (!p.mask.empty() && int64_t(p.mask.size()) != nExpert)
        return makeError(at + "the mask needs " + std::to_string(nExpert) + " values");
    for (int32_t e : p.forced)
        if (e < 0 || e >= nExpert) return makeError(at + "forced expert " + std::to_string(e) + " is out of range");
    if (p.nGroup > 1 && (p.nGroup > int(ROUTER_MAX_GROUPS) || nExpert % p.nGroup != 0 || p.groupsUsed < 1 || p.groupsUsed > p.nGroup))
        return makeError(at + std::to_string(p.groupsUsed) + " of " + std::to_string(p.nGroup) +
                         " expert groups: at most " + std::to_string(ROUTER_MAX_GROUPS) +
                         " groups that divide the " + std::to_string(nExpert) + " experts, at least one used");
    return {};
}

Status checkRouting(const std::vector<RouterParams>& layers, int64_t nExpert, uint32_t nLayer) {
    if (layers.size() != nLayer)
        return makeError("routing: " + std::to_string(layers.size()) + " layers of router parameters for a model with " +
                         std::to_string(nLayer));
    for (uint32_t il = 0; il < nLayer; ++il) MOE_TRY(checkRouterParams(layers[il], nExpert, il));
    return {};
}

}  // namespace moe::cpu
