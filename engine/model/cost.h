// What evaluating one token costs: bytes of weights and KV cache read, and FLOPs, from the
// model's shapes and the experts the router actually selected. These are the roofline terms of
// `moescope bench` (decode efficiency = bytes/token x tok/s / measured read bandwidth).
#pragma once
#include <cstdint>
#include <span>

#include "model/model.h"

namespace moe {

// Bytes one decoded token reads. Weights are counted as the Vulkan runtime stores them: 1-D
// tensors (norms, biases, the shared-expert gate) as F32, every other tensor in its file type;
// the KV cache is F32. Activations and the routing record are not counted (a few KiB).
struct TokenBytes {
    uint64_t dense = 0;      // per layer: norms, q/k/v/o (+ biases, q/k norms), router, shared expert; + output norm
    uint64_t experts = 0;    // the routed experts selected in each layer: gate + up + down
    uint64_t lmHead = 0;     // output.weight (token_embd when tied): all n_vocab rows
    uint64_t embedding = 0;  // the token's row of token_embd
    uint64_t kv = 0;         // K and V rows of positions 0..pos of every layer
    uint64_t total() const { return dense + experts + lmHead + embedding + kv; }
    TokenBytes& operator+=(const TokenBytes& o) {
        dense += o.dense, experts += o.experts, lmHead += o.lmHead, embedding += o.embedding, kv += o.kv;
        return *this;
    }
    TokenBytes perToken(uint64_t tokens) const {  // a sum over `tokens` tokens -> the mean
        return tokens ? TokenBytes{dense / tokens, experts / tokens, lmHead / tokens, embedding / tokens, kv / tokens}
                      : TokenBytes{};
    }
};

// Bytes of one routed expert of a layer (its gate, up and down matrices).
uint64_t expertBytes(const MoeBlock& m);
// Bytes of a tensor as the Vulkan runtime holds it (1-D tensors as F32); 0 when absent.
uint64_t deviceBytes(const TensorView& t);

// One token at position pos (attending to pos + 1 cache rows) with expertsPerLayer[il] distinct
// routed experts selected in layer il (n_layer entries).
TokenBytes decodeBytes(const Model& m, std::span<const uint32_t> expertsPerLayer, uint32_t pos);

// FLOPs (a multiply-add counts 2) of the matrix products and the attention of one token at
// position pos with expertsPerLayer[il] routed experts; lmHead: whether its logits are computed.
// Norms, RoPE, softmax, SwiGLU and the combine are left out (O(n_embd) per layer).
double tokenFlops(const Model& m, std::span<const uint32_t> expertsPerLayer, uint32_t pos, bool lmHead);

// FLOPs of a prefill of nTok tokens from position 0 with the model's k experts per token and the
// lm head on the last token only (forward() without allLogits).
double prefillFlops(const Model& m, uint32_t nTok);

}  // namespace moe
