// deepseek2 (DeepSeek-V2/V2-Lite/V3/R1, Kimi-K2, Moonlight, GLM-4.7-Flash): multi-head latent
// attention (queries straight from attn_q or through the attn_q_a -> norm -> attn_q_b low-rank
// pair; keys and values from one latent row per token, expanded by attn_k_b/attn_v_b or the
// legacy attn_kv_b), normal-order RoPE on the last rope dims of each head, YaRN with DeepSeek's
// attention-scale correction, leading dense layers, shared experts added unweighted, softmax or
// sigmoid routing with the exp_probs_b selection bias, group-limited selection and a routed
// weight scale. llama.cpp: src/models/deepseek2.cpp.
#include <cmath>

#include "model/arch.h"

namespace moe {

namespace {

Status configure(const ArchLoader& L, ModelConfig& c) {
    MOE_ASSIGN(c.kv_lora_rank, L.u32("attention.kv_lora_rank"));
    MOE_ASSIGN(c.q_lora_rank, L.u32Or("attention.q_lora_rank", 0));
    // MLA files (k_b/v_b) write the latent MQA sizes as key/value_length and the per-head ones
    // as *_mla; legacy files (kv_b) only the per-head ones
    MOE_ASSIGN(c.head_dim, L.u32Or("attention.key_length_mla", c.head_dim));
    MOE_ASSIGN(c.value_head_dim, L.u32Or("attention.value_length_mla", c.value_head_dim));
    if (c.kv_lora_rank == 0) return L.error("attention.kv_lora_rank must be positive");
    if (c.rope_dimension_count == 0 || c.rope_dimension_count >= c.head_dim)
        return L.error("rope.dimension_count " + std::to_string(c.rope_dimension_count) +
                       " must be positive and below the query head size " + std::to_string(c.head_dim));
    if (c.value_head_dim == 0) return L.error("attention.value_length must be positive");
    if (c.head_count_kv != c.head_count && c.head_count_kv != 1)
        return L.error("attention.head_count_kv " + std::to_string(c.head_count_kv) +
                       " must equal head_count (latent attention has no KV groups)");
    c.head_count_kv = c.head_count;
    MOE_ASSIGN(c.expert_shared_count, L.u32Or("expert_shared_count", 0));
    c.expert_shared_feed_forward_length = c.expert_shared_count * c.expert_feed_forward_length;
    if (c.leading_dense_block_count && c.feed_forward_length == 0)
        return L.error("feed_forward_length is needed for the leading dense layers");
    // files without the gating key: GLM-4.7-Flash (47/48 layers, 154880 tokens) is sigmoid
    if (!L.f.has(L.prefix + "expert_gating_func")) {
        const GgufTensor* e = L.f.tensor("token_embd.weight");
        if ((c.block_count == 47 || c.block_count == 48) && e && e->ne[1] == 154880) c.expert_gating_func = 2;
    }
    return {};
}

// YaRN as llama.cpp applies it to DeepSeek-V2 (its TAG_DEEPSEEK2_YARN_LOG_MUL_FIX): the file's
// yarn_log_multiplier is 0.1 · mscale_all_dim; cos/sin keep the ratio of the two mscales, and
// the attention scale takes mscale(all dims)² (HF's softmax_scale).
void deepseekYarn(const ModelConfig& c, AttentionBlock& a) {
    const float f = c.rope_scaling_factor;
    const float logMul = c.rope_scaling_yarn_log_multiplier / 0.1f;  // mscale_all_dim
    auto gm = [](float scale, float m) { return scale <= 1.0f ? 1.0f : 0.1f * m * std::log(scale) + 1.0f; };
    float ratio = gm(f, 1.0f);
    if (logMul != 0.0f) ratio = gm(f, logMul != 1.0f ? logMul : 1.0f) / gm(f, logMul);
    const float magnitude = ratio * c.rope_scaling_attn_factor;  // the net cos/sin factor
    a.rope.yarn.attnFactor = magnitude;
    const float mscale = magnitude * (1.0f + 0.1f * logMul * std::log(f));
    a.kqScale = mscale * mscale / std::sqrt(float(a.headDim));
}

Status buildLayer(const ArchLoader& L, const ModelConfig& c, uint32_t il, LayerPlan& out) {
    const int64_t E = c.embedding_length, H = c.head_count, D = c.head_dim, R = c.rope_dimension_count;
    const int64_t N = D - R, C = c.kv_lora_rank, Dv = c.value_head_dim, QL = c.q_lora_rank;
    const auto M = TensorKind::Matrix, Vec = TensorKind::Vector;
    const std::string b = blockPrefix(il);
    AttentionBlock a;
    a.nHead = a.nHeadKv = c.head_count;
    a.headDim = c.head_dim;
    a.rope.neox = false;
    a.rope.nRot = uint32_t(R);
    a.rope.freqBase = c.rope_freq_base;
    applyRopeScaling(c, a.rope);
    if (a.rope.yarn.factor != 0.0f) deepseekYarn(c, a);
    a.norm.eps = c.layer_norm_rms_epsilon;
    Mla& l = a.mla;
    l.qLoraRank = uint32_t(QL);
    l.kvLoraRank = uint32_t(C);
    l.ropeDim = uint32_t(R);
    l.nopeDim = uint32_t(N);
    l.valueDim = uint32_t(Dv);
    l.qANorm.eps = l.kvANorm.eps = c.layer_norm_rms_epsilon;
    MOE_ASSIGN(a.norm.w, L.tensor(b + "attn_norm.weight", {E}, Vec));
    if (QL) {
        MOE_ASSIGN(l.wqA, L.tensor(b + "attn_q_a.weight", {E, QL}, M));
        MOE_ASSIGN(l.qANorm.w, L.tensor(b + "attn_q_a_norm.weight", {QL}, Vec));
        MOE_ASSIGN(l.wqB, L.tensor(b + "attn_q_b.weight", {QL, H * D}, M));
    } else {
        MOE_ASSIGN(a.wq, L.tensor(b + "attn_q.weight", {E, H * D}, M));
    }
    MOE_ASSIGN(l.wkvA, L.tensor(b + "attn_kv_a_mqa.weight", {E, C + R}, M));
    MOE_ASSIGN(l.kvANorm.w, L.tensor(b + "attn_kv_a_norm.weight", {C}, Vec));
    if (L.f.tensor(b + "attn_kv_b.weight")) {
        MOE_ASSIGN(l.wkvB, L.tensor(b + "attn_kv_b.weight", {C, H * (N + Dv)}, M));
    } else {
        MOE_ASSIGN(l.wkB, L.tensor(b + "attn_k_b.weight", {N, C, H}, M));
        MOE_ASSIGN(l.wvB, L.tensor(b + "attn_v_b.weight", {C, Dv, H}, M));
    }
    MOE_ASSIGN(a.wo, L.tensor(b + "attn_output.weight", {H * Dv, E}, M));
    out.blocks.emplace_back(std::move(a));

    if (il < c.leading_dense_block_count) {
        MOE_ASSIGN(FfnBlock f, buildFfn(L, c, il, c.feed_forward_length));
        out.blocks.emplace_back(std::move(f));
        return {};
    }
    MOE_ASSIGN(MoeBlock moe, buildMoe(L, c, il, {.sharedGate = false}));
    MOE_TRY(addRouterKeys(L, c, il, moe));
    out.blocks.emplace_back(std::move(moe));
    return {};
}

}  // namespace

extern const ArchDef kArchDeepseek2{Arch::Deepseek2, "deepseek2", {.normTopK = false}, buildLayer, configure};

}  // namespace moe
