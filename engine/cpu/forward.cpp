// CPU reference forward pass: the layer plan executed block by block, every step one call of
// the reference ops (cpu/ops.h, cpu/router.h, cpu/moe.h) over (nTok, ...) row-major buffers.
#include "cpu/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "cpu/moe.h"
#include "cpu/ops.h"
#include "cpu/quant.h"

namespace moe::cpu {

Status checkStep(const ModelConfig& c, const int32_t* tokens, uint32_t nTok, uint32_t pos0, uint32_t nCtx,
                 uint32_t nPast) {
    if (nTok == 0) return makeError("forward: no tokens");
    if (uint64_t(pos0) + nTok > nCtx)
        return makeError("context length " + std::to_string(nCtx) + " exceeded (positions " + std::to_string(pos0) +
                         ".." + std::to_string(uint64_t(pos0) + nTok - 1) + ")");
    if (pos0 > nPast)
        return makeError("forward: pos0 " + std::to_string(pos0) + " is past the " + std::to_string(nPast) +
                         " cached positions");
    for (uint32_t t = 0; t < nTok; ++t)
        if (tokens[t] < 0 || uint32_t(tokens[t]) >= c.n_vocab)
            return makeError("forward: token id " + std::to_string(tokens[t]) + " is out of range (n_vocab " +
                             std::to_string(c.n_vocab) + ")");
    return {};
}

RouterParams defaultRouterParams(const MoeBlock& moe) {
    RouterParams p;
    p.gating = moe.router.sigmoid ? Gating::Sigmoid : Gating::Softmax;
    p.selection = Selection::TopK;
    p.k = int(moe.router.k);
    p.kMax = p.k;
    p.normalize = moe.router.normalize;
    p.routedScale = moe.router.scale;
    if (const TensorView& b = moe.router.selectionBias) {
        p.selectionBias.resize(size_t(b.ne[0]));
        dequantizeRow(b.type, b.data, p.selectionBias.data(), b.ne[0]);
    }
    p.nGroup = int(moe.router.nGroup);
    p.groupsUsed = int(moe.router.groupsUsed);
    return p;
}

std::vector<RouterParams> defaultRouting(const ModelPlan& plan) {
    RouterParams first;
    for (const LayerPlan& l : plan.layers)
        if (const MoeBlock* m = l.moe()) {
            first = defaultRouterParams(*m);
            break;
        }
    std::vector<RouterParams> out;
    for (const LayerPlan& l : plan.layers) out.push_back(l.moe() ? defaultRouterParams(*l.moe()) : first);
    return out;
}

// The activations of one forward() call: T tokens of the residual stream and scratch.
struct CpuForward::Step {
    int64_t T = 0;
    uint32_t pos0 = 0;
    std::vector<int32_t> positions;  // (T)
    std::vector<float> x, xn;        // (T, n_embd) residual stream, normed input of a block
};

CpuForward::CpuForward(const Model& model, uint32_t nCtx) : model_(model), nCtx_(nCtx) {
    const ModelConfig& c = model.cfg;
    auto keep = [&](const TensorView& t, TensorRole role) {
        if (role != TensorRole::Vector || !t || vectors_.count(t.data)) return;
        std::vector<float> v(size_t(t.ne[0]));
        dequantizeRow(t.type, t.data, v.data(), t.ne[0]);
        vectors_.emplace(t.data, std::move(v));
    };
    for (const LayerPlan& l : model.plan.layers) forEachTensor(l, keep);
    keep(model.plan.outputNorm.w, TensorRole::Vector);
    kCache_.resize(c.block_count);
    vCache_.resize(c.block_count);
    router_.resize(c.block_count);
    for (uint32_t il = 0; il < c.block_count; ++il) {
        const LayerPlan& l = model.plan.layers[il];
        if (const AttentionBlock* a = l.attention()) {
            const size_t H = a->mla ? a->nHead : a->nHeadKv;
            kCache_[il].assign(size_t(nCtx) * H * a->headDim, 0.0f);
            vCache_[il].assign(size_t(nCtx) * H * a->headDimV(), 0.0f);
        }
    }
    router_ = defaultRouting(model.plan);
}

const float* CpuForward::vec(const TensorView& t) const {
    if (!t) return nullptr;
    return vectors_.at(t.data).data();
}

RouterParams CpuForward::defaultRouterParams() const {
    for (const LayerPlan& l : model_.plan.layers)
        if (const MoeBlock* m = l.moe()) return cpu::defaultRouterParams(*m);
    return {};
}

Status CpuForward::setRouting(const std::vector<RouterParams>& layers) {
    MOE_TRY(checkRouting(layers, model_.cfg.expert_count, model_.cfg.block_count));
    router_ = layers;
    return {};
}

// y (rows) = Wᵀ x for W (cols, rows) row-major of type t: y[j] = Σ_r W[r][j] x[r].
static void matVecT(GgmlType t, const uint8_t* w, int64_t rows, int64_t cols, const float* x, float* y) {
    std::vector<float> row(static_cast<size_t>(rows));
    std::fill(y, y + rows, 0.0f);
    std::vector<double> acc(size_t(rows), 0.0);
    const uint64_t rb = rowBytes(t, uint64_t(rows));
    for (int64_t r = 0; r < cols; ++r) {
        dequantizeRow(t, w + r * rb, row.data(), rows);
        for (int64_t j = 0; j < rows; ++j) acc[size_t(j)] += double(row[size_t(j)]) * double(x[r]);
    }
    for (int64_t j = 0; j < rows; ++j) y[j] = float(acc[size_t(j)]);
}

std::optional<YarnParams> ropeYarn(const Rope& r) {
    if (r.yarn.factor == 0.0f) return std::nullopt;
    return yarnParams(r.nRot, r.freqBase, r.yarn.factor, r.yarn.origContext, r.yarn.betaFast, r.yarn.betaSlow,
                      r.yarn.attnFactor);
}

void CpuForward::mlaProjections(const AttentionBlock& a, uint32_t il, Step& s, std::vector<float>& q) {
    const ModelConfig& c = model_.cfg;
    const Mla& l = a.mla;
    const int64_t T = s.T, E = c.embedding_length, H = a.nHead, D = a.headDim, R = l.ropeDim, N = l.nopeDim;
    const int64_t C = l.kvLoraRank, Dv = l.valueDim, Q = H * D;
    const std::optional<YarnParams> yarn = ropeYarn(a.rope);
    const YarnParams* ya = yarn ? &*yarn : nullptr;

    // q: wq · x, or wqB · norm(wqA · x); rope on the last R dims of every head
    if (l.qLoraRank) {
        std::vector<float> qa(size_t(T * l.qLoraRank));
        matMul(l.wqA.type, l.wqA.data, l.qLoraRank, E, s.xn.data(), T, qa.data());
        rmsNorm(qa.data(), vec(l.qANorm.w), T, l.qLoraRank, l.qANorm.eps, qa.data());
        matMul(l.wqB.type, l.wqB.data, Q, l.qLoraRank, qa.data(), T, q.data());
    } else {
        matMul(a.wq.type, a.wq.data, Q, E, s.xn.data(), T, q.data());
    }
    for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < H; ++h)
            rope(q.data() + (t * H + h) * D + N, 1, 1, R, &s.positions[size_t(t)], R, a.rope.freqBase, a.rope.neox, ya);

