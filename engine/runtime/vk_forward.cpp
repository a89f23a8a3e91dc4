// Vulkan forward pass, recorded top to bottom (the same steps as cpu/forward.cpp).
#include "runtime/vk_forward.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "cpu/forward.h"
#include "cpu/quant.h"
#include "runtime/kernels.h"
#include "runtime/kernels_dense.h"

namespace moe::rt {

namespace {

bool isVector(const TensorView& t) { return t.ne[1] == 1 && t.ne[2] == 1 && t.ne[3] == 1; }

// Uploads a tensor; vectors (norms, biases, gates) become F32.
Result<DeviceTensor> uploadTensor(vk::Device& dev, const TensorView& t) {
    DeviceTensor d;
    if (!t) return d;
    if (isVector(t) && t.type != GgmlType::F32) {
        std::vector<float> f(size_t(t.ne[0]));
        cpu::dequantizeRow(t.type, t.data, f.data(), t.ne[0]);
        MOE_ASSIGN(d.buf, dev.allocate(f.size() * 4, vk::MemoryKind::Device, vk::MemoryTag::Weights, t.name.c_str()));
        MOE_TRY(dev.upload(d.buf, 0, f.data(), f.size() * 4));
        d.type = GgmlType::F32;
        return d;
    }
    MOE_ASSIGN(d.buf, dev.allocate(t.nBytes, vk::MemoryKind::Device, vk::MemoryTag::Weights, t.name.c_str()));
    MOE_TRY(dev.upload(d.buf, 0, t.data, t.nBytes));
    d.type = t.type;
    return d;
}

}  // namespace

Result<std::unique_ptr<DeviceWeights>> DeviceWeights::upload(vk::Device& dev, const Model& m, bool routedExperts) {
    auto w = std::make_unique<DeviceWeights>();
    Status st;
    auto put = [&](const TensorView& t) {
        if (!st || !t || w->byData_.count(t.data)) return;
        auto d = uploadTensor(dev, t);
        if (!d) st = d.error();
        else w->byData_.emplace(t.data, std::move(d).value());
    };
    put(m.plan.tokenEmbd);
    put(m.plan.outputNorm.w);
    put(m.plan.output);  // the same view as token_embd when tied: uploaded once
    for (const LayerPlan& l : m.plan.layers)
        forEachTensor(l, [&](const TensorView& t, TensorRole role) {
            if (role != TensorRole::RoutedExperts || routedExperts) put(t);
        });
    MOE_TRY(st);
    return w;
}

const DeviceTensor& DeviceWeights::operator[](const TensorView& t) const {
    auto it = t ? byData_.find(t.data) : byData_.end();
    if (it != byData_.end()) return it->second;
    return none_;
}

namespace {

constexpr uint32_t kRouteCap = uint32_t(cpu::kRouteCap);

// A product y (nTok, rows) = x (nTok, cols) · Wᵀ over contiguous rows.
MatMulArgs product(const DeviceTensor& w, uint32_t rows, uint32_t cols, uint64_t x, uint64_t y, uint32_t nTok) {
    return {w.type, w.address(), rows, cols, x, 0, y, 0, nTok};
}

// x (nTok, rows) += x_in (nTok, cols) · Wᵀ: a block's last product, accumulated into the residual.
MatMulArgs intoResidual(const DeviceTensor& w, uint32_t rows, uint32_t cols, uint64_t x, uint64_t residual, uint32_t nTok) {
    MatMulArgs a = product(w, rows, cols, x, residual, nTok);
    a.accumulate = true;
    return a;
}

// x (nTok, n) += bias (n), in place.
EltwiseArgs addBias(uint64_t x, uint64_t bias, uint32_t nTok, uint32_t n) {
    return {Eltwise::Add, x, bias, x, nTok, n, n, 0, n};
}

// The device form of a layer's router parameters (already checked by cpu::checkRouting); the
// per-expert arrays are uploaded by `put`.
template <class Put>
Result<GpuRouterParams> toDevice(const cpu::RouterParams& p, uint32_t nExpert, Put&& put) {
    GpuRouterParams g;
    g.sigmoid = p.gating == cpu::Gating::Sigmoid;
    g.topP = p.selection == cpu::Selection::TopP;
    g.k = uint32_t(std::min(p.k, p.kMax));
    g.kMax = uint32_t(p.kMax);
    g.p = p.topP;
    g.normalize = p.normalize;
    g.routedScale = p.routedScale;
    g.nGroup = uint32_t(std::max(p.nGroup, 0));
    g.groupsUsed = uint32_t(std::max(p.groupsUsed, 0));
    if (!p.selectionBias.empty()) {
        MOE_ASSIGN(g.bias, put(p.selectionBias.data(), nExpert * 4, "router selection bias"));
    }
    if (!p.logitScale.empty()) {
        MOE_ASSIGN(g.logitScale, put(p.logitScale.data(), nExpert * 4, "router logit scale"));
    }
    if (!p.mask.empty()) {
        std::vector<int32_t> m(p.mask.begin(), p.mask.end());
        MOE_ASSIGN(g.mask, put(m.data(), nExpert * 4, "router mask"));
    }
    if (!p.forced.empty()) {
        MOE_ASSIGN(g.forced, put(p.forced.data(), p.forced.size() * 4, "router forced experts"));
        g.nForced = uint32_t(p.forced.size());
    }
    return g;
}

// Device bytes of everything but the routed experts (dense weights, KV cache), for the
// automatic expert-cache budget.
uint64_t denseDeviceBytes(const Model& m, uint32_t nCtx) {
    uint64_t b = m.plan.tokenEmbd.nBytes + m.plan.outputNorm.w.nBytes + (m.cfg.output_tied ? 0 : m.plan.output.nBytes);
    for (const LayerPlan& l : m.plan.layers)
        forEachTensor(l, [&](const TensorView& t, TensorRole role) {
            if (role != TensorRole::RoutedExperts) b += t.nBytes;
        });
    return b + uint64_t(nCtx) * kvBytesPerToken(m.plan);
}

}  // namespace

Result<std::unique_ptr<VkForward>> VkForward::create(vk::Device& dev, const Model& model, const ForwardOptions& opts) {
    std::unique_ptr<VkForward> f(new VkForward(dev, model));
    const ModelConfig& c = model.cfg;
    MOE_ASSIGN(f->nCtx_, contextSize(c, opts.nCtx));
    MOE_ASSIGN(uint32_t slots,
               chooseExpertSlots(dev, model, opts.expertCache, denseDeviceBytes(model, f->nCtx_), &f->cacheNote_));
    const bool cached = slots < c.expert_count;
    f->cacheSlots_ = slots;
    MOE_ASSIGN(f->w_, DeviceWeights::upload(dev, model, !cached));
    MOE_TRY(f->allocate(opts));
    if (cached) {
        const uint32_t maxNeeded = std::min<uint32_t>(c.expert_count, f->maxBatch_ * std::min(c.expert_count, kRouteCap));
        // The automatic size is estimated before the other buffers and the allocator's blocks
        // exist: when the slots do not fit after all, one slot fewer per layer, down to top-k.
        const bool automatic = opts.expertCache.slots < 0 && !opts.expertCache.budgetMiB;
        const uint32_t minSlots = std::max<uint32_t>(1, c.expert_used_count), estimated = slots;
        for (;;) {
            auto o = ExpertOffload::create(dev, model, slots, opts.expertCache, maxNeeded);
            if (o.ok()) {
                f->offload_ = std::move(o.value());
                break;
            }
            if (!automatic || slots <= minSlots || !vk::isOutOfDeviceMemory(o.error().message)) return o.error();
            --slots;
            f->cacheSlots_ = slots;
            f->cacheNote_ = automaticCacheNote(dev, model, slots, estimated);
        }
    }
    // Warm-up: create every pipeline of the decode and the batched path now (shader compilation
    // is slow on some drivers), so the first prompt is not charged for it. Positions 0..1 of the
    // KV cache are overwritten by the first real step. The expert cache is reset afterwards.
    if (opts.warmUp) {
        std::vector<float> logits(size_t(model.cfg.n_vocab));
        const int32_t toks[2] = {0, 0};
        MOE_TRY(f->forward(toks, 1, 0, logits.data(), false));
        if (f->maxBatch_ > 1 && f->nCtx_ > 1) MOE_TRY(f->forward(toks, 2, 0, logits.data(), false));
        f->nPast_ = 0;  // the warm-up's positions hold nothing
        if (cached) {
            const uint32_t maxNeeded =
                std::min<uint32_t>(c.expert_count, f->maxBatch_ * std::min(c.expert_count, kRouteCap));
            f->offload_.reset();  // its memory is needed for the new one
            MOE_ASSIGN(f->offload_, ExpertOffload::create(dev, model, slots, opts.expertCache, maxNeeded));
        }
    }
    return f;
}

Status VkForward::allocate(const ForwardOptions& opts) {
    const ModelConfig& c = model_.cfg;
    maxBatch_ = std::max<uint32_t>(1, opts.maxBatch);
    profile_ = opts.profile;
    const uint64_t B = maxBatch_, E = c.embedding_length;
    const uint64_t NE = c.expert_count, F = c.expert_feed_forward_length;
    const uint64_t KC = std::min<uint64_t>(NE, kRouteCap);
    // the widest of each activation over the layers' blocks
    uint64_t qW = 1, outW = 1, vHead = 1, sharedW = c.expert_shared_feed_forward_length;
    uint64_t mlaA = 0, mlaNope = 0, mlaQ = 0, mlaV = 0;
    for (const LayerPlan& l : model_.plan.layers) {
        hasDenseLayer_ = hasDenseLayer_ || !l.moe();
        if (const AttentionBlock* a = l.attention()) {
            qW = std::max<uint64_t>(qW, uint64_t(a->nHead) * a->headDim);
            outW = std::max<uint64_t>(outW, uint64_t(a->nHead) * std::max(a->headDim, a->headDimV()));
            vHead = std::max<uint64_t>(vHead, std::max(a->headDim, a->headDimV()));
            if (const Mla& m = a->mla) {
                outW = std::max<uint64_t>(outW, uint64_t(a->nHead) * m.kvLoraRank);
                vHead = std::max<uint64_t>(vHead, m.kvLoraRank);
                mlaA = std::max<uint64_t>(mlaA, m.qLoraRank);
                mlaNope = std::max<uint64_t>(mlaNope, uint64_t(a->nHead) * m.nopeDim);
                mlaQ = std::max<uint64_t>(mlaQ, uint64_t(a->nHead) * (m.kvLoraRank + m.ropeDim));
                mlaV = std::max<uint64_t>(mlaV, uint64_t(a->nHead) * m.valueDim);
                if (mlaHeads_ && mlaHeads_ != a->nHead)
                    return makeError("latent attention with different head counts in different layers is not supported");
                mlaHeads_ = a->nHead;
            }
        }
        if (const FfnBlock* f = l.ffn()) sharedW = std::max<uint64_t>(sharedW, f->nFf);
        if (const MoeBlock* m = l.moe()) sharedW = std::max<uint64_t>(sharedW, m->shared.nFf);
    }
    auto dev = [&](vk::Buffer& b, uint64_t floats, const char* what, vk::MemoryTag tag = vk::MemoryTag::Scratch) -> Status {
        MOE_ASSIGN(b, dev_.allocate(std::max<uint64_t>(floats, 1) * 4, vk::MemoryKind::Device, tag, what));
        return {};
    };
    auto host = [&](vk::Buffer& b, uint64_t words, vk::MemoryKind kind, const char* what) -> Status {
        MOE_ASSIGN(b, dev_.allocate(std::max<uint64_t>(words, 1) * 4, kind, vk::MemoryTag::Scratch, what));
        return {};
    };
    MOE_TRY(dev(x_, B * E, "activations"));
    MOE_TRY(dev(xn_, B * E, "activations"));
    MOE_TRY(dev(q_, B * qW, "activations"));
    MOE_TRY(dev(attnOut_, B * outW, "activations"));
    MOE_TRY(dev(routerLogits_, B * NE, "router logits"));
    MOE_TRY(dev(groups_, moeGroupBytes(uint32_t(B), uint32_t(KC), uint32_t(NE)) / 4, "expert groups"));
    MOE_TRY(dev(gate_, B * KC * F, "expert activations"));
    MOE_TRY(dev(up_, B * KC * F, "expert activations"));
    MOE_TRY(dev(act_, B * KC * F, "expert activations"));
    MOE_TRY(dev(down_, B * KC * E, "expert activations"));
    if (sharedW) {  // the shared expert's, and the dense FFN layers'
        MOE_TRY(dev(shGate_, B * sharedW, "shared expert"));
        MOE_TRY(dev(shUp_, B * sharedW, "shared expert"));
        MOE_TRY(dev(shAct_, B * sharedW, "shared expert"));
        MOE_TRY(dev(shOut_, B * E, "shared expert"));
        MOE_TRY(dev(shG_, B, "shared expert gate"));
    }
    if (mlaHeads_) {
        MOE_TRY(dev(mlaA_, B * mlaA, "latent attention"));
        MOE_TRY(dev(mlaNope_, B * mlaNope, "latent attention"));
        MOE_TRY(dev(mlaQ_, B * mlaQ, "latent attention"));
        MOE_TRY(dev(mlaV_, B * mlaV, "latent attention"));
        MOE_TRY(dev(mlaGroups_, moeGroupBytes(uint32_t(B), mlaHeads_, mlaHeads_) / 4, "latent attention"));
        MOE_TRY(host(mlaIds_, B * mlaHeads_, vk::MemoryKind::Upload, "latent attention heads"));
        for (uint64_t i = 0; i < B * mlaHeads_; ++i) mlaIds_.as<int32_t>()[i] = int32_t(i % mlaHeads_);
    }
    MOE_ASSIGN(attnScratch_, dev_.allocate(attentionScratchBytes(uint32_t(vHead)), vk::MemoryKind::Device,
                                           vk::MemoryTag::Scratch, "attention scratch"));
    for (const LayerPlan& l : model_.plan.layers) {
        vk::Buffer kc, vc;
        DeviceTensor kb;
        if (const AttentionBlock* a = l.attention()) {
            if (const Mla& m = a->mla) {
                MOE_TRY(dev(kc, uint64_t(nCtx_) * (m.kvLoraRank + m.ropeDim), "KV cache", vk::MemoryTag::KvCache));
                if (m.wkvB) {
                    // legacy attn_kv_b: the nope rows of each head, transposed to (kv_lora_rank, nope)
                    const uint32_t H = a->nHead, N = m.nopeDim, C = m.kvLoraRank, Dv = m.valueDim;
                    std::vector<float> row(C), t(size_t(H) * C * N);
                    for (uint32_t h = 0; h < H; ++h)
                        for (uint32_t i = 0; i < N; ++i) {
                            cpu::dequantizeRow(m.wkvB.type, m.wkvB.data + (uint64_t(h) * (N + Dv) + i) * m.wkvB.rowBytes(),
                                               row.data(), C);
                            for (uint32_t r = 0; r < C; ++r) t[(size_t(h) * C + r) * N + i] = row[r];
                        }
                    MOE_ASSIGN(kb.buf, dev_.allocate(t.size() * 4, vk::MemoryKind::Device, vk::MemoryTag::Weights,
                                                     "attn_k_b (from attn_kv_b)"));
                    MOE_TRY(dev_.upload(kb.buf, 0, t.data(), t.size() * 4));
                    kb.type = GgmlType::F32;
                }
            } else {
                MOE_TRY(dev(kc, uint64_t(nCtx_) * a->nHeadKv * a->headDim, "KV cache", vk::MemoryTag::KvCache));
                MOE_TRY(dev(vc, uint64_t(nCtx_) * a->nHeadKv * a->headDimV(), "KV cache", vk::MemoryTag::KvCache));
            }
        }
        kCache_.push_back(std::move(kc));
        vCache_.push_back(std::move(vc));
        mlaKb_.push_back(std::move(kb));
    }
    MOE_TRY(host(tokens_, B, vk::MemoryKind::Upload, "token ids"));
    MOE_TRY(host(positions_, B, vk::MemoryKind::Upload, "positions"));
    MOE_TRY(host(logits_, B * c.n_vocab, vk::MemoryKind::Readback, "logits"));
    const uint64_t L = c.block_count;
    MOE_TRY(host(rIds_, L * B * KC, vk::MemoryKind::Readback, "routing record"));
    MOE_TRY(host(rWeights_, L * B * KC, vk::MemoryKind::Readback, "routing record"));
    MOE_TRY(host(rCounts_, L * B, vk::MemoryKind::Readback, "routing record"));
    MOE_TRY(host(rProbs_, L * B * NE, vk::MemoryKind::Readback, "routing record"));
    if (cacheSlots_ < NE) {
        // the cross-layer prediction (prefetch can be switched on at run time)
        MOE_TRY(dev(xp_, B * E, "expert prediction"));
        MOE_TRY(dev(predLogits_, B * NE, "expert prediction"));
        MOE_TRY(dev(predWeights_, B * KC, "expert prediction"));
        MOE_TRY(dev(predCounts_, B, "expert prediction"));
        MOE_TRY(host(rPred_, L * B * KC, vk::MemoryKind::Readback, "expert prediction"));
    }

    // default routing: the model's own router in every layer
    return setRouting(cpu::defaultRouting(model_.plan));
}

Status VkForward::setRouting(const std::vector<cpu::RouterParams>& layers) {
    const ModelConfig& c = model_.cfg;
    MOE_TRY(cpu::checkRouting(layers, c.expert_count, c.block_count));
    // all checked: replace the buffers (no step is in flight between forward() calls)
    std::vector<vk::Buffer> bufs;
    auto put = [&](const void* data, size_t bytes, const char* what) -> Result<uint64_t> {
        MOE_ASSIGN(vk::Buffer b, dev_.allocate(bytes, vk::MemoryKind::Upload, vk::MemoryTag::Other, what));
        std::memcpy(b.mapped(), data, bytes);
        const uint64_t addr = b.address();
        bufs.push_back(std::move(b));
        return addr;
    };
    std::vector<LayerRouting> next(c.block_count);
    for (uint32_t il = 0; il < c.block_count; ++il) {
        MOE_ASSIGN(next[il].params, toDevice(layers[il], c.expert_count, put));
    }
    layerRouting_ = std::move(next);
    routerBufs_ = std::move(bufs);
    return {};
}

// Blocks up to the MoE block's router (all of them without one).
Status VkForward::recordLayerHead(vk::Commands& cmd, uint32_t il, uint32_t nTok, uint32_t pos0) {
    for (const Block& b : model_.plan.layers[il].blocks) {
        if (auto* a = std::get_if<AttentionBlock>(&b)) MOE_TRY(recordAttention(cmd, *a, il, nTok, pos0));
        else if (auto* m = std::get_if<MoeBlock>(&b)) return recordRouter(cmd, *m, il, nTok);
        else if (auto* f = std::get_if<FfnBlock>(&b)) MOE_TRY(recordFfn(cmd, *f, nTok));
        else return makeError("layer " + std::to_string(il) + " has a block the Vulkan forward pass does not run");
    }
    return {};
}

// The MoE block's combine and the blocks after it.
Status VkForward::recordLayerTail(vk::Commands& cmd, uint32_t il, uint32_t nTok, uint32_t pos0) {
    bool after = false;
    for (const Block& b : model_.plan.layers[il].blocks) {
        if (auto* m = std::get_if<MoeBlock>(&b)) {
            MOE_TRY(recordCombine(cmd, *m, il, nTok));
            after = true;
        } else if (after) {
            return makeError("layer " + std::to_string(il) + " has a block after its MoE block");  // checkExecutable
        }
    }
    return {};
}

Status VkForward::recordFfn(vk::Commands& cmd, const FfnBlock& f, uint32_t nTok) {
    const DeviceWeights& W = *w_;
    const uint32_t E = model_.cfg.embedding_length, F = f.nFf;
    auto& d = dev_;
    MOE_TRY(rmsNorm(d, cmd, x_.address(), W[f.norm.w].address(), xn_.address(), nTok, E, f.norm.eps));
    cmd.barrier();
    MOE_TRY(mulMat(d, cmd, product(W[f.gate], F, E, xn_.address(), shGate_.address(), nTok)));
    MOE_TRY(mulMat(d, cmd, product(W[f.up], F, E, xn_.address(), shUp_.address(), nTok)));
    cmd.barrier();
    MOE_TRY(swiglu(d, cmd, shGate_.address(), shUp_.address(), shAct_.address(), nTok * F));
    cmd.barrier();
    MOE_TRY(mulMat(d, cmd, intoResidual(W[f.down], E, F, shAct_.address(), x_.address(), nTok)));
    cmd.barrier();
    return {};
}

// Latent attention in its absorbed form (MQA over the latent rows): each head's query nope part
// is taken into latent space by wkB_h, so that the cache needs only [c | k_rope] per position; the
// attention's output (latent, per head) is expanded by wvB_h. The CPU reference expands keys and
// values instead: the two agree to rounding.
Status VkForward::recordMla(vk::Commands& cmd, const AttentionBlock& a, uint32_t il, uint32_t nTok, uint32_t pos0) {
    const DeviceWeights& W = *w_;
    const Mla& l = a.mla;
    const uint32_t E = model_.cfg.embedding_length, H = a.nHead, D = a.headDim, N = l.nopeDim, R = l.ropeDim;
    const uint32_t C = l.kvLoraRank, Dv = l.valueDim, QL = l.qLoraRank, row = C + R;
    auto& d = dev_;
    const std::optional<cpu::YarnParams> yarn = cpu::ropeYarn(a.rope);
    const cpu::YarnParams* ya = yarn ? &*yarn : nullptr;
    const uint64_t rows = kCache_[il].address() + uint64_t(pos0) * row * 4;  // the new positions' latent rows

    MOE_TRY(rmsNorm(d, cmd, x_.address(), W[a.norm.w].address(), xn_.address(), nTok, E, a.norm.eps));
    cmd.barrier();
    // q (or its low-rank first half) and the latent rows, straight into the cache
    if (QL) MOE_TRY(mulMat(d, cmd, product(W[l.wqA], QL, E, xn_.address(), mlaA_.address(), nTok)));
    else MOE_TRY(mulMat(d, cmd, product(W[a.wq], H * D, E, xn_.address(), q_.address(), nTok)));
    MOE_TRY(mulMat(d, cmd, product(W[l.wkvA], row, E, xn_.address(), rows, nTok)));
    cmd.barrier();
    if (QL) MOE_TRY(rmsNorm(d, cmd, mlaA_.address(), W[l.qANorm.w].address(), mlaA_.address(), nTok, QL, l.qANorm.eps));
    MOE_TRY(rmsNorm(d, cmd, rows, W[l.kvANorm.w].address(), rows, nTok, C, l.kvANorm.eps, row, row));
    cmd.barrier();
    if (QL) {
        MOE_TRY(mulMat(d, cmd, product(W[l.wqB], H * D, QL, mlaA_.address(), q_.address(), nTok)));
        cmd.barrier();
    }
    // rope: the last R dims of each query head, and the shared key part of the latent rows
    MOE_TRY(rope(d, cmd, q_.address() + N * 4ull, nTok, H, D, positions_.address(), R, a.rope.freqBase, a.rope.neox,
                 H * D, {}, ya));
    MOE_TRY(rope(d, cmd, rows + C * 4ull, nTok, 1, R, positions_.address(), R, a.rope.freqBase, a.rope.neox, row, {}, ya));
    cmd.barrier();
    // the query's nope part, contiguous per head, and its rope part into the MQA query
    MOE_TRY(copyRows(d, cmd, q_.address(), D, mlaNope_.address(), N, nTok * H, N));
    MOE_TRY(copyRows(d, cmd, q_.address() + N * 4ull, D, mlaQ_.address() + C * 4ull, row, nTok * H, R));
    cmd.barrier();
    // absorbed: q_lat[t, h] = wkB_h · q_nope[t, h], one product per head over the identity ids
    const DeviceTensor& kb = l.wkvB ? mlaKb_[il] : W[l.wkB];
    const bool one = nTok == 1;
    auto perHead = one ? mulMatMoeDirect : mulMatMoeGrouped;
    MoeMatMulArgs qk{kb.type, kb.address(), uint64_t(C) * rowBytes(kb.type, N), C, N, mlaNope_.address(), true,
                     mlaIds_.address(), mlaGroups_.address(), H, H, attnOut_.address(), nTok, 0};
    MOE_TRY(perHead(d, cmd, qk));
    cmd.barrier();
    MOE_TRY(copyRows(d, cmd, attnOut_.address(), C, mlaQ_.address(), row, nTok * H, C));
    cmd.barrier();
    AttentionArgs args;
    args.q = mlaQ_.address();
    args.k = args.v = kCache_[il].address();
    args.out = attnOut_.address();
    args.nTok = nTok;
    args.nHead = H;
    args.nHeadKv = 1;
    args.headDim = row;
    args.headDimV = C;
    args.kvStride = args.vStride = row;
    args.kqScale = a.kqScale > 0.0f ? a.kqScale : float(1.0 / std::sqrt(double(D)));
    args.pos0 = pos0;
    args.scratch = attnScratch_.address();
    args.scratchBytes = attnScratch_.size();
    MOE_TRY(attention(d, cmd, args));
    cmd.barrier();
    // values: v[t, h] = wvB_h · out_lat[t, h] (legacy attn_kv_b: its value rows, strided per head)
    const DeviceTensor& vb = l.wkvB ? W[l.wkvB] : W[l.wvB];
    const uint64_t vRow = rowBytes(vb.type, C);
    MoeMatMulArgs vv = qk;
    vv.type = vb.type;
    vv.w = vb.address() + (l.wkvB ? uint64_t(N) * vRow : 0);
    vv.expertStride = uint64_t(l.wkvB ? N + Dv : Dv) * vRow;
    vv.rows = Dv;
    vv.cols = C;
    vv.x = attnOut_.address();
    vv.y = mlaV_.address();
    MOE_TRY(perHead(d, cmd, vv));
    cmd.barrier();
    MOE_TRY(mulMat(d, cmd, intoResidual(W[a.wo], E, H * Dv, mlaV_.address(), x_.address(), nTok)));
    cmd.barrier();
    return {};
}

Status VkForward::recordAttention(vk::Commands& cmd, const AttentionBlock& a, uint32_t il, uint32_t nTok,
                                  uint32_t pos0) {
    if (a.mla) return recordMla(cmd, a, il, nTok, pos0);
    const DeviceWeights& W = *w_;
    const uint32_t E = model_.cfg.embedding_length, H = a.nHead, KV = a.nHeadKv, D = a.headDim;
    auto& d = dev_;

    // attention rmsnorm
    MOE_TRY(rmsNorm(d, cmd, x_.address(), W[a.norm.w].address(), xn_.address(), nTok, E, a.norm.eps));
    cmd.barrier();
    // q, k, v projections (+ biases); k and v are written straight into the KV cache rows of
    // positions pos0.., where the k norm and rope then work in place (no copy, one barrier less)
    const uint64_t kvRow = uint64_t(KV) * D * 4;
    const uint64_t kRows = kCache_[il].address() + pos0 * kvRow, vRows = vCache_[il].address() + pos0 * kvRow;
    MOE_TRY(mulMat(d, cmd, product(W[a.wq], H * D, E, xn_.address(), q_.address(), nTok)));
    MOE_TRY(mulMat(d, cmd, product(W[a.wk], KV * D, E, xn_.address(), kRows, nTok)));
    MOE_TRY(mulMat(d, cmd, product(W[a.wv], KV * D, E, xn_.address(), vRows, nTok)));
    cmd.barrier();
    if (a.bq) {
        MOE_TRY(eltwise(d, cmd, addBias(q_.address(), W[a.bq].address(), nTok, H * D)));
        MOE_TRY(eltwise(d, cmd, addBias(kRows, W[a.bk].address(), nTok, KV * D)));
        MOE_TRY(eltwise(d, cmd, addBias(vRows, W[a.bv].address(), nTok, KV * D)));
        cmd.barrier();
    }
    // q/k norms: per head, or over the whole projection
    if (a.qkNorm != QkNorm::None) {
        const bool perHead = a.qkNorm == QkNorm::PerHead;
        MOE_TRY(rmsNorm(d, cmd, q_.address(), W[a.qNorm.w].address(), q_.address(), perHead ? nTok * H : nTok,
                        perHead ? D : H * D, a.qNorm.eps));
        MOE_TRY(rmsNorm(d, cmd, kRows, W[a.kNorm.w].address(), kRows, perHead ? nTok * KV : nTok, perHead ? D : KV * D,
                        a.kNorm.eps));
        cmd.barrier();
    }
    // rope of q and k in one dispatch
    const std::optional<cpu::YarnParams> yarn = cpu::ropeYarn(a.rope);
    MOE_TRY(rope(d, cmd, q_.address(), nTok, H, D, positions_.address(), a.rope.nRot, a.rope.freqBase, a.rope.neox, 0,
                 RopeSecond{kRows, KV, 0}, yarn ? &*yarn : nullptr));
    cmd.barrier();
    // attention over the cache
    AttentionArgs args;
    args.q = q_.address();
    args.k = kCache_[il].address();
    args.v = vCache_[il].address();
    args.out = attnOut_.address();
    args.nTok = nTok;
    args.nHead = H;
    args.nHeadKv = KV;
    args.headDim = D;
    args.kqScale = a.kqScale;
    args.pos0 = pos0;
    args.scratch = attnScratch_.address();
    args.scratchBytes = attnScratch_.size();
    MOE_TRY(attention(d, cmd, args));
    cmd.barrier();
    // output projection, accumulated into the residual
    MOE_TRY(mulMat(d, cmd, intoResidual(W[a.wo], E, H * D, attnOut_.address(), x_.address(), nTok)));
    cmd.barrier();
    return {};
}

Status VkForward::recordRouter(vk::Commands& cmd, const MoeBlock& m, uint32_t il, uint32_t nTok) {
    const DeviceWeights& W = *w_;
    const SharedExpert& sh = m.shared;
    const uint32_t E = model_.cfg.embedding_length, NE = m.nExpert, F = m.nFf, FS = sh.nFf;
    const uint32_t KC = std::min<uint32_t>(NE, kRouteCap);
    auto& d = dev_;

    // ffn rmsnorm
    MOE_TRY(rmsNorm(d, cmd, x_.address(), W[m.norm.w].address(), xn_.address(), nTok, E, m.norm.eps));
    cmd.barrier();
    // router: logits, then top-k (or the layer's policy) on the GPU
    MOE_TRY(mulMat(d, cmd, product(W[m.router.w], NE, E, xn_.address(), routerLogits_.address(), nTok)));
    // shared expert runs beside the router (reads xn only)
    if (sh) {
        MOE_TRY(mulMat(d, cmd, product(W[sh.gate], FS, E, xn_.address(), shGate_.address(), nTok)));
        MOE_TRY(mulMat(d, cmd, product(W[sh.up], FS, E, xn_.address(), shUp_.address(), nTok)));
        if (sh.gateInp) MOE_TRY(mulMat(d, cmd, product(W[sh.gateInp], 1, E, xn_.address(), shG_.address(), nTok)));
    }
    cmd.barrier();
    const GpuRouterParams& rp = layerRouting_[il].params;
    const uint32_t K = rp.kMax;
    const uint64_t slice = uint64_t(il) * maxBatch_;
    const uint64_t ids = rIds_.address() + slice * KC * 4;  // rows of width K inside a KC-wide slice
    const uint64_t wts = rWeights_.address() + slice * KC * 4;
    MOE_TRY(route(d, cmd, rp, routerLogits_.address(), nTok, NE, ids, wts, rCounts_.address() + slice * 4,
                  rProbs_.address() + slice * NE * 4));
    if (sh) MOE_TRY(swiglu(d, cmd, shGate_.address(), shUp_.address(), shAct_.address(), nTok * FS));
    cmd.barrier();
    if (nTok > 1) {
        // rows of empty slots (policies that select fewer than K) are not written by the grouped
        // kernels. Recorded right after a barrier: the fills share memory blocks with buffers
        // that kernels read through texel views (weights, activations), and a transfer write
        // after such a read in the same interval, or such a read after it, is a hazard to
        // synchronization validation: so barriers on both sides (prefill only).
        cmd.fill(act_, 0, uint64_t(nTok) * K * F * 4, 0);
        cmd.fill(down_, 0, uint64_t(nTok) * K * E * 4, 0);
        cmd.barrier();
    }
    if (sh)
        MOE_TRY(mulMat(d, cmd, product(W[sh.down], E, FS, shAct_.address(), shOut_.address(), nTok)));
    if (nTok > 1) {
        MOE_TRY(moeGroup(d, cmd, ids, nTok, K, NE, groups_.address()));
    }
    // prefetch: the next layer's router applied to this layer's MoE input (cross-layer gate)
    const MoeBlock* next = il + 1 < model_.plan.layers.size() ? model_.plan.layers[il + 1].moe() : nullptr;
    if (offload_ && offload_->prefetch() && next) {
        MOE_TRY(rmsNorm(d, cmd, x_.address(), W[next->norm.w].address(), xp_.address(), nTok, E, next->norm.eps));
        cmd.barrier();
        MOE_TRY(mulMat(d, cmd, product(W[next->router.w], NE, E, xp_.address(), predLogits_.address(), nTok)));
        cmd.barrier();
        const uint64_t nslice = uint64_t(il + 1) * maxBatch_;
        MOE_TRY(route(d, cmd, layerRouting_[il + 1].params, predLogits_.address(), nTok, NE,
                      rPred_.address() + nslice * KC * 4, predWeights_.address(), predCounts_.address(), 0));
    }
    cmd.barrier();
    return {};
}

Status VkForward::recordExperts(vk::Commands& cmd, uint32_t il, uint32_t nTok, uint64_t slotTable) {
    if (!model_.plan.layers[il].moe()) return {};  // a dense layer: its FFN ran in the layer head
    const MoeBlock& m = *model_.plan.layers[il].moe();
    const DeviceWeights& W = *w_;
    const uint32_t E = model_.cfg.embedding_length, NE = m.nExpert, F = m.nFf;
    const uint32_t KC = std::min<uint32_t>(NE, kRouteCap);
    const uint32_t K = layerRouting_[il].params.kMax;
    const uint64_t ids = rIds_.address() + uint64_t(il) * maxBatch_ * KC * 4;
    auto& d = dev_;
    // resident tensors, or the expert cache's slot buffers (same strides: one expert per slot)
    const uint64_t gateW = slotTable ? offload_->gateAddress(il) : W[m.gateExps].address();
    const uint64_t upW = slotTable ? offload_->upAddress(il) : W[m.upExps].address();
    const uint64_t downW = slotTable ? offload_->downAddress(il) : W[m.downExps].address();
    const GgmlType gateT = m.gateExps.type, upT = m.upExps.type, downT = m.downExps.type;  // never converted
    // routed experts: direct for a single token, grouped by expert for batches (the moe_group
    // output of recordRouter)
    // gate and up read xn (one row per token); down reads act (one row per slot)
    MoeMatMulArgs gate{gateT, gateW, uint64_t(F) * rowBytes(gateT, E), F, E, xn_.address(), false, ids,
                       groups_.address(), NE, K, gate_.address(), nTok, slotTable};
    MoeMatMulArgs up = gate;
    up.type = upT;
    up.w = upW;
    up.expertStride = uint64_t(F) * rowBytes(upT, E);
    up.y = up_.address();
    MoeMatMulArgs down = gate;
    down.type = downT;
    down.w = downW;
    down.expertStride = uint64_t(E) * rowBytes(downT, F);
    down.rows = E;
    down.cols = F;
    down.x = act_.address();
    down.xPerSlot = true;
    down.y = down_.address();
    auto product = nTok == 1 ? mulMatMoeDirect : mulMatMoeGrouped;
    MOE_TRY(product(d, cmd, gate));
    MOE_TRY(product(d, cmd, up));
    cmd.barrier();
    MOE_TRY(swiglu(d, cmd, gate_.address(), up_.address(), act_.address(), nTok * K * F));
    cmd.barrier();
    MOE_TRY(product(d, cmd, down));
    cmd.barrier();
    return {};
}

Status VkForward::recordCombine(vk::Commands& cmd, const MoeBlock& m, uint32_t il, uint32_t nTok) {
    const uint32_t E = model_.cfg.embedding_length, NE = m.nExpert;
    const uint32_t KC = std::min<uint32_t>(NE, kRouteCap);
    const uint32_t K = layerRouting_[il].params.kMax;
    const uint64_t wts = rWeights_.address() + uint64_t(il) * maxBatch_ * KC * 4;
    // weighted sum of experts (+ shared expert, gated or not) into the residual
    MOE_TRY(moeCombine(dev_, cmd, down_.address(), wts, x_.address(), nTok, K, E, true, m.shared ? shOut_.address() : 0,
                       m.shared.gateInp ? shG_.address() : 0));
    cmd.barrier();
    return {};
}

Status VkForward::recordEmbedding(vk::Commands& cmd, uint32_t nTok) {
    const ModelConfig& c = model_.cfg;
    const TensorView& embd = model_.plan.tokenEmbd;
    MOE_TRY(getRows(dev_, cmd, (*w_)[embd].type, (*w_)[embd].address(), c.n_vocab, c.embedding_length, tokens_.address(), nTok,
                    x_.address()));
    // the grouping of MLA's per-head products (every token, every head) for this batch
    if (mlaHeads_ && nTok > 1) MOE_TRY(moeGroup(dev_, cmd, mlaIds_.address(), nTok, mlaHeads_, mlaHeads_, mlaGroups_.address()));
    cmd.barrier();
    return {};
}

Status VkForward::recordHead(vk::Commands& cmd, uint32_t nTok, bool allLogits) {
    // final norm -> lm head -> logits (host-visible)
    const ModelConfig& c = model_.cfg;
    const uint32_t E = c.embedding_length;
    const ModelPlan& p = model_.plan;
    const DeviceTensor& out = (*w_)[p.output];
    const uint32_t first = allLogits ? 0 : nTok - 1, n = allLogits ? nTok : 1;
    MOE_TRY(rmsNorm(dev_, cmd, x_.address() + uint64_t(first) * E * 4, (*w_)[p.outputNorm.w].address(), xn_.address(), n,
                    E, p.outputNorm.eps));
    cmd.barrier();
    MOE_TRY(mulMat(dev_, cmd, product(out, c.n_vocab, E, xn_.address(), logits_.address(), n)));
    cmd.hostBarrier();
    return {};
}

Status VkForward::submit(vk::Commands& cmd) {
    auto t0 = std::chrono::steady_clock::now();
    MOE_TRY(cmd.submitAndWait());
    lastStepMs_ += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (profile_) {
        auto kt = cmd.kernelTimes();
        kernelTimes_.insert(kernelTimes_.end(), kt.begin(), kt.end());
    }
    return {};
}

Result<uint32_t> VkForward::recordUntilMoe(vk::Commands& cmd, uint32_t from, uint32_t nTok, uint32_t pos0, bool allLogits) {
    const uint32_t L = model_.cfg.block_count;
    for (uint32_t il = from; il < L; ++il) {
        MOE_TRY(recordLayerHead(cmd, il, nTok, pos0));
        if (model_.plan.layers[il].moe()) return il;
    }
    MOE_TRY(recordHead(cmd, nTok, allLogits));
    return L;
}

// All experts resident: the whole batch in one command buffer.
Status VkForward::runBatch(uint32_t nTok, uint32_t pos0, bool allLogits) {
    vk::Commands cmd(dev_, profile_ ? 4096 : 0);
    MOE_TRY(recordEmbedding(cmd, nTok));
    for (uint32_t il = 0; il < model_.cfg.block_count; ++il) {
        MOE_TRY(recordLayerHead(cmd, il, nTok, pos0));
        MOE_TRY(recordExperts(cmd, il, nTok, 0));
        MOE_TRY(recordLayerTail(cmd, il, nTok, pos0));
    }
    MOE_TRY(recordHead(cmd, nTok, allLogits));
    return submit(cmd);
}

// With the expert cache: the host learns each layer's experts from its routing (a round trip per
// layer), makes them resident (demand loads, plus the next layer's predicted experts when
// prefetching) and runs the layer's experts through the slot table, in several passes when a
// batch needs more experts than there are slots.
Status VkForward::runBatchCached(uint32_t nTok, uint32_t pos0, bool allLogits) {
    const ModelConfig& c = model_.cfg;
    const uint32_t L = c.block_count, NE = c.expert_count, KC = std::min<uint32_t>(NE, kRouteCap);
    ExpertOffload& off = *offload_;
    std::vector<cache::CacheStats> before(L);
    for (uint32_t il = 0; il < L; ++il) before[il] = off.layer(il).stats();
    vk::Commands cmd(dev_, profile_ ? 4096 : 0);
    off.beginSubmission();
    MOE_TRY(recordEmbedding(cmd, nTok));
    MOE_ASSIGN(uint32_t il, recordUntilMoe(cmd, 0, nTok, pos0, allLogits));
    cmd.hostBarrier();
    MOE_TRY(submit(cmd));
    std::vector<int32_t> needed, predicted;
    std::vector<uint8_t> seen(NE);
    auto distinct = [&](const vk::Buffer& idsBuf, uint32_t il, std::vector<int32_t>& out) {
        out.clear();
        std::fill(seen.begin(), seen.end(), 0);
        const uint32_t K = layerRouting_[il].params.kMax;
        const int32_t* ids = idsBuf.as<int32_t>() + uint64_t(il) * maxBatch_ * KC;
        for (uint32_t t = 0; t < nTok; ++t)
            for (uint32_t j = 0; j < K; ++j) {
                const int32_t e = ids[size_t(t) * K + j];
                if (e >= 0 && uint32_t(e) < NE && !seen[e]) seen[e] = 1, out.push_back(e);
            }
    };
    // il: the next MoE layer (its head and router have run); dense layers ran in between
    while (il < L) {
        distinct(rIds_, il, needed);
        const std::vector<cache::Pass> passes = off.layer(il).access(needed);
        if (passes.size() > off.maxPasses())
            return makeError("expert cache: " + std::to_string(passes.size()) + " passes planned for at most " +
                             std::to_string(off.maxPasses()) + " (internal error)");
        std::vector<cache::Load> prefetched;
        const bool pf = off.prefetch() && il + 1 < L && model_.plan.layers[il + 1].moe();
        if (pf) {
            distinct(rPred_, il + 1, predicted);
            prefetched = off.layer(il + 1).prefetch(predicted);
        }
        uint32_t next = L;
        for (size_t p = 0; p < passes.size(); ++p) {
            cmd.reset();
            off.beginSubmission();
            auto t0 = std::chrono::steady_clock::now();
            MOE_TRY(off.recordLoads(cmd, il, passes[p].loads));
            off.layer(il).addWait(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
            if (p == 0 && pf) MOE_TRY(off.recordLoads(cmd, il + 1, prefetched));
            cmd.barrier();
            MOE_TRY(recordExperts(cmd, il, nTok, off.writeTable(il, uint32_t(p), passes[p])));
            if (p + 1 == passes.size()) {
                MOE_TRY(recordLayerTail(cmd, il, nTok, pos0));
                MOE_ASSIGN(next, recordUntilMoe(cmd, il + 1, nTok, pos0, allLogits));
            }
            cmd.hostBarrier();
            MOE_TRY(submit(cmd));
        }
        il = next;
    }
    // this step's telemetry per layer: the change of the totals (a prefetch into layer l+1 made
    // during layer l belongs to this step too)
    std::vector<cache::CacheStats> step(L);
    for (uint32_t il = 0; il < L; ++il) step[il] = cache::difference(off.layer(il).stats(), before[il]);
    cacheSteps_.push_back(std::move(step));
    return {};
}

void VkForward::copyRouting(uint32_t done, uint32_t n, uint32_t nTok) {
    // routing record of this batch (the device wrote it during the step; this is the host copy)
    const ModelConfig& c = model_.cfg;
    const uint32_t L = c.block_count, NE = c.expert_count, KC = std::min<uint32_t>(NE, kRouteCap);
    RoutingRecord& r = routing_;
    const bool pred = !r.pred.empty();
    for (uint32_t il = 0; il < L; ++il) {
        if (!model_.plan.layers[il].moe()) continue;  // a dense layer routes nothing: -1 / 0 rows
        const uint32_t K = layerRouting_[il].params.kMax;
        const uint64_t slice = uint64_t(il) * maxBatch_;
        const int32_t* rid = rIds_.as<int32_t>() + slice * KC;
        const float* rw = rWeights_.as<float>() + slice * KC;
        for (uint32_t t = 0; t < n; ++t) {
            std::memcpy(&r.ids[(size_t(il) * nTok + done + t) * r.kMax], rid + size_t(t) * K, K * 4);
            std::memcpy(&r.weights[(size_t(il) * nTok + done + t) * r.kMax], rw + size_t(t) * K, K * 4);
            if (pred && il > 0 && model_.plan.layers[il - 1].moe())  // predicted by the MoE layer before
                std::memcpy(&r.pred[(size_t(il) * nTok + done + t) * r.kMax], rPred_.as<int32_t>() + slice * KC + size_t(t) * K,
                            K * 4);
        }
        std::memcpy(&r.counts[size_t(il) * nTok + done], rCounts_.as<int32_t>() + slice, n * 4);
        std::memcpy(&r.probs[(size_t(il) * nTok + done) * NE], rProbs_.as<float>() + slice * NE, size_t(n) * NE * 4);
    }
}

Status VkForward::forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) {
    const ModelConfig& c = model_.cfg;
    MOE_TRY(cpu::checkStep(c, tokens, nTok, pos0, nCtx_, nPast_));
    const uint32_t L = c.block_count, NE = c.expert_count;
    routing_.nTok = 0;  // vectors keep their capacity across steps
    routing_.nLayer = L;
    routing_.nExpert = NE;
    routing_.kMax = 0;
    for (auto& lr : layerRouting_) routing_.kMax = std::max(routing_.kMax, lr.params.kMax);  // checked by setRouting
    kernelTimes_.clear();
    lastStepMs_ = 0;
    RoutingRecord& r = routing_;
    if (recordRouting_) {
        r.nTok = nTok;
        r.ids.assign(size_t(L) * nTok * r.kMax, -1);
        r.weights.assign(size_t(L) * nTok * r.kMax, 0.0f);
        r.counts.assign(size_t(L) * nTok, 0);
        // dense layers' rows are never written by the device: zero them (others are overwritten)
        if (hasDenseLayer_) r.probs.assign(size_t(L) * nTok * NE, 0.0f);
        else r.probs.resize(size_t(L) * nTok * NE);
    } else {
        r.ids.clear(), r.weights.clear(), r.counts.clear(), r.probs.clear();
    }
    if (recordRouting_) {
        if (offload_ && offload_->prefetch()) r.pred.assign(size_t(L) * nTok * r.kMax, -1);
        else r.pred.clear();
        r.stepStart.clear();
    }
    cacheSteps_.clear();
    for (uint32_t done = 0; done < nTok;) {
        const uint32_t n = std::min(maxBatch_, nTok - done);
        std::memcpy(tokens_.mapped(), tokens + done, n * 4);
        for (uint32_t i = 0; i < n; ++i) positions_.as<int32_t>()[i] = int32_t(pos0 + done + i);
        const bool last = done + n == nTok;
        const bool batchLogits = allLogits || !last ? allLogits : false;
        if (offload_) MOE_TRY(runBatchCached(n, pos0 + done, batchLogits));
        else MOE_TRY(runBatch(n, pos0 + done, batchLogits));
        if (allLogits)
            std::memcpy(logits + size_t(done) * c.n_vocab, logits_.mapped(), size_t(n) * c.n_vocab * 4);
        else if (last)
            std::memcpy(logits, logits_.mapped(), size_t(c.n_vocab) * 4);
        if (recordRouting_) {
            r.stepStart.push_back(done);
            copyRouting(done, n, nTok);
        }
        done += n;
    }
    nPast_ = pos0 + nTok;
    return {};
}

}  // namespace moe::rt
