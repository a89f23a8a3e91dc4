// What happens when a conversation outgrows the context (nCtx positions of KV cache): stop, or
// the context shift: keep the first nKeep tokens (the system prompt), drop the oldest half of the
// rest and re-evaluate the kept tail at its new positions. Keys are stored with RoPE of their
// position applied, so rows cannot be moved; they are recomputed (one prefill of the tail).
#pragma once
#include <cstdint>
#include <vector>

#include "tokenizer/chat_template.h"

namespace moe {
class Tokenizer;
}

namespace moe::rt {

struct ContextPolicy {
    bool shift = false;   // false: generation stops at nCtx ("context length reached")
    uint32_t nKeep = 0;   // tokens at the start that are never dropped (at most nCtx / 2)
};

// The tokens of a conversation `full` after `dropped` tokens following the first nKeep were cut:
// full[0, nKeep) + full[nKeep + dropped, end).
std::vector<int32_t> contextWindow(const std::vector<int32_t>& full, uint32_t nKeep, uint32_t dropped);

// Where a new turn's tokens go. `window` is what the KV cache must hold before generating
// (at most nCtx tokens), `reuse` how many of its first positions `cached` already holds (always
// less than window.size(): the last token is evaluated for its logits), `dropped` the new count
// of cut tokens for the next turn.
struct ContextPlan {
    std::vector<int32_t> window;
    uint32_t reuse = 0;
    uint32_t dropped = 0;
};

// Fits the whole conversation `full` into nCtx positions. `cached`: the tokens in the KV cache by
// position; `dropped`: tokens cut by earlier shifts (0 for a conversation that always fit). The
// cut stays where it was when the conversation still fits (looking a few tokens around it, as a
// reply re-tokenized from its text may differ from the sampled tokens); otherwise the oldest half
// of what follows nKeep is dropped, repeatedly, until it fits.
ContextPlan planContext(const std::vector<int32_t>& full, const std::vector<int32_t>& cached, uint32_t nKeep,
                        uint32_t dropped, uint32_t nCtx);

// nKeep of a chat: the tokens its system prompt renders to (the longest prefix the conversation
// shares with the rendering of its leading system messages alone, the template's default system
// prompt included).
uint32_t chatKeepTokens(const ChatTemplate& tmpl, const Tokenizer& tok, const std::vector<ChatMessage>& conversation,
                        const std::vector<int32_t>& full, const ChatOptions& options = {});

}  // namespace moe::rt
