// Bytes and FLOPs per token from the model's tensor shapes (see cost.h for what is counted).
#include "model/cost.h"

namespace moe {

namespace {

uint64_t elements(const TensorView& t) { return t ? uint64_t(t.ne[0]) * t.ne[1] * t.ne[2] * t.ne[3] : 0; }
bool isVector(const TensorView& t) { return t.ne[1] == 1 && t.ne[2] == 1 && t.ne[3] == 1; }

// The tensors of a layer every token reads in full (all but the routed experts).
template <class F>
void forEachDense(const LayerWeights& l, F&& f) {
    for (const TensorView* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.bq, &l.bk, &l.bv, &l.wo, &l.q_norm, &l.k_norm,
                                &l.ffn_norm, &l.ffn_gate_inp, &l.ffn_gate_inp_shexp, &l.ffn_gate_shexp, &l.ffn_up_shexp,
                                &l.ffn_down_shexp})
        if (*t) f(*t);
}

// Matrix products of a layer's dense part: every 2-D tensor, plus the shared-expert gate row
// (a dot product over n_embd).
double denseLayerFlops(const LayerWeights& l) {
    double flops = 0;
    forEachDense(l, [&](const TensorView& t) {
        if (!isVector(t) || &t == &l.ffn_gate_inp_shexp) flops += 2.0 * double(elements(t));
    });
    return flops;
}

double expertFlops(const LayerWeights& l, uint32_t nExpert) {
    return 2.0 * double(elements(l.ffn_gate_exps) + elements(l.ffn_up_exps) + elements(l.ffn_down_exps)) / nExpert;
}

}  // namespace

uint64_t deviceBytes(const TensorView& t) {
    if (!t) return 0;
    return isVector(t) ? uint64_t(t.ne[0]) * 4 : t.nBytes;
}

uint64_t expertBytes(const LayerWeights& l, uint32_t nExpert) {
    if (nExpert == 0) return 0;
    return (l.ffn_gate_exps.nBytes + l.ffn_up_exps.nBytes + l.ffn_down_exps.nBytes) / nExpert;
}

TokenBytes decodeBytes(const Model& m, std::span<const uint32_t> expertsPerLayer, uint32_t pos) {
    const ModelConfig& c = m.cfg;
    TokenBytes b;
    for (size_t il = 0; il < m.layers.size(); ++il) {
        const LayerWeights& l = m.layers[il];
        forEachDense(l, [&](const TensorView& t) { b.dense += deviceBytes(t); });
        const uint32_t n = il < expertsPerLayer.size() ? expertsPerLayer[il] : 0;
        b.experts += uint64_t(n) * expertBytes(l, c.expert_count);
    }
    b.dense += deviceBytes(m.output_norm);
    b.lmHead = m.output ? m.output.nBytes : m.token_embd.nBytes;
    b.embedding = m.token_embd.rowBytes();
    const uint64_t kvRow = uint64_t(c.head_count_kv) * c.head_dim * sizeof(float);
    b.kv = 2ull * c.block_count * (uint64_t(pos) + 1) * kvRow;
    return b;
}

double tokenFlops(const Model& m, std::span<const uint32_t> expertsPerLayer, uint32_t pos, bool lmHead) {
    const ModelConfig& c = m.cfg;
    double flops = 0;
    for (size_t il = 0; il < m.layers.size(); ++il) {
        const LayerWeights& l = m.layers[il];
        const uint32_t n = il < expertsPerLayer.size() ? expertsPerLayer[il] : 0;
        flops += denseLayerFlops(l) + n * expertFlops(l, c.expert_count);
        // q·k over pos + 1 keys and the weighted sum of as many values, per head
        flops += 4.0 * c.head_count * c.head_dim * (double(pos) + 1);
    }
    if (lmHead) flops += 2.0 * double(c.n_vocab) * c.embedding_length;
    return flops;
}

double prefillFlops(const Model& m, uint32_t nTok) {
    std::vector<uint32_t> k(m.layers.size(), m.cfg.expert_used_count);
    double flops = 0;
    for (uint32_t t = 0; t < nTok; ++t) flops += tokenFlops(m, k, t, t + 1 == nTok);
    return flops;
}

}  // namespace moe
