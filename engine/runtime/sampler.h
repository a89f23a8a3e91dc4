// Next-token sampling on the CPU from host-visible logits: greedy, temperature, top-k, top-p,
// min-p, repetition penalty; a seeded generator makes runs reproducible.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace moe::rt {

struct SamplerParams {
    float temperature = 0.0f;   // <= 0: greedy (argmax; ties -> lowest id)
    int32_t topK = 0;           // 0: off
    float topP = 1.0f;          // 1: off
    float minP = 0.0f;          // 0: off; keep tokens with p >= minP * p_max
    float repeatPenalty = 1.0f; // 1: off; applied to the last repeatLastN tokens (llama.cpp convention)
    int32_t repeatLastN = 64;
    uint64_t seed = 0;
};

class Sampler {
public:
    explicit Sampler(SamplerParams p = {}) : p_(p), rng_(p.seed) {}
    // Picks a token from logits (n_vocab), given the tokens so far (for the penalty).
    // logprob receives log p(token) under the unmodified softmax of the logits.
    int32_t sample(std::span<const float> logits, std::span<const int32_t> history, float* logprob = nullptr);
    const SamplerParams& params() const { return p_; }

private:
    SamplerParams p_;
    std::mt19937_64 rng_;
    std::vector<std::pair<float, int32_t>> cand_;
};

// log softmax(logits)[id], computed stably.
float logSoftmaxAt(std::span<const float> logits, int32_t id);

}  // namespace moe::rt
