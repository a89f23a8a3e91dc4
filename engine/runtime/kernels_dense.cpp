// Recording of the dense ops: variant and workgroup choice from DeviceCaps, argument checks,
// push constants, dispatch (see kernels_dense.h for the semantics).
#include "runtime/kernels_dense.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "push_dense.h"
#include "runtime/kernels.h"

namespace moe::rt {

namespace {

constexpr uint32_t kMaxGroups = 65535;  // guaranteed minimum of maxComputeWorkGroupCount

uint32_t ceilDiv(uint64_t a, uint64_t b) { return static_cast<uint32_t>((a + b - 1) / b); }

// variants_dense.cmake builds each reducing kernel twice: <name> (shared-memory tree) and
// <name>_sg (subgroup arithmetic, which the device must support in compute shaders).
Result<ShaderId> reduceVariant(const vk::DeviceCaps& caps, Reduce r, ShaderId shared, ShaderId subgroup) {
    const VkSubgroupFeatureFlags need = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
    const bool has = (caps.subgroupOps & need) == need;
    switch (r) {
        case Reduce::Shared: return shared;
        case Reduce::Subgroup:
            if (!has) return makeError("device '" + caps.name + "' has no subgroup arithmetic in compute shaders");
            return subgroup;
        case Reduce::Auto: break;
    }
    return has ? subgroup : shared;
}

Status checkRows(const char* op, uint32_t rows, uint32_t n) {
    if (rows == 0 || n == 0) return makeError(std::string(op) + ": empty tensor");
    if (uint64_t(rows) * n > 0xffffffffull) return makeError(std::string(op) + ": more than 2^32 elements in one call");
    return {};
}

// Split-K plan for attention: only when (token, head) pairs are too few to fill the device and
// the context is long. Bounded so that nTok * nHead * nSplit < 2 * kTargetWorkgroups.
constexpr uint32_t kTargetWorkgroups = 256, kMinChunk = 256, kMaxSplit = 64;

struct SplitPlan {
    uint32_t nSplit = 1, chunk = 0;
};

SplitPlan planSplits(uint32_t pairs, uint32_t nKeys, uint32_t wg, uint32_t forced) {
    SplitPlan plan;
    uint32_t n = forced;
    if (n == 0) {
        if (pairs >= kTargetWorkgroups || nKeys < 2 * kMinChunk) return plan;
        n = std::min({ceilDiv(nKeys, kMinChunk), ceilDiv(kTargetWorkgroups, pairs), kMaxSplit});
    }
    if (n <= 1) return plan;
    plan.chunk = ceilDiv(ceilDiv(nKeys, n), wg) * wg;  // whole blocks of keys per split
    plan.nSplit = ceilDiv(nKeys, plan.chunk);
    return plan;
}

uint64_t partialBytes(uint32_t pairs, uint32_t nSplit, uint32_t headDim) {
    return uint64_t(pairs) * nSplit * (headDim + 2) * sizeof(float);
}

}  // namespace

Status rmsNorm(vk::Device& dev, vk::Commands& cmd, uint64_t x, uint64_t w, uint64_t y, uint32_t nTok, uint32_t n,
               float eps, uint32_t xStride, uint32_t yStride, Reduce reduce) {
    MOE_TRY(checkRows("rms_norm", nTok, n));
    MOE_ASSIGN(ShaderId id, reduceVariant(dev.caps(), reduce, ShaderId::rms_norm, ShaderId::rms_norm_sg));
    MOE_ASSIGN(const vk::Pipeline* p, dev.pipeline(id, {{reductionWorkgroup(dev.caps())}}));
    push::RmsNormPush pc{};
    pc.x = x;
    pc.w = w;
    pc.y = y;
    pc.nTok = nTok;
    pc.n = n;
    pc.xStride = xStride ? xStride : n;
    pc.yStride = yStride ? yStride : n;
    pc.eps = eps;
    cmd.dispatch(*p, pc, std::min(nTok, kMaxGroups));  // the shader strides over further rows
    return {};
}

Status rope(vk::Device& dev, vk::Commands& cmd, uint64_t x, uint32_t nTok, uint32_t nHeads, uint32_t headDim,
            uint64_t positions, uint32_t nRot, float freqBase, bool neox, uint32_t tokStride,
            const RopeSecond& second, const cpu::YarnParams* yarn) {
    MOE_TRY(checkRows("rope", nTok, nHeads * headDim));
    if (nRot == 0 || nRot % 2 || nRot > headDim)
        return makeError("rope: rotated dims " + std::to_string(nRot) + " must be even and <= head size " +
                         std::to_string(headDim));
    if (!(freqBase > 0.0f)) return makeError("rope: frequency base must be positive");
    if (tokStride == 0) tokStride = nHeads * headDim;
    if (tokStride < nHeads * headDim) return makeError("rope: token stride smaller than a token's heads");
    const uint32_t nHeads2 = second.x ? second.nHeads : 0;
    const uint32_t tokStride2 = second.tokStride ? second.tokStride : nHeads2 * headDim;
    if (second.x && (nHeads2 == 0 || tokStride2 < nHeads2 * headDim))
        return makeError("rope: the second tensor needs heads and a token stride that holds them");
    if (nTok > kMaxGroups) return makeError("rope: more than 65535 tokens in one call");
    const uint32_t wg = std::min<uint32_t>(64, dev.caps().maxWorkGroupInvocations);
    MOE_ASSIGN(const vk::Pipeline* p, dev.pipeline(ShaderId::rope, {{wg}}));
    // theta_i = pos * ratio^i with ratio = base^(-2/nRot) in double, passed as hi + lo floats
    const double ratio = std::pow(double(freqBase), -2.0 / double(nRot));
    push::RopePush pc{};
    pc.x = x;
    pc.positions = positions;
    pc.nTok = nTok;
    pc.nHeads = nHeads;
    pc.headDim = headDim;
    pc.tokStride = tokStride;
    pc.nRot = nRot;
    pc.flags = neox ? ROPE_NEOX : 0u;
    pc.ratioHi = float(ratio);
    pc.ratioLo = float(ratio - double(pc.ratioHi));
    pc.x2 = second.x;
    pc.nHeads2 = nHeads2;
    pc.tokStride2 = tokStride2;
    if (yarn) {
        pc.flags |= ROPE_YARN;
        pc.freqScale = yarn->freqScale;
        pc.extFactor = yarn->extFactor;
        pc.corrLow = yarn->corrLow;
        pc.corrHigh = yarn->corrHigh;
        pc.mscale = yarn->mscale;
    }
    const uint32_t groups = ceilDiv(uint64_t(nHeads + nHeads2) * (nRot / 2), wg);
    if (groups > kMaxGroups) return makeError("rope: too many heads in one call");
    cmd.dispatch(*p, pc, groups, nTok);
    return {};
}

Status softmax(vk::Device& dev, vk::Commands& cmd, uint64_t x, uint32_t rows, uint32_t n, Reduce reduce) {
    MOE_TRY(checkRows("softmax", rows, n));
    MOE_ASSIGN(ShaderId id, reduceVariant(dev.caps(), reduce, ShaderId::softmax, ShaderId::softmax_sg));
    MOE_ASSIGN(const vk::Pipeline* p, dev.pipeline(id, {{reductionWorkgroup(dev.caps())}}));
    push::SoftmaxPush pc{x, rows, n};
    cmd.dispatch(*p, pc, std::min(rows, kMaxGroups));
    return {};
}

uint64_t attentionScratchBytes(uint32_t headDim, uint32_t nTok, uint32_t nHead, uint32_t splits) {
    // automatic plans keep nTok * nHead * nSplit below 2 * kTargetWorkgroups (see planSplits)
    return std::max(partialBytes(2 * kTargetWorkgroups, 1, headDim), partialBytes(nTok * nHead, splits, headDim));
}

// The push constants of an attention call with its defaults resolved (no splits yet).
static push::AttentionPush attentionPush(const AttentionArgs& a) {
    push::AttentionPush pc{};
    pc.q = a.q;
    pc.k = a.k;
    pc.v = a.v;
    pc.o = a.out;
    pc.scratch = a.scratch;
    pc.nTok = a.nTok;
    pc.nHead = a.nHead;
    pc.nHeadKv = a.nHeadKv;
    pc.headDim = a.headDim;
    pc.pos0 = a.pos0;
    pc.qStride = a.qStride ? a.qStride : a.nHead * a.headDim;
    pc.kvStride = a.kvStride ? a.kvStride : a.nHeadKv * a.headDim;
    pc.kqScale = a.kqScale > 0.0f ? a.kqScale : float(1.0 / std::sqrt(double(a.headDim)));
    pc.headDimV = a.headDimV ? a.headDimV : a.headDim;
    pc.vStride = a.vStride ? a.vStride : (pc.headDimV == a.headDim ? pc.kvStride : a.nHeadKv * pc.headDimV);
    return pc;
}

// Prefill on devices that read through texel views (CPU-type devices): attention_row.comp, one
// invocation per query token, when the head size is a multiple of 4 and views cover the KV
// cache blocks at 16-byte aligned positions. Returns false (nothing recorded) otherwise, and for
// one token (decode keeps the key-parallel kernel with its splits: one token would use one lane).
static Result<bool> attentionRows(vk::Device& dev, vk::Commands& cmd, const AttentionArgs& a) {
    if (!dev.texelWeights() || a.nTok < 2 || a.headDim % 4 || a.reduce != Reduce::Auto) return false;
    push::AttentionPush pc = attentionPush(a);
    if (pc.headDimV != a.headDim || pc.vStride != pc.kvStride || a.headDim > 256) return false;  // one HD for k and v
    const vk::TexelWindow kw = dev.allocator().texelWindow(a.k), vw = dev.allocator().texelWindow(a.v);
    if (!kw.set || !vw.set || (a.k - kw.base) % 16 || (a.v - vw.base) % 16 || pc.kvStride % 4) return false;
    const uint32_t wg = std::max<uint32_t>(dev.caps().subgroupSize, 1);
    MOE_ASSIGN(const vk::Pipeline* p, dev.pipeline(ShaderId::attention_row, {{wg, a.headDim}}, true));
    pc.k = a.k - kw.base;
    pc.v = a.v - vw.base;
    pc.scratch = 0;
    pc.nSplit = 1;
    cmd.dispatch(*p, kw.set, pc, a.nHead, ceilDiv(a.nTok, wg), 1, vw.set);
    return true;
}

Status attention(vk::Device& dev, vk::Commands& cmd, const AttentionArgs& a) {
    if (a.nTok == 0 || a.nHead == 0 || a.nHeadKv == 0) return makeError("attention: empty tensor");
    if (a.nHead % a.nHeadKv)
        return makeError("attention: " + std::to_string(a.nHead) + " query heads do not divide into " +
                         std::to_string(a.nHeadKv) + " kv heads");
    if (a.headDim == 0 || a.headDim > kAttentionMaxHeadDim || a.headDimV > kAttentionMaxHeadDim)
        return makeError("attention: head size " + std::to_string(std::max(a.headDim, a.headDimV)) + " outside [1, " +
                         std::to_string(kAttentionMaxHeadDim) + "]");
    if (a.nTok > kMaxGroups || a.nHead > kMaxGroups) return makeError("attention: too many tokens or heads in one call");
    if (uint64_t(a.pos0) + a.nTok > 0x7fffffffull) return makeError("attention: context too long");
    if (Result<bool> r = attentionRows(dev, cmd, a); !r.ok() || r.value()) return r.ok() ? Status{} : r.error();
    const uint32_t wg = reductionWorkgroup(dev.caps());
    MOE_ASSIGN(ShaderId id, reduceVariant(dev.caps(), a.reduce, ShaderId::attention, ShaderId::attention_sg));
    MOE_ASSIGN(const vk::Pipeline* p, dev.pipeline(id, {{wg}}));

    push::AttentionPush pc = attentionPush(a);
    const uint32_t pairs = a.nTok * a.nHead;
    SplitPlan plan;
    if (a.scratch) plan = planSplits(pairs, a.pos0 + a.nTok, wg, a.splits);
    else if (a.splits > 1) return makeError("attention: key splits need a scratch buffer");
    if (plan.nSplit > kMaxGroups) return makeError("attention: too many key splits");
    if (plan.nSplit > 1 && partialBytes(pairs, plan.nSplit, pc.headDimV) > a.scratchBytes)
        return makeError("attention: scratch of " + std::to_string(a.scratchBytes) + " bytes is too small (" +
                         std::to_string(partialBytes(pairs, plan.nSplit, pc.headDimV)) + " needed)");
    pc.nSplit = plan.nSplit;
    pc.chunk = plan.chunk;
    cmd.dispatch(*p, pc, a.nHead, a.nTok, plan.nSplit);
    if (plan.nSplit > 1) {
        MOE_ASSIGN(const vk::Pipeline* pc2, dev.pipeline(ShaderId::attention_combine, {{wg}}));
        cmd.barrier();
        cmd.dispatch(*pc2, pc, a.nHead, a.nTok);
    }
    return {};
}

Status eltwise(vk::Device& dev, vk::Commands& cmd, const EltwiseArgs& e) {
    MOE_TRY(checkRows("eltwise", e.rows, e.n));
    const auto& caps = dev.caps();
    const uint32_t wg = std::min({256u, caps.maxWorkGroupInvocations, caps.maxWorkGroupSize[0]});
    MOE_ASSIGN(const vk::Pipeline* p, dev.pipeline(ShaderId::eltwise, {{wg, static_cast<uint32_t>(e.op)}}));
    push::EltwisePush pc{e.a, e.b, e.o, e.rows, e.n, e.aStride, e.bStride, e.oStride, e.s};
    cmd.dispatch(*p, pc, std::min(ceilDiv(uint64_t(e.rows) * e.n, wg), kMaxGroups));  // grid-stride beyond
    return {};
}

// The flat forms: one row of n floats per operand (b absent or broadcast where the op has none).
static EltwiseArgs flat(Eltwise op, uint64_t a, uint64_t b, uint64_t o, uint32_t n, float s = 0.0f) {
    return {op, a, b, o, 1, n, n, b ? n : 0, n, s};
}

Status add(vk::Device& dev, vk::Commands& cmd, uint64_t a, uint64_t b, uint64_t out, uint32_t n) {
    return eltwise(dev, cmd, flat(Eltwise::Add, a, b, out, n));
}

Status mul(vk::Device& dev, vk::Commands& cmd, uint64_t a, uint64_t b, uint64_t out, uint32_t n) {
    return eltwise(dev, cmd, flat(Eltwise::Mul, a, b, out, n));
}

Status scale(vk::Device& dev, vk::Commands& cmd, uint64_t a, float s, uint64_t out, uint32_t n) {
    return eltwise(dev, cmd, flat(Eltwise::Scale, a, 0, out, n, s));
}

Status swiglu(vk::Device& dev, vk::Commands& cmd, uint64_t gate, uint64_t up, uint64_t out, uint32_t n) {
    return eltwise(dev, cmd, flat(Eltwise::Swiglu, gate, up, out, n));
}

Status addScaled(vk::Device& dev, vk::Commands& cmd, uint64_t y, uint64_t x, float s, uint32_t n) {
    return eltwise(dev, cmd, flat(Eltwise::AddScaled, y, x, y, n, s));
}

Status mulRows(vk::Device& dev, vk::Commands& cmd, uint64_t a, uint64_t b, uint64_t out, uint32_t rows, uint32_t n) {
    return eltwise(dev, cmd, {Eltwise::Mul, a, b, out, rows, n, n, 0, n});
}

Status copyRows(vk::Device& dev, vk::Commands& cmd, uint64_t src, uint32_t srcStride, uint64_t dst,
                uint32_t dstStride, uint32_t rows, uint32_t n) {
    return eltwise(dev, cmd, {Eltwise::Copy, src, 0, dst, rows, n, srcStride, 0, dstStride});
}

}  // namespace moe::rt
