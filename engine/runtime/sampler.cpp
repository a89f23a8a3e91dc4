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

std::span<const Candidate> Sampler::candidates(std::span<const float> logits, std::span<const int32_t> history) {
    const int32_t n = int32_t(logits.size());
    cand_.resize(size_t(n));
    for (int32_t i = 0; i < n; ++i) cand_[size_t(i)] = {logits[size_t(i)], i};
    // repetition penalty over the recent window, each distinct token once: divide positive
    // logits, multiply negative ones (llama.cpp's penalty_repeat)
    if (p_.repeatPenalty != 1.0f && p_.repeatLastN != 0 && !history.empty()) {
        const size_t window = p_.repeatLastN < 0 ? history.size() : std::min(history.size(), size_t(p_.repeatLastN));
        std::unordered_set<int32_t> seen(history.end() - long(window), history.end());
        for (int32_t id : seen)
            if (id >= 0 && id < n) {
                float& v = cand_[size_t(id)].first;
                v = v > 0 ? v / p_.repeatPenalty : v * p_.repeatPenalty;
            }
    }
    dist_.clear();
    if (p_.temperature <= 0.0f) {
        int32_t pick = 0;
        for (int32_t i = 1; i < n; ++i)
            if (cand_[size_t(i)].first > cand_[size_t(pick)].first) pick = i;
        dist_.push_back({pick, 1.0});
        return dist_;
    }
    auto byLogit = [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; };
    size_t keep = size_t(n);
    if (p_.topK > 0 && size_t(p_.topK) < keep) {
        keep = size_t(p_.topK);
        std::partial_sort(cand_.begin(), cand_.begin() + long(keep), cand_.end(), byLogit);
    } else {
        std::sort(cand_.begin(), cand_.end(), byLogit);
    }
    // softmax with temperature over the kept tokens
    const float mx = cand_[0].first;
    double sum = 0;
    dist_.resize(keep);
    for (size_t i = 0; i < keep; ++i) {
        dist_[i] = {cand_[i].second, std::exp(double(cand_[i].first - mx) / p_.temperature)};
        sum += dist_[i].p;
    }
    for (Candidate& c : dist_) c.p /= sum;
    // tokens whose probability is 0 (logit -inf, or underflow at a low temperature) are no
    // candidates; they sort last, and the draw's fallback to the last candidate must not pick one
    size_t cut = keep;
    while (cut > 1 && !(dist_[cut - 1].p > 0.0)) --cut;
    // top-p: smallest prefix with mass >= topP
    if (p_.topP < 1.0f) {
        double c = 0;
        for (size_t i = 0; i < cut; ++i) {
            c += dist_[i].p;
            if (c >= p_.topP) {
                cut = i + 1;
                break;
            }
        }
    }
    // min-p: relative to the most likely token
    if (p_.minP > 0.0f)
        for (size_t i = 1; i < cut; ++i)
            if (dist_[i].p < p_.minP * dist_[0].p) {
                cut = i;
                break;
            }
    dist_.resize(cut);
    double total = 0;
    for (const Candidate& c : dist_) total += c.p;
    for (Candidate& c : dist_) c.p /= total;
    return dist_;
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history, float* logprob) {
    const std::span<const Candidate> dist = candidates(logits, history);
    int32_t pick = dist.back().id;
    // one draw per sampled token, also when one candidate is left, so that the n-th token
    // always uses the n-th random number of the seed
    if (p_.temperature > 0.0f) {
        std::uniform_real_distribution<double> u(0.0, 1.0);
        double r = u(rng_), acc = 0;
        for (const Candidate& c : dist) {
            acc += c.p;
            if (r < acc) {
                pick = c.id;
                break;
            }
        }
    }
    if (logprob) *logprob = logSoftmaxAt(logits, pick);
    return pick;
}

}  // namespace moe::rt
