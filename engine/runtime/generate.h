// The generation loop: prefill the prompt in batches, then decode token by token with the
// sampler, streaming complete UTF-8 text. Stops at end-of-generation tokens, at the token
// budget, or at the context length (with a clear reason), unless the context policy shifts the
// context and goes on (runtime/context.h).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "runtime/context.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace moe::rt {

struct GenerateParams {
    int32_t maxTokens = 128;
    SamplerParams sampler;
    bool stopAtEog = true;
    // The ids that end generation (a chat's ChatTemplate::stopTokenIds); empty: the tokenizer's
    // end-of-generation ids.
    std::vector<int32_t> stopTokens;
    // Streamed text includes control tokens' texts (a chat's reply parser reads gpt-oss's
    // <|channel|> markers); false: only normal and user-defined tokens are text.
    bool renderSpecial = false;
    // At nCtx: stop, or shift. A shift needs every cached token (`history` of exactly pos0
    // tokens); without them generation stops.
    ContextPolicy context;
    // Called when a shift cuts positions [nKeep, nKeep + dropped), before the kept tail is
    // re-evaluated at its new positions (the token just streamed moves down with it).
    std::function<void(uint32_t nKeep, uint32_t dropped)> onContextShift;
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
    uint32_t contextShifts = 0, droppedTokens = 0;  // context shifts and the tokens they cut
    double prefillMs = 0, decodeMs = 0;  // decodeMs leaves out the re-evaluations of shifts
    double shiftMs = 0;
    std::string stopReason;  // "eog", "max tokens", "context length reached", "stopped"
    double prefillTokPerSec() const { return prefillMs > 0 ? promptTokens * 1000.0 / prefillMs : 0; }
    double decodeTokPerSec() const { return decodeMs > 0 ? decodeSteps * 1000.0 / decodeMs : 0; }
};

// onToken returns false to stop. `pos0` > 0 continues a conversation whose first pos0 tokens
// are already in the backend's KV cache (`history` holds them for the repetition penalty).
// On return `history` holds the cache's tokens by position (after any shift) and the last
// sampled token, which was not evaluated unless the stop reason is "eog".
Result<GenerateStats> generate(Backend& backend, const Tokenizer& tok, const std::vector<int32_t>& prompt,
                               const GenerateParams& params, const std::function<bool(const TokenEvent&)>& onToken,
                               uint32_t pos0 = 0, std::vector<int32_t>* history = nullptr);

}  // namespace moe::rt