    // the latent row [c | k_rope]: c normed, k_rope rotated (one head shared by all)
    std::vector<float> kv(size_t(T * (C + R)));
    matMul(l.wkvA.type, l.wkvA.data, C + R, E, s.xn.data(), T, kv.data());
    for (int64_t t = 0; t < T; ++t) {
        float* row = kv.data() + t * (C + R);
        rmsNorm(row, vec(l.kvANorm.w), 1, C, l.kvANorm.eps, row);
        rope(row + C, 1, 1, R, &s.positions[size_t(t)], R, a.rope.freqBase, a.rope.neox, ya);
    }

    // expanded per head: k_h = [wkB_h · c | k_rope], v_h = wvB_h · c
    std::vector<float> kvb(static_cast<size_t>(H * (N + Dv)));
    for (int64_t t = 0; t < T; ++t) {
        const float* c0 = kv.data() + t * (C + R);
        float* kRow = kCache_[il].data() + (size_t(s.pos0) + t) * H * D;
        float* vRow = vCache_[il].data() + (size_t(s.pos0) + t) * H * Dv;
        if (l.wkvB) matVec(l.wkvB.type, l.wkvB.data, H * (N + Dv), C, c0, kvb.data());
        for (int64_t h = 0; h < H; ++h) {
            float* kh = kRow + h * D;
            float* vh = vRow + h * Dv;
            if (l.wkvB) {
                std::copy_n(kvb.data() + h * (N + Dv), N, kh);
                std::copy_n(kvb.data() + h * (N + Dv) + N, Dv, vh);
            } else {
                matVecT(l.wkB.type, l.wkB.data + h * C * l.wkB.rowBytes(), N, C, c0, kh);
                matVec(l.wvB.type, l.wvB.data + h * Dv * l.wvB.rowBytes(), Dv, C, c0, vh);
            }
            std::copy_n(c0 + C, R, kh + N);
        }
    }
}

