// CPU reference forward pass of the whole MoE transformer: the spec the Vulkan forward pass is
// tested against. Written for clarity (one function, top to bottom), not speed. Owns an F32 KV
// cache; prefill takes many tokens per call (batched matMul, causal attention from pos0), decode
// one. Routing is observable (a hook sees every layer's selection) and steerable (router
// parameters per layer, e.g. another k, top-p, masks).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "core/result.h"
#include "cpu/router.h"
#include "model/model.h"

namespace moe::cpu {

// One layer's routing of the tokens of one forward() call. Pointers are valid during the hook.
struct RoutingEvent {
    uint32_t layer = 0;
    uint32_t pos0 = 0;        // position of token 0 of the call
    uint32_t nTok = 0;
    int32_t nExpert = 0;
    int32_t kMax = 0;         // row width of ids / weights
    const float* logits;      // (nTok, nExpert) router logits
    const float* probs;       // (nTok, nExpert) gate probabilities (after mask / scale)
    const int32_t* ids;       // (nTok, kMax) selected experts in rank order, -1 padded
    const float* weights;     // (nTok, kMax) their combine weights, 0 padded
    const int32_t* counts;    // (nTok) experts selected per token
};
using RoutingHook = std::function<void(const RoutingEvent&)>;

// A flat copy of RoutingEvents, for tests and traces: record.at(layer, token).
struct RoutingRecord {
    struct Entry {
        uint32_t layer, pos;
        std::vector<int32_t> ids;    // the selected experts (count entries)
        std::vector<float> weights;  // their weights
        std::vector<float> probs;    // (nExpert)
    };
    std::vector<Entry> entries;
    void add(const RoutingEvent& e);
    RoutingHook hook() {
        return [this](const RoutingEvent& e) { add(e); };
    }
};

class CpuForward {
public:
    // nCtx: KV cache positions (a call that would pass it fails). The model must outlive this.
    CpuForward(const Model& model, uint32_t nCtx);

    // Runs tokens [pos0, pos0 + nTok) through the model. pos0 may rewind (<= positions cached so
    // far); the cache then holds pos0 + nTok positions. logits: (nTok, n_vocab) when allLogits,
    // else (n_vocab) for the last token. Errors: nTok == 0, a token id out of range, pos0 past
    // the cache, "context length N exceeded".
    Status forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits);

    // Forget the cache (positions 0 again). Router parameters and hook are kept.
    void reset() { nPast_ = 0; }
    uint32_t nPast() const { return nPast_; }
    uint32_t nCtx() const { return nCtx_; }
    const Model& model() const { return model_; }

    // The model's router: softmax, top-k with k = expert_used_count, renormalised as
    // expert_weights_norm says. Per-layer overrides are the routing policies of the research UI.
    cpu::RouterParams defaultRouterParams() const;
    void setRouterParams(uint32_t layer, cpu::RouterParams p) { router_.at(layer) = std::move(p); }
    void setRouterParamsAll(const cpu::RouterParams& p) { router_.assign(router_.size(), p); }
    const cpu::RouterParams& routerParams(uint32_t layer) const { return router_.at(layer); }

    void setRoutingHook(RoutingHook hook) { hook_ = std::move(hook); }

private:
    struct LayerVectors {  // norms and biases as F32
        std::vector<float> attn_norm, ffn_norm, q_norm, k_norm, bq, bk, bv;
    };
    const Model& model_;
    uint32_t nCtx_;
    uint32_t nPast_ = 0;
    std::vector<LayerVectors> vec_;
    std::vector<float> outputNorm_;
    std::vector<std::vector<float>> kCache_, vCache_;  // per layer: (nCtx, n_head_kv, head_dim)
    std::vector<cpu::RouterParams> router_;
    RoutingHook hook_;
};

}  // namespace moe::cpu
