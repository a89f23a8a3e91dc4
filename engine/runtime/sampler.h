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
    int32_t repeatLastN = 64;   // 0: no token is penalised; < 0: the whole history
    uint64_t seed = 0;
};

// A token the sampler may draw and its probability after every filter.
struct Candidate {
    int32_t id;
    double p;
};

// The filters run in this order: repetition penalty on the logits; then greedy (argmax), or
// top-k, temperature, softmax, top-p and min-p on that softmax, renormalisation, one draw.
// Temperature comes before top-p and min-p (as in Hugging Face's warpers; llama.cpp's default
// chain applies it last, so there top-p and min-p see the temperature-1 probabilities).
class Sampler {
public:
    explicit Sampler(SamplerParams p = {}) : p_(p), rng_(p.seed) {}
    // Picks a token from logits (n_vocab), given the tokens so far (for the penalty).
    // logprob receives log p(token) under the unmodified softmax of the logits.
    int32_t sample(std::span<const float> logits, std::span<const int32_t> history, float* logprob = nullptr);
    // The distribution sample() draws from: the surviving tokens, most likely first (ties: lower
    // id), probabilities summing to 1; greedy gives the argmax alone. Valid until the next call.
    std::span<const Candidate> candidates(std::span<const float> logits, std::span<const int32_t> history);
    const SamplerParams& params() const { return p_; }

private:
    SamplerParams p_;
    std::mt19937_64 rng_;
    std::vector<std::pair<float, int32_t>> cand_;  // (penalised logit, id)
    std::vector<Candidate> dist_;
};

// log softmax(logits)[id], computed stably.
float logSoftmaxAt(std::span<const float> logits, int32_t id);

}  // namespace moe::rt