void CpuForward::attentionBlock(const AttentionBlock& a, uint32_t il, Step& s) {
    const ModelConfig& c = model_.cfg;
    const int64_t T = s.T, E = c.embedding_length, H = a.nHead, Hkv = a.nHeadKv, D = a.headDim;
    const int64_t Q = H * D, KV = Hkv * D, Dv = a.headDimV();
    std::vector<float> q(T * Q), att(T * H * Dv), out(T * E);

    if (a.mla) {
        rmsNorm(s.x.data(), vec(a.norm.w), T, E, a.norm.eps, s.xn.data());
        mlaProjections(a, il, s, q);
        attention(q.data(), kCache_[il].data(), vCache_[il].data(), T, H, H, D, s.pos0, att.data(), a.kqScale, Dv);
        matMul(a.wo.type, a.wo.data, E, H * Dv, att.data(), T, out.data());
        add(s.x.data(), out.data(), s.x.data(), T * E);
        return;
    }
    std::vector<float> k(T * KV), v(T * KV);
    auto addBias = [&](std::vector<float>& y, const TensorView& b, int64_t n) {
        if (const float* bias = vec(b))
            for (int64_t t = 0; t < T; ++t) add(y.data() + t * n, bias, y.data() + t * n, n);
    };

    // attention rmsnorm
    rmsNorm(s.x.data(), vec(a.norm.w), T, E, a.norm.eps, s.xn.data());

    // q, k, v projections (+ bias)
    matMul(a.wq.type, a.wq.data, Q, E, s.xn.data(), T, q.data());
    matMul(a.wk.type, a.wk.data, KV, E, s.xn.data(), T, k.data());
    matMul(a.wv.type, a.wv.data, KV, E, s.xn.data(), T, v.data());
    addBias(q, a.bq, Q);
    addBias(k, a.bk, KV);
    addBias(v, a.bv, KV);

    // q/k rmsnorm: per head over head_dim, or over the whole projection
    if (a.qkNorm == QkNorm::PerHead) {
        rmsNorm(q.data(), vec(a.qNorm.w), T * H, D, a.qNorm.eps, q.data());
        rmsNorm(k.data(), vec(a.kNorm.w), T * Hkv, D, a.kNorm.eps, k.data());
    } else if (a.qkNorm == QkNorm::Whole) {
        rmsNorm(q.data(), vec(a.qNorm.w), T, Q, a.qNorm.eps, q.data());
        rmsNorm(k.data(), vec(a.kNorm.w), T, KV, a.kNorm.eps, k.data());
    }

    // rope of the first nRot dimensions of every head (pairs or NeoX halves)
    const std::optional<YarnParams> yarn = ropeYarn(a.rope);
    const YarnParams* ya = yarn ? &*yarn : nullptr;
    rope(q.data(), T, H, D, s.positions.data(), a.rope.nRot, a.rope.freqBase, a.rope.neox, ya);
    rope(k.data(), T, Hkv, D, s.positions.data(), a.rope.nRot, a.rope.freqBase, a.rope.neox, ya);

    // write K/V of the new tokens at [pos0, pos0 + nTok)
    std::memcpy(kCache_[il].data() + size_t(s.pos0) * KV, k.data(), k.size() * sizeof(float));
    std::memcpy(vCache_[il].data() + size_t(s.pos0) * KV, v.data(), v.size() * sizeof(float));

    // causal attention over positions [0, pos0 + t]
    attention(q.data(), kCache_[il].data(), vCache_[il].data(), T, H, Hkv, D, s.pos0, att.data(), a.kqScale);

    // output projection, residual
    matMul(a.wo.type, a.wo.data, E, Q, att.data(), T, out.data());
    add(s.x.data(), out.data(), s.x.data(), T * E);
}

