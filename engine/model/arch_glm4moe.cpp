// glm4moe (GLM-4.5, GLM-4.5-Air, GLM-4.6): NeoX RoPE on part of each head (rope.dimension_count
// = half the head), q/k/v biases, optional per-head q/k norms (the 355B file has them), the FFN
// input norm stored as post_attention_norm, leading dense layers, sigmoid routing with the exp_probs_b
// selection bias, renormalised and scaled, plus unweighted shared experts. The NextN/MTP layer
// after the trunk (nextn_predict_layers) is loaded and not run. llama.cpp: src/models/glm4-moe.cpp.
#include "model/arch.h"

namespace moe {

namespace {

Status configure(const ArchLoader& L, ModelConfig& c) {
    MOE_ASSIGN(c.expert_shared_count, L.u32Or("expert_shared_count", 0));
    c.expert_shared_feed_forward_length = c.expert_shared_count * c.expert_feed_forward_length;
    if (!L.f.has(L.prefix + "expert_gating_func")) c.expert_gating_func = 2;  // GLM-4.5 routes by sigmoid
    if (c.leading_dense_block_count && c.feed_forward_length == 0)
        return L.error("feed_forward_length is needed for the leading dense layers");
    return {};
}

Status buildLayer(const ArchLoader& L, const ModelConfig& c, uint32_t il, LayerPlan& out) {
    const bool qkNorm = L.f.tensor(blockPrefix(il) + "attn_q_norm.weight") != nullptr;
    MOE_ASSIGN(AttentionBlock attn,
               buildAttention(L, c, il, {.neox = true, .qkNorm = qkNorm ? QkNorm::PerHead : QkNorm::None}));
    out.blocks.emplace_back(std::move(attn));
    if (il < c.leading_dense_block_count) {
        MOE_ASSIGN(FfnBlock f, buildFfn(L, c, il, c.feed_forward_length, "post_attention_norm"));
        out.blocks.emplace_back(std::move(f));
        return {};
    }
    MOE_ASSIGN(MoeBlock moe, buildMoe(L, c, il, {.sharedGate = false, .normName = "post_attention_norm"}));
    MOE_TRY(addRouterKeys(L, c, il, moe));
    if (!moe.router.selectionBias)
        return L.error("missing tensor '" + blockPrefix(il) + "exp_probs_b.bias'");
    out.blocks.emplace_back(std::move(moe));
    return {};
}

}  // namespace

extern const ArchDef kArchGlm4Moe{Arch::Glm4Moe, "glm4moe", {.normTopK = false}, buildLayer, configure};

}  // namespace moe
