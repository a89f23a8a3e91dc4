// The generation loop: prefill the prompt in batches, then decode token by token with the
// sampler, streaming complete UTF-8 text. Stops at end-of-generation tokens, at the token
// budget, or (with a clear reason) at the context length.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace moe::rt {

struct GenerateParams {
    int32_t maxTokens = 128;
    SamplerParams sampler;
    bool stopAtEog = true;
};

struct TokenEvent {
    int32_t id = 0;
    std::string text;     // new complete UTF-8 text this token adds (may be empty)
    float logprob = 0;
    uint32_t position = 0;
};

struct GenerateStats {
    uint32_t promptTokens = 0, generatedTokens = 0;
    uint32_t decodeSteps = 0;  // single-token forward passes (the first token comes from prefill)
    double prefillMs = 0, decodeMs = 0;
    std::string stopReason;  // "eog", "max tokens", "context length reached", "stopped"
    double prefillTokPerSec() const { return prefillMs > 0 ? promptTokens * 1000.0 / prefillMs : 0; }
    double decodeTokPerSec() const { return decodeMs > 0 ? decodeSteps * 1000.0 / decodeMs : 0; }
};

// onToken returns false to stop. `pos0` > 0 continues a conversation whose first pos0 tokens
// are already in the backend's KV cache (`history` holds them for the repetition penalty).
Result<GenerateStats> generate(Backend& backend, const Tokenizer& tok, const std::vector<int32_t>& prompt,
                               const GenerateParams& params, const std::function<bool(const TokenEvent&)>& onToken,
                               uint32_t pos0 = 0, std::vector<int32_t>* history = nullptr);

}  // namespace moe::rt
