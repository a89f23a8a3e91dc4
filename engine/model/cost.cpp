// Bytes and FLOPs per token from the model's tensor shapes (see cost.h for what is counted).
#include "model/cost.h"

namespace moe {

namespace {

uint64_t elements(const TensorView& t) { return t ? uint64_t(t.ne[0]) * t.ne[1] * t.ne[2] * t.ne[3] : 0; }
bool isVector(const TensorView& t) { return t.ne[1] == 1 && t.ne[2] == 1 && t.ne[3] == 1; }

// Matrix products of a layer's dense part: every matrix every token reads (the shared-expert
// gate row included: a dot product over n_embd).
double denseLayerFlops(const LayerPlan& l) {
    double flops = 0;
    forEachTensor(l, [&](const TensorView& t, TensorRole r) {
        if (r == TensorRole::Matrix) flops += 2.0 * double(elements(t));
    });
    return flops;
}

double expertFlops(const LayerPlan& l) {
    const MoeBlock* m = l.moe();
    if (!m) return 0;
    return 2.0 * double(elements(m->gateExps) + elements(m->upExps) + elements(m->downExps)) / m->nExpert;
}

}  // namespace

uint64_t deviceBytes(const TensorView& t) {
    if (!t) return 0;
    return isVector(t) ? uint64_t(t.ne[0]) * 4 : t.nBytes;
}

uint64_t expertBytes(const MoeBlock& m) {
    if (m.nExpert == 0) return 0;
    return (m.gateExps.nBytes + m.upExps.nBytes + m.downExps.nBytes) / m.nExpert;
}

TokenBytes decodeBytes(const Model& m, std::span<const uint32_t> expertsPerLayer, uint32_t pos) {
    TokenBytes b;
    for (size_t il = 0; il < m.plan.layers.size(); ++il) {
        const LayerPlan& l = m.plan.layers[il];
        forEachTensor(l, [&](const TensorView& t, TensorRole r) {
            if (r != TensorRole::RoutedExperts) b.dense += deviceBytes(t);
        });
        const uint32_t n = il < expertsPerLayer.size() ? expertsPerLayer[il] : 0;
        if (const MoeBlock* moe = l.moe()) b.experts += uint64_t(n) * expertBytes(*moe);
    }
    b.dense += deviceBytes(m.plan.outputNorm.w);
    b.lmHead = m.plan.output.nBytes;
    b.embedding = m.plan.tokenEmbd.rowBytes();
    b.kv = (uint64_t(pos) + 1) * kvBytesPerToken(m.plan);  // latent rows for MLA
    return b;
}

double tokenFlops(const Model& m, std::span<const uint32_t> expertsPerLayer, uint32_t pos, bool lmHead) {
    const ModelConfig& c = m.cfg;
    double flops = 0;
    for (size_t il = 0; il < m.plan.layers.size(); ++il) {
        const LayerPlan& l = m.plan.layers[il];
        const uint32_t n = il < expertsPerLayer.size() ? expertsPerLayer[il] : 0;
        flops += denseLayerFlops(l) + n * expertFlops(l);
        // q·k over pos + 1 keys and the weighted sum of as many values, per head (MLA: the
        // absorbed MQA over latent rows of kv_lora_rank + rope, values kv_lora_rank)
        if (const AttentionBlock* a = l.attention()) {
            const double dk = a->mla ? a->mla.kvLoraRank + a->mla.ropeDim : a->headDim;
            const double dv = a->mla ? a->mla.kvLoraRank : a->headDimV();
            flops += 2.0 * a->nHead * (dk + dv) * (double(pos) + 1);
        }
    }
    if (lmHead) flops += 2.0 * double(c.n_vocab) * c.embedding_length;
    return flops;
}

double prefillFlops(const Model& m, uint32_t nTok) {
    std::vector<uint32_t> k(m.plan.layers.size(), m.cfg.expert_used_count);
    double flops = 0;
    for (uint32_t t = 0; t < nTok; ++t) flops += tokenFlops(m, k, t, t + 1 == nTok);
    return flops;
}

}  // namespace moe
