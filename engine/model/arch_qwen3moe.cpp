// qwen3moe: NeoX RoPE, RMSNorm of q and k per head (head_dim), renormalised top-k.
// llama.cpp: src/models/qwen3moe.cpp.
#include "model/arch.h"

namespace moe {

namespace {

Status buildLayer(const ArchLoader& L, const ModelConfig& c, uint32_t il, LayerPlan& out) {
    MOE_ASSIGN(AttentionBlock attn, buildAttention(L, c, il, {.neox = true, .qkNorm = QkNorm::PerHead}));
    MOE_ASSIGN(MoeBlock moe, buildMoe(L, c, il, {}));
    out.blocks.emplace_back(std::move(attn));
    out.blocks.emplace_back(std::move(moe));
    return {};
}

}  // namespace

extern const ArchDef kArchQwen3Moe{Arch::Qwen3Moe, "qwen3moe", {.normTopK = true, .ffPerExpertFromK = true}, buildLayer};

}  // namespace moe
