// Sampler: penalty -> greedy or (top-k -> temperature -> softmax -> top-p -> min-p -> draw).
#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace moe::rt {

float logSoftmaxAt(std::span<const float> logits, int32_t id) {
    float mx = -INFINITY;
    for (float v : logits) mx = std::max(mx, v);
    double s = 0;
    for (float v : logits) s += std::exp(double(v) - mx);
    return float(double(logits[size_t(id)]) - mx - std::log(s));
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history, float* logprob) {
    const int32_t n = int32_t(logits.size());
    cand_.resize(size_t(n));
    for (int32_t i = 0; i < n; ++i) cand_[size_t(i)] = {logits[size_t(i)], i};
    // repetition penalty over the recent window: divide positive logits, multiply negative ones
    if (p_.repeatPenalty != 1.0f && !history.empty()) {
        const size_t from = history.size() > size_t(std::max(0, p_.repeatLastN)) ? history.size() - size_t(p_.repeatLastN) : 0;
        std::unordered_set<int32_t> seen(history.begin() + long(from), history.end());
        for (int32_t id : seen)
            if (id >= 0 && id < n) {
                float& v = cand_[size_t(id)].first;
                v = v > 0 ? v / p_.repeatPenalty : v * p_.repeatPenalty;
            }
    }
    int32_t pick;
    if (p_.temperature <= 0.0f) {
        pick = 0;
        for (int32_t i = 1; i < n; ++i)
            if (cand_[size_t(i)].first > cand_[size_t(pick)].first) pick = i;
    } else {
        auto byLogit = [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; };
        size_t keep = size_t(n);
        if (p_.topK > 0 && size_t(p_.topK) < keep) {
            keep = size_t(p_.topK);
            std::partial_sort(cand_.begin(), cand_.begin() + long(keep), cand_.end(), byLogit);
        } else {
            std::sort(cand_.begin(), cand_.end(), byLogit);
        }
        cand_.resize(keep);
        // softmax with temperature
        const float mx = cand_[0].first;
        double sum = 0;
        std::vector<double> pr(keep);
        for (size_t i = 0; i < keep; ++i) sum += pr[i] = std::exp(double(cand_[i].first - mx) / p_.temperature);
        for (auto& v : pr) v /= sum;
        // top-p: smallest prefix with mass >= topP
        size_t cut = keep;
        if (p_.topP < 1.0f) {
            double c = 0;
            for (size_t i = 0; i < keep; ++i) {
                c += pr[i];
                if (c >= p_.topP) {
                    cut = i + 1;
                    break;
                }
            }
        }
        // min-p: relative to the most likely token
        if (p_.minP > 0.0f)
            for (size_t i = 1; i < cut; ++i)
                if (pr[i] < p_.minP * pr[0]) {
                    cut = i;
                    break;
                }
        double total = 0;
        for (size_t i = 0; i < cut; ++i) total += pr[i];
        std::uniform_real_distribution<double> u(0.0, total);
        double r = u(rng_), acc = 0;
        pick = cand_[cut - 1].second;
        for (size_t i = 0; i < cut; ++i) {
            acc += pr[i];
            if (r < acc) {
                pick = cand_[i].second;
                break;
            }
        }
    }
    if (logprob) *logprob = logSoftmaxAt(logits, pick);
    return pick;
}

}  // namespace moe::rt
