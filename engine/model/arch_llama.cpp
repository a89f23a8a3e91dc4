// llama with experts (Mixtral): normal RoPE, no q/k norm, renormalised top-k, optional output
// (tied to token_embd). llama.cpp: src/models/llama.cpp.
#include "model/arch.h"

namespace moe {

namespace {

Status buildLayer(const ArchLoader& L, const ModelConfig& c, uint32_t il, LayerPlan& out) {
    MOE_ASSIGN(AttentionBlock attn, buildAttention(L, c, il, {.neox = false, .qkNorm = QkNorm::None}));
    MOE_ASSIGN(MoeBlock moe, buildMoe(L, c, il, {}));
    out.blocks.emplace_back(std::move(attn));
    out.blocks.emplace_back(std::move(moe));
    return {};
}

}  // namespace

extern const ArchDef kArchLlama{Arch::Llama, "llama", {.normTopK = true}, buildLayer};

}  // namespace moe
