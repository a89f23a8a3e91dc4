// CPU reference forward pass: executes the model's layer plan (model/plan.h) block by block, the
// spec the Vulkan forward pass is tested against. Written for clarity, not speed. Owns an F32 KV
// cache per attention block; prefill takes many tokens per call (batched matMul, causal
// attention from pos0), decode one. Routing is observable (the routing record of the last call,
// the same type the Vulkan pass fills) and steerable (router parameters per layer: another k,
// top-p, masks).
#pragma once
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "cpu/ops.h"
#include "cpu/router.h"
#include "model/model.h"
#include "trace/routing_record.h"

namespace moe::cpu {

// The checks of a forward step shared by every backend: nTok > 0, positions inside the context
// ("context length N exceeded"), pos0 not past the nPast cached positions, token ids in the
// vocabulary.
Status checkStep(const ModelConfig& c, const int32_t* tokens, uint32_t nTok, uint32_t pos0, uint32_t nCtx,
                 uint32_t nPast);

// The model's own router of an MoE block (k = expert_used_count, renormalised as the file says):
// what both backends use when no routing policy is set.
RouterParams defaultRouterParams(const MoeBlock& moe);
// One entry per layer: each MoE layer's defaultRouterParams; layers without an MoE block (dense
// FFN layers) get the first MoE layer's, so that per-layer policies keep one shape.
std::vector<RouterParams> defaultRouting(const ModelPlan& plan);
// A rope's YaRN parameters (cpu::yarnParams of its nRot, base and Rope::Yarn); nullopt without
// scaling. Both executors pass them to their rope.
std::optional<YarnParams> ropeYarn(const Rope& r);

class CpuForward {
public:
    // nCtx: KV cache positions (a call that would pass it fails). The model must outlive this.
    CpuForward(const Model& model, uint32_t nCtx);

    // Runs tokens [pos0, pos0 + nTok) through the model. pos0 may rewind (<= positions cached so
    // far); the cache then holds pos0 + nTok positions. logits: (nTok, n_vocab) when allLogits,
    // else (n_vocab) for the last token. Errors: those of checkStep.
    Status forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits);

    // Forget the cache (positions 0 again). Router parameters are kept.
    void reset() { nPast_ = 0; }
    uint32_t nPast() const { return nPast_; }
    uint32_t nCtx() const { return nCtx_; }
    const Model& model() const { return model_; }

    // Per-layer router parameters (the routing policies of the research UI); the defaults are
    // defaultRouterParams() of each layer's MoE block. setRouting checks them (checkRouting).
    RouterParams defaultRouterParams() const;
    void setRouterParams(uint32_t layer, RouterParams p) { router_.at(layer) = std::move(p); }
    const RouterParams& routerParams(uint32_t layer) const { return router_.at(layer); }
    Status setRouting(const std::vector<RouterParams>& layers);

    // Routing of the last forward() call (every layer and token); empty when recording is off.
    const rt::RoutingRecord& lastRouting() const { return routing_; }
    void setRecordRouting(bool on) { recordRouting_ = on; }
    bool recordRouting() const { return recordRouting_; }

private:
    struct Step;  // the activations of one call
    void attentionBlock(const AttentionBlock& a, uint32_t il, Step& s);
    void moeBlock(const MoeBlock& m, uint32_t il, Step& s);
    void ffnBlock(const FfnBlock& f, Step& s);
    // MLA's q (T, nHead, nope + rope), and its keys and values expanded per head into the caches
    void mlaProjections(const AttentionBlock& a, uint32_t il, Step& s, std::vector<float>& q);
    const float* vec(const TensorView& t) const;  // a norm or bias vector as F32 (null when absent)

    const Model& model_;
    uint32_t nCtx_;
    uint32_t nPast_ = 0;
    std::unordered_map<const uint8_t*, std::vector<float>> vectors_;  // F32 copies of norms and biases
    // per layer: (nCtx, n_head_kv, head_dim) and (nCtx, n_head_kv, head_dim_v); MLA layers hold
    // keys and values expanded per head (the latent form is the Vulkan pass's)
    std::vector<std::vector<float>> kCache_, vCache_;
    std::vector<RouterParams> router_;
    rt::RoutingRecord routing_;
    bool recordRouting_ = true;
};

}  // namespace moe::cpu
