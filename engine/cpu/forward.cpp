// CPU reference forward pass: one function, the layer loop top to bottom, every step one call of
// the reference ops (cpu/ops.h, cpu/router.h, cpu/moe.h) over (nTok, ...) row-major buffers.
#include "cpu/forward.h"

#include <cmath>
#include <cstring>
#include <string>

#include "cpu/moe.h"
#include "cpu/ops.h"
#include "cpu/quant.h"

namespace moe::cpu {

namespace {

// A 1-D F32/F16/BF16 tensor (norm or bias) as floats; empty when absent.
std::vector<float> toF32(const TensorView& t) {
    if (!t) return {};
    std::vector<float> v(size_t(t.ne[0]));
    dequantizeRow(t.type, t.data, v.data(), t.ne[0]);
    return v;
}

void addRowBias(float* x, const std::vector<float>& b, int64_t nTok) {
    if (b.empty()) return;
    const int64_t n = int64_t(b.size());
    for (int64_t t = 0; t < nTok; ++t) add(x + t * n, b.data(), x + t * n, n);
}

}  // namespace

void RoutingRecord::add(const RoutingEvent& e) {
    for (uint32_t t = 0; t < e.nTok; ++t) {
        Entry en{e.layer, e.pos0 + t, {}, {}, {}};
        const int32_t n = e.counts[t];
        en.ids.assign(e.ids + size_t(t) * e.kMax, e.ids + size_t(t) * e.kMax + n);
        en.weights.assign(e.weights + size_t(t) * e.kMax, e.weights + size_t(t) * e.kMax + n);
        en.probs.assign(e.probs + size_t(t) * e.nExpert, e.probs + size_t(t + 1) * e.nExpert);
        entries.push_back(std::move(en));
    }
}

CpuForward::CpuForward(const Model& model, uint32_t nCtx) : model_(model), nCtx_(nCtx) {
    const ModelConfig& c = model.cfg;
    for (const LayerWeights& l : model.layers) {
        vec_.push_back({toF32(l.attn_norm), toF32(l.ffn_norm), toF32(l.q_norm), toF32(l.k_norm), toF32(l.bq),
                        toF32(l.bk), toF32(l.bv)});
    }
    outputNorm_ = toF32(model.output_norm);
    const size_t kvSize = size_t(nCtx) * c.head_count_kv * c.head_dim;
    kCache_.assign(c.block_count, std::vector<float>(kvSize));
    vCache_.assign(c.block_count, std::vector<float>(kvSize));
    router_.assign(c.block_count, defaultRouterParams());
}

RouterParams CpuForward::defaultRouterParams() const {
    RouterParams p;
    p.gating = Gating::Softmax;
    p.selection = Selection::TopK;
    p.k = int(model_.cfg.expert_used_count);
    p.kMax = p.k;
    p.normalize = model_.cfg.expert_weights_norm;
    return p;
}

Status CpuForward::forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) {
    const ModelConfig& c = model_.cfg;
    if (nTok == 0) return makeError("forward: no tokens");
    if (uint64_t(pos0) + nTok > nCtx_)
        return makeError("context length " + std::to_string(nCtx_) + " exceeded (positions " + std::to_string(pos0) +
                         ".." + std::to_string(uint64_t(pos0) + nTok - 1) + ")");
    if (pos0 > nPast_)
        return makeError("forward: pos0 " + std::to_string(pos0) + " is past the " + std::to_string(nPast_) +
                         " cached positions");
    for (uint32_t t = 0; t < nTok; ++t)
        if (tokens[t] < 0 || uint32_t(tokens[t]) >= c.n_vocab)
            return makeError("forward: token id " + std::to_string(tokens[t]) + " is out of range (n_vocab " +
                             std::to_string(c.n_vocab) + ")");
    for (uint32_t il = 0; il < c.block_count; ++il) {
        const RouterParams& rp = router_[il];
        if (rp.kMax < 1 || (rp.selection == Selection::TopK && rp.k > rp.kMax))
            return makeError("forward: layer " + std::to_string(il) + " router kMax " + std::to_string(rp.kMax) +
                             " must be >= 1 and >= k " + std::to_string(rp.k));
    }

    const int64_t T = nTok, E = c.embedding_length, H = c.head_count, Hkv = c.head_count_kv, D = c.head_dim;
    const int64_t Q = H * D, KV = Hkv * D, X = c.expert_count, F = c.expert_feed_forward_length;
    const int64_t S = c.expert_shared_feed_forward_length, V = c.n_vocab;
    const float eps = c.layer_norm_rms_epsilon;

    std::vector<float> x(T * E), xn(T * E), q(T * Q), k(T * KV), v(T * KV), att(T * Q), tmp(T * E);
    std::vector<float> routerLogits(T * X), probs(T * X), moeOut(T * E);
    std::vector<int32_t> positions(T);
    for (int64_t t = 0; t < T; ++t) positions[t] = int32_t(pos0 + t);

    // token embeddings
    getRows(model_.token_embd.type, model_.token_embd.data, E, tokens, T, x.data());

    for (uint32_t il = 0; il < c.block_count; ++il) {
        const LayerWeights& l = model_.layers[il];
        const LayerVectors& lv = vec_[il];

        // attention rmsnorm
        rmsNorm(x.data(), lv.attn_norm.data(), T, E, eps, xn.data());

        // q, k, v projections (+ bias)
        matMul(l.wq.type, l.wq.data, Q, E, xn.data(), T, q.data());
        matMul(l.wk.type, l.wk.data, KV, E, xn.data(), T, k.data());
        matMul(l.wv.type, l.wv.data, KV, E, xn.data(), T, v.data());
        addRowBias(q.data(), lv.bq, T);
        addRowBias(k.data(), lv.bk, T);
        addRowBias(v.data(), lv.bv, T);

        // q/k rmsnorm: per head over head_dim (qwen3moe) or over the whole projection (olmoe)
        if (c.qk_norm_per_head) {
            rmsNorm(q.data(), lv.q_norm.data(), T * H, D, eps, q.data());
            rmsNorm(k.data(), lv.k_norm.data(), T * Hkv, D, eps, k.data());
        } else if (c.qk_norm) {
            rmsNorm(q.data(), lv.q_norm.data(), T, Q, eps, q.data());
            rmsNorm(k.data(), lv.k_norm.data(), T, KV, eps, k.data());
        }

        // rope (normal pairs for llama, NeoX halves for the others)
        rope(q.data(), T, H, D, positions.data(), c.rope_dimension_count, c.rope_freq_base, c.rope_neox);
        rope(k.data(), T, Hkv, D, positions.data(), c.rope_dimension_count, c.rope_freq_base, c.rope_neox);

        // write K/V of the new tokens at [pos0, pos0 + nTok)
        std::memcpy(kCache_[il].data() + size_t(pos0) * KV, k.data(), k.size() * sizeof(float));
        std::memcpy(vCache_[il].data() + size_t(pos0) * KV, v.data(), v.size() * sizeof(float));

        // causal attention over positions [0, pos0 + t]
        attention(q.data(), kCache_[il].data(), vCache_[il].data(), T, H, Hkv, D, pos0, att.data());

        // output projection, residual
        matMul(l.wo.type, l.wo.data, E, Q, att.data(), T, tmp.data());
        add(x.data(), tmp.data(), x.data(), T * E);

        // ffn rmsnorm
        rmsNorm(x.data(), lv.ffn_norm.data(), T, E, eps, xn.data());

        // router: logits over experts, then top-k (or this layer's policy)
        const RouterParams& rp = router_[il];
        std::vector<int32_t> ids(T * rp.kMax), counts(T);
        std::vector<float> weights(T * rp.kMax);
        matMul(l.ffn_gate_inp.type, l.ffn_gate_inp.data, X, E, xn.data(), T, routerLogits.data());
        route(rp, routerLogits.data(), T, X, ids.data(), weights.data(), counts.data(), probs.data());
        if (hook_)
            hook_({il, pos0, nTok, int32_t(X), int32_t(rp.kMax), routerLogits.data(), probs.data(), ids.data(),
                   weights.data(), counts.data()});

        // routed experts: Σ_j w_j · down_e(silu(gate_e · x) * up_e · x)
        moeFfn(xn.data(), T, E, F, {l.ffn_gate_exps.type, l.ffn_gate_exps.data},
               {l.ffn_up_exps.type, l.ffn_up_exps.data}, {l.ffn_down_exps.type, l.ffn_down_exps.data}, ids.data(),
               weights.data(), rp.kMax, moeOut.data());

        // shared expert, scaled by sigmoid(ffn_gate_inp_shexp · x) (qwen2moe)
        if (S > 0) {
            std::vector<float> g(T * S), u(T * S);
            matMul(l.ffn_gate_shexp.type, l.ffn_gate_shexp.data, S, E, xn.data(), T, g.data());
            matMul(l.ffn_up_shexp.type, l.ffn_up_shexp.data, S, E, xn.data(), T, u.data());
            swiglu(g.data(), u.data(), g.data(), T * S);
            matMul(l.ffn_down_shexp.type, l.ffn_down_shexp.data, E, S, g.data(), T, tmp.data());
            for (int64_t t = 0; t < T; ++t) {
                const float gate = dotRow(l.ffn_gate_inp_shexp.type, l.ffn_gate_inp_shexp.data, xn.data() + t * E, E);
                const float s = 1.0f / (1.0f + std::exp(-gate));
                for (int64_t i = 0; i < E; ++i) moeOut[t * E + i] += s * tmp[t * E + i];
            }
        }

        // residual
        add(x.data(), moeOut.data(), x.data(), T * E);
    }

    // final rmsnorm and lm head, for every token or the last one only
    const int64_t first = allLogits ? 0 : T - 1, nOut = T - first;
    rmsNorm(x.data() + first * E, outputNorm_.data(), nOut, E, eps, xn.data());
    matMul(model_.output.type, model_.output.data, V, E, xn.data(), nOut, logits);

    nPast_ = pos0 + nTok;
    return {};
}

}  // namespace moe::cpu
