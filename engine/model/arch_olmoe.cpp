// olmoe: NeoX RoPE, RMSNorm of q and k over the whole projection, top-k without
// renormalisation. llama.cpp: src/models/olmoe.cpp.
#include "model/arch.h"

namespace moe {

namespace {

Status buildLayer(const ArchLoader& L, const ModelConfig& c, uint32_t il, LayerPlan& out) {
    MOE_ASSIGN(AttentionBlock attn, buildAttention(L, c, il, {.neox = true, .qkNorm = QkNorm::Whole}));
    MOE_ASSIGN(MoeBlock moe, buildMoe(L, c, il, {}));
    out.blocks.emplace_back(std::move(attn));
    out.blocks.emplace_back(std::move(moe));
    return {};
}

}  // namespace

extern const ArchDef kArchOlmoe{Arch::Olmoe, "olmoe", {.normTopK = false}, buildLayer};

}  // namespace moe