void CpuForward::moeBlock(const MoeBlock& m, uint32_t il, Step& s) {
    const ModelConfig& c = model_.cfg;
    const int64_t T = s.T, E = c.embedding_length, X = m.nExpert, F = m.nFf, S = m.shared.nFf;
    const RouterParams& rp = router_[il];
    std::vector<float> logits(T * X), probs(T * X), out(T * E);
    std::vector<int32_t> ids(T * rp.kMax), counts(T);
    std::vector<float> weights(T * rp.kMax);

    // ffn rmsnorm
    rmsNorm(s.x.data(), vec(m.norm.w), T, E, m.norm.eps, s.xn.data());

    // router: logits over experts, then top-k (or this layer's policy)
    matMul(m.router.w.type, m.router.w.data, X, E, s.xn.data(), T, logits.data());
    route(rp, logits.data(), T, X, ids.data(), weights.data(), counts.data(), probs.data());
    if (recordRouting_) {
        rt::RoutingRecord& r = routing_;
        for (int64_t t = 0; t < T; ++t) {
            const size_t row = size_t(il) * T + t;
            std::copy_n(ids.data() + t * rp.kMax, rp.kMax, r.ids.data() + row * r.kMax);
            std::copy_n(weights.data() + t * rp.kMax, rp.kMax, r.weights.data() + row * r.kMax);
            r.counts[row] = counts[t];
        }
        std::copy(probs.begin(), probs.end(), r.probs.begin() + size_t(il) * T * X);
    }

    // routed experts: Σ_j w_j · down_e(silu(gate_e · x) * up_e · x)
    moeFfn(s.xn.data(), T, E, F, {m.gateExps.type, m.gateExps.data}, {m.upExps.type, m.upExps.data},
           {m.downExps.type, m.downExps.data}, ids.data(), weights.data(), rp.kMax, out.data());

    // shared expert, scaled by sigmoid(gate_inp_shexp · x) when gated
    if (m.shared) {
        const SharedExpert& sh = m.shared;
        std::vector<float> g(T * S), u(T * S), y(T * E);
        matMul(sh.gate.type, sh.gate.data, S, E, s.xn.data(), T, g.data());
        matMul(sh.up.type, sh.up.data, S, E, s.xn.data(), T, u.data());
        swiglu(g.data(), u.data(), g.data(), T * S);
        matMul(sh.down.type, sh.down.data, E, S, g.data(), T, y.data());
        for (int64_t t = 0; t < T; ++t) {
            float scale = 1.0f;
            if (sh.gateInp) scale = 1.0f / (1.0f + std::exp(-dotRow(sh.gateInp.type, sh.gateInp.data, s.xn.data() + t * E, E)));
            for (int64_t i = 0; i < E; ++i) out[t * E + i] += scale * y[t * E + i];
        }
    }

    // residual
    add(s.x.data(), out.data(), s.x.data(), T * E);
}

