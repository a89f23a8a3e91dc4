// qwen2moe: NeoX RoPE, q/k/v biases, top-k without renormalisation, one shared expert scaled by
// sigmoid(ffn_gate_inp_shexp · x). llama.cpp: src/models/qwen2moe.cpp.
#include "model/arch.h"

namespace moe {

namespace {

Status buildLayer(const ArchLoader& L, const ModelConfig& c, uint32_t il, LayerPlan& out) {
    MOE_ASSIGN(AttentionBlock attn, buildAttention(L, c, il, {.neox = true, .qkNorm = QkNorm::None}));
    MOE_ASSIGN(MoeBlock moe, buildMoe(L, c, il, {.sharedGate = true}));
    out.blocks.emplace_back(std::move(attn));
    out.blocks.emplace_back(std::move(moe));
    return {};
}

}  // namespace

extern const ArchDef kArchQwen2Moe{
    Arch::Qwen2Moe, "qwen2moe", {.normTopK = false, .ffPerExpertFromK = true, .sharedExpert = true}, buildLayer};

}  // namespace moe
