// Layer-plan accessors, and the one check of what the executors implement.
#include "model/plan.h"

#include <string>

namespace moe {

const AttentionBlock* LayerPlan::attention() const {
    for (const Block& b : blocks)
        if (auto* a = std::get_if<AttentionBlock>(&b)) return a;
    return nullptr;
}

const FfnBlock* LayerPlan::ffn() const {
    for (const Block& b : blocks)
        if (auto* f = std::get_if<FfnBlock>(&b)) return f;
    return nullptr;
}

const MoeBlock* LayerPlan::moe() const {
    for (const Block& b : blocks)
        if (auto* m = std::get_if<MoeBlock>(&b)) return m;
    return nullptr;
}

void forEachTensor(const LayerPlan& layer, const std::function<void(const TensorView&, TensorRole)>& f) {
    const auto V = TensorRole::Vector, M = TensorRole::Matrix, X = TensorRole::RoutedExperts;
    auto ffn = [&](const FfnBlock& b) {
        f(b.norm.w, V), f(b.gate, M), f(b.up, M), f(b.down, M), f(b.postNorm.w, V);
    };
    for (const Block& blk : layer.blocks) {
        if (auto* a = std::get_if<AttentionBlock>(&blk)) {
            f(a->norm.w, V), f(a->wq, M), f(a->wk, M), f(a->wv, M), f(a->bq, V), f(a->bk, V), f(a->bv, V);
            f(a->wo, M), f(a->bo, V), f(a->qNorm.w, V), f(a->kNorm.w, V);
            f(a->sinks, V), f(a->postNorm.w, V);
            const Mla& l = a->mla;
            f(l.wqA, M), f(l.wqB, M), f(l.qANorm.w, V), f(l.kvANorm.w, V), f(l.wkvA, M), f(l.wkB, M), f(l.wvB, M);
            f(l.wkvB, M);
        } else if (auto* b = std::get_if<FfnBlock>(&blk)) {
            ffn(*b);
        } else if (auto* m = std::get_if<MoeBlock>(&blk)) {
            f(m->norm.w, V), f(m->router.w, M), f(m->router.bias, V), f(m->router.selectionBias, V);
            f(m->gateExps, X), f(m->upExps, X), f(m->downExps, X);
            f(m->gateExpsBias, X), f(m->upExpsBias, X), f(m->downExpsBias, X);
            f(m->shared.gateInp, M), f(m->shared.gate, M), f(m->shared.up, M), f(m->shared.down, M);
            f(m->postNorm.w, V);
            ffn(m->parallel);
        } else if (auto* r = std::get_if<RecurrentBlock>(&blk)) {
            f(r->norm.w, V), f(r->inProj, M), f(r->gateProj, M), f(r->betaProj, M), f(r->alphaProj, M);
            f(r->conv1d, M), f(r->outProj, M), f(r->outNorm, V), f(r->postNorm.w, V);
        }
    }
}

uint64_t kvBytesPerToken(const ModelPlan& plan) {
    uint64_t b = 0;
    for (const LayerPlan& l : plan.layers)
        if (const AttentionBlock* a = l.attention(); a && a->kvFrom < 0)
            b += a->mla ? uint64_t(a->mla.kvLoraRank + a->mla.ropeDim) * sizeof(float)
                        : uint64_t(a->nHeadKv) * (a->headDim + a->headDimV()) * sizeof(float);
    return b;
}

namespace {

struct Refusal {
    std::string where;
    Error operator()(const std::string& feature) const {
        return makeError(where + ": " + feature + " is not supported by this version of moescope");
    }
};

Status checkAttention(const AttentionBlock& a, const Refusal& no) {
    if (!a.norm) return no("attention without an input norm");
    if (a.mla && (a.bq || a.qkNorm != QkNorm::None)) return no("q/k biases or norms with latent attention (MLA)");
    if (a.kvFrom >= 0) return no("a KV cache shared with another layer");
    if (a.slidingWindow) return no("sliding-window attention");
    if (a.sinks) return no("attention sinks");
    if (a.softcap != 0.0f) return no("attention logit soft-capping");
    if (a.bo) return no("an output-projection bias");
    if (a.postNorm) return no("a post-attention norm");
    if (!a.rope.sections.empty()) return no("multi-section RoPE");
    if (bool(a.qNorm) != (a.qkNorm != QkNorm::None) || bool(a.kNorm) != bool(a.qNorm)) return no("a q norm without a k norm");
    return {};
}

Status checkMoe(const MoeBlock& m, const Refusal& no) {
    if (!m.norm) return no("an MoE block without an input norm");
    if (m.act != Activation::Silu) return no(m.act == Activation::Gelu ? "GELU experts" : "clamped-SwiGLU experts");
    if (m.gateExpsBias || m.upExpsBias || m.downExpsBias) return no("expert biases");
    if (m.router.bias) return no("a router bias");
    if (m.router.softmaxAfterTopK) return no("a softmax over the top-k logits");
    if (m.parallel) return no("a dense FFN in parallel with the experts");
    if (m.postNorm) return no("a post-FFN norm");
    return {};
}

Status checkFfn(const FfnBlock& f, const Refusal& no) {
    if (!f.norm) return no("a dense FFN block without an input norm");
    if (f.act != Activation::Silu) return no(f.act == Activation::Gelu ? "a GELU FFN" : "a clamped-SwiGLU FFN");
    if (f.postNorm) return no("a post-FFN norm");
    return {};
}

}  // namespace

Status checkExecutable(const ModelPlan& plan) {
    if (plan.embdScale != 0.0f) return makeError("embedding scaling is not supported by this version of moescope");
    if (plan.logitSoftcap != 0.0f) return makeError("final-logit soft-capping is not supported by this version of moescope");
    for (size_t il = 0; il < plan.layers.size(); ++il) {
        const Refusal no{"layer " + std::to_string(il)};
        int nAttn = 0, nFfn = 0;
        const std::vector<Block>& blocks = plan.layers[il].blocks;
        for (const Block& b : blocks) {
            if (auto* a = std::get_if<AttentionBlock>(&b)) {
                ++nAttn;
                MOE_TRY(checkAttention(*a, no));
            } else if (auto* m = std::get_if<MoeBlock>(&b)) {
                ++nFfn;
                MOE_TRY(checkMoe(*m, no));
            } else if (auto* f = std::get_if<FfnBlock>(&b)) {
                ++nFfn;
                MOE_TRY(checkFfn(*f, no));
            } else {
                return no("a recurrent (linear-attention) block");
            }
        }
        if (nAttn != 1 || nFfn != 1 || !std::holds_alternative<AttentionBlock>(blocks.front()))
            return no("a layer other than one attention block followed by one FFN or MoE block (it has " +
                      std::to_string(nAttn) + " attention and " + std::to_string(nFfn) + " FFN/MoE blocks)");
    }
    return {};
}

}  // namespace moe