void CpuForward::ffnBlock(const FfnBlock& f, Step& s) {
    const int64_t T = s.T, E = model_.cfg.embedding_length, F = f.nFf;
    std::vector<float> g(T * F), u(T * F), y(T * E);
    rmsNorm(s.x.data(), vec(f.norm.w), T, E, f.norm.eps, s.xn.data());
    matMul(f.gate.type, f.gate.data, F, E, s.xn.data(), T, g.data());
    matMul(f.up.type, f.up.data, F, E, s.xn.data(), T, u.data());
    swiglu(g.data(), u.data(), g.data(), T * F);
    matMul(f.down.type, f.down.data, E, F, g.data(), T, y.data());
    add(s.x.data(), y.data(), s.x.data(), T * E);
}

Status CpuForward::forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) {
    const ModelConfig& c = model_.cfg;
    const ModelPlan& plan = model_.plan;
    MOE_TRY(checkStep(c, tokens, nTok, pos0, nCtx_, nPast_));
    MOE_TRY(checkRouting(router_, c.expert_count, c.block_count));

    const int64_t T = nTok, E = c.embedding_length, V = c.n_vocab;
    Step s;
    s.T = T;
    s.pos0 = pos0;
    s.x.resize(T * E);
    s.xn.resize(T * E);
    s.positions.resize(T);
    for (int64_t t = 0; t < T; ++t) s.positions[t] = int32_t(pos0 + t);

    // the routing record: (n_layer, nTok, widest kMax) rows, -1 / 0 padded
    rt::RoutingRecord& r = routing_;
    r = {};
    if (recordRouting_) {
        r.nTok = nTok;
        r.nLayer = c.block_count;
        r.nExpert = c.expert_count;
        for (const RouterParams& p : router_) r.kMax = std::max(r.kMax, uint32_t(p.kMax));
        r.ids.assign(size_t(r.nLayer) * nTok * r.kMax, -1);
        r.weights.assign(size_t(r.nLayer) * nTok * r.kMax, 0.0f);
        r.counts.assign(size_t(r.nLayer) * nTok, 0);
        r.probs.assign(size_t(r.nLayer) * nTok * r.nExpert, 0.0f);
    }

    // token embeddings
    getRows(plan.tokenEmbd.type, plan.tokenEmbd.data, E, tokens, T, s.x.data());

    // the layer plan, block by block (each adds into the residual stream x)
    for (uint32_t il = 0; il < c.block_count; ++il) {
        for (const Block& b : plan.layers[il].blocks) {
            if (auto* a = std::get_if<AttentionBlock>(&b)) attentionBlock(*a, il, s);
            else if (auto* m = std::get_if<MoeBlock>(&b)) moeBlock(*m, il, s);
            else if (auto* f = std::get_if<FfnBlock>(&b)) ffnBlock(*f, s);
            else return makeError("forward: layer " + std::to_string(il) + " has a block the CPU reference does not run");
        }
    }

    // final rmsnorm and lm head, for every token or the last one only
    const int64_t first = allLogits ? 0 : T - 1, nOut = T - first;
    rmsNorm(s.x.data() + first * E, vec(plan.outputNorm.w), nOut, E, plan.outputNorm.eps, s.xn.data());
    matMul(plan.output.type, plan.output.data, V, E, s.xn.data(), nOut, logits);

    nPast_ = pos0 + nTok;
    return {};
}

}  // namespace moe::cpu
