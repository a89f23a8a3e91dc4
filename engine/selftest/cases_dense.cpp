// Conformance cases of the dense ops: rms_norm, rope (normal/NeoX, q and k in one dispatch),
// softmax, attention (decode, batch, GQA/MQA/MHA, long context, each kernel the runtime may
// choose), elementwise (add, mul, scale, swiglu, add_scaled, mul_rows, copy_rows).
#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/ops.h"
#include "selftest/cases.h"
#include "runtime/kernels_dense.h"

namespace moe::selftest::conf {

namespace {

// NMSE tolerances. add/mul/scale/mul_rows/copy are single correctly rounded fp32 operations:
// bit-exact. a + s*b may be contracted into an fma (one rounding instead of two: at most 2^-24
// relative error per element, NMSE below 4e-15). The others differ from the reference by f32
// accumulation order (it accumulates in double) and by the device's exp/sqrt precision.
constexpr double kTolExact = 0.0;
constexpr double kTolFma = 1e-13;
constexpr double kTolNorm = 1e-10;
constexpr double kTolRope = 1e-10;
constexpr double kTolSoftmax = 1e-9;
constexpr double kTolAttention = 1e-9;
constexpr double kTolSwiglu = 1e-11;

using Scope = ConformanceScope;

// Reduction variants the device can run: shared memory always, subgroup arithmetic when present.
std::vector<std::pair<Reduce, std::string>> reduceVariants(const vk::DeviceCaps& caps) {
    std::vector<std::pair<Reduce, std::string>> v{{Reduce::Shared, "shared"}};
    const VkSubgroupFeatureFlags need = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
    if ((caps.subgroupOps & need) == need) v.push_back({Reduce::Subgroup, "subgroup"});
    return v;
}

// ---- rms_norm

struct NormShape {
    uint32_t nTok, n;
    bool weight, inPlace;
    uint32_t pad;  // extra floats per row (strided rows)
};

Result<Outcome> runRmsNorm(Harness& h, Reduce reduce, NormShape s) {
    Outcome o;
    o.tolerance = kTolNorm;
    const uint32_t stride = s.n + s.pad;
    const float eps = 1e-5f;
    auto x = randn(size_t(s.nTok) * stride, s.n * 31 + s.nTok, 2.0f, 0.3f);
    auto w = randn(s.n, 7, 1.0f, 1.0f);
    std::vector<float> ref(x.size(), 0.0f);
    for (uint32_t t = 0; t < s.nTok; ++t)
        cpu::rmsNorm(&x[size_t(t) * stride], s.weight ? w.data() : nullptr, 1, s.n, eps, &ref[size_t(t) * stride]);
    MOE_ASSIGN(vk::Buffer xb, h.upload(x));
    MOE_ASSIGN(vk::Buffer wb, h.upload(w));
    MOE_ASSIGN(vk::Buffer yb, h.buffer(x.size() * 4));
    const vk::Buffer& out = s.inPlace ? xb : yb;
    Record rec = [&](vk::Commands& cmd) {
        return rmsNorm(h.dev(), cmd, xb.address(), s.weight ? wb.address() : 0, out.address(), s.nTok, s.n, eps,
                       stride, stride, reduce);
    };
    MOE_TRY(h.run(rec));
    MOE_ASSIGN(auto got, h.download<float>(out, x.size()));
    for (uint32_t t = 0; t < s.nTok; ++t)  // padding is not written
        for (uint32_t i = s.n; i < stride; ++i) got[size_t(t) * stride + i] = ref[size_t(t) * stride + i] = 0.0f;
    compare(o, ref, got);
    MOE_TRY(h.time(rec, o));
    o.bytes = uint64_t(s.nTok) * s.n * 8 + (s.weight ? s.n * 4ull : 0);
    return o;
}

// ---- rope

struct RopeShape {
    uint32_t nTok, nHeads, headDim, nRot;
    float base;
    uint32_t extraHeads, headOffset;  // rotating q or k inside a fused qkv row
    float yarnFactor = 0.0f;          // > 1: YaRN over an original context of 4096 / yarnFactor
};

Result<Outcome> runRope(Harness& h, bool neox, RopeShape s) {
    Outcome o;
    o.tolerance = kTolRope;
    const uint32_t stride = (s.headOffset + s.nHeads + s.extraHeads) * s.headDim;
    auto x = randn(size_t(s.nTok) * stride, s.nTok * 13 + s.headDim);
    // positions from 0 to 4096, unsorted
    std::vector<int32_t> pos(s.nTok);
    for (uint32_t t = 0; t < s.nTok; ++t) pos[t] = int32_t((uint64_t(t) * 2654435761u) % 4097);
    pos[0] = 4096;
    if (s.nTok > 2) pos[1] = 0;
    std::vector<float> ref = x;
    const cpu::YarnParams yarn = cpu::yarnParams(s.nRot, s.base, s.yarnFactor, uint32_t(4096 / std::max(1.0f, s.yarnFactor)),
                                                 32.0f, 1.0f, 1.0f + 0.1f * std::log(std::max(1.0f, s.yarnFactor)));
    const cpu::YarnParams* ya = s.yarnFactor > 1.0f ? &yarn : nullptr;
    for (uint32_t t = 0; t < s.nTok; ++t)
        cpu::rope(&ref[size_t(t) * stride + s.headOffset * s.headDim], 1, s.nHeads, s.headDim, &pos[t], s.nRot,
                  s.base, neox, ya);
    MOE_ASSIGN(vk::Buffer xb, h.upload(x));
    MOE_ASSIGN(vk::Buffer pb, h.upload(pos));
    Record rec = [&](vk::Commands& cmd) {
        return rope(h.dev(), cmd, xb.address() + s.headOffset * s.headDim * 4ull, s.nTok, s.nHeads, s.headDim,
                    pb.address(), s.nRot, s.base, neox, stride, {}, ya);
    };
    MOE_TRY(h.run(rec));
    MOE_ASSIGN(auto got, h.download<float>(xb, x.size()));
    compare(o, ref, got);
    MOE_TRY(h.time(rec, o));
    o.bytes = uint64_t(s.nTok) * (s.nHeads * s.nRot * 8ull + 4);
    return o;
}

// q and k rotated by one dispatch (what the forward pass records), k inside a wider row
struct RopePairShape {
    uint32_t nTok, nHeadQ, nHeadK, headDim, nRot, kStride;  // kStride 0: nHeadK * headDim
};

Result<Outcome> runRopePair(Harness& h, bool neox, RopePairShape s) {
    Outcome o;
    o.tolerance = kTolRope;
    const uint32_t qStride = s.nHeadQ * s.headDim, kStride = s.kStride ? s.kStride : s.nHeadK * s.headDim;
    auto q = randn(size_t(s.nTok) * qStride, s.nTok + 1), k = randn(size_t(s.nTok) * kStride, s.nTok + 2);
    std::vector<int32_t> pos(s.nTok);
    for (uint32_t t = 0; t < s.nTok; ++t) pos[t] = int32_t(t * 97 % 2049);
    std::vector<float> qRef = q, kRef = k;
    for (uint32_t t = 0; t < s.nTok; ++t) {
        cpu::rope(&qRef[size_t(t) * qStride], 1, s.nHeadQ, s.headDim, &pos[t], s.nRot, 10000.0f, neox);
        cpu::rope(&kRef[size_t(t) * kStride], 1, s.nHeadK, s.headDim, &pos[t], s.nRot, 10000.0f, neox);
    }
    MOE_ASSIGN(vk::Buffer qb, h.upload(q));
    MOE_ASSIGN(vk::Buffer kb, h.upload(k));
    MOE_ASSIGN(vk::Buffer pb, h.upload(pos));
    Record rec = [&](vk::Commands& cmd) {
        return rope(h.dev(), cmd, qb.address(), s.nTok, s.nHeadQ, s.headDim, pb.address(), s.nRot, 10000.0f, neox, 0,
                    RopeSecond{kb.address(), s.nHeadK, s.kStride});
    };
    MOE_ASSIGN(RunInfo info, h.run(rec));
    expect(o, info.dispatches == 1, fmt("%u dispatches for q and k, expected 1", info.dispatches));
    MOE_ASSIGN(auto gotQ, h.download<float>(qb, q.size()));
    MOE_ASSIGN(auto gotK, h.download<float>(kb, k.size()));
    compare(o, qRef, gotQ);
    compare(o, kRef, gotK);
    MOE_TRY(h.time(rec, o));
    o.bytes = uint64_t(s.nTok) * ((s.nHeadQ + s.nHeadK) * s.nRot * 8ull + 4);
    return o;
}

// ---- softmax

Result<Outcome> runSoftmax(Harness& h, Reduce reduce, uint32_t rows, uint32_t n, float sigma) {
    Outcome o;
    o.tolerance = kTolSoftmax;
    auto x = randn(size_t(rows) * n, n + rows, sigma);
    std::vector<float> ref = x;
    cpu::softmax(ref.data(), rows, n);
    MOE_ASSIGN(vk::Buffer xb, h.upload(x));
    Record rec = [&](vk::Commands& cmd) { return softmax(h.dev(), cmd, xb.address(), rows, n, reduce); };
    MOE_TRY(h.run(rec));
    MOE_ASSIGN(auto got, h.download<float>(xb, x.size()));
    compare(o, ref, got);
    MOE_TRY(h.time(rec, o));
    o.bytes = uint64_t(rows) * n * 8;
    return o;
}

// ---- attention

struct AttnShape {
    uint32_t nTok, nHead, nHeadKv, headDim, pos0;
    uint32_t splits;  // 0: automatic (with scratch); 1: no scratch; > 1: forced key splits
    float kqScale;
    bool fusedQ;      // q rows inside a qkv buffer (qStride = (nHead + 2 nHeadKv) headDim)
    uint32_t latentV = 0;  // > 0: MLA's latent MQA, values = the first latentV dims of the key rows
};

Result<Outcome> runAttention(Harness& h, Reduce reduce, AttnShape s) {
    Outcome o;
    o.tolerance = kTolAttention;
    const uint32_t nCtx = s.pos0 + s.nTok + 3;  // rows past the last position hold NaN: never read
    const uint32_t kvRow = s.nHeadKv * s.headDim;
    const uint32_t qRow = s.nHead * s.headDim;
    const uint32_t qStride = s.fusedQ ? (s.nHead + 2 * s.nHeadKv) * s.headDim : qRow;
    auto q = randn(size_t(s.nTok) * qStride, s.nTok * 3 + s.headDim);
    auto k = randn(size_t(nCtx) * kvRow, s.pos0 + 11, 1.5f);
    auto v = randn(size_t(nCtx) * kvRow, s.pos0 + 12);
    for (size_t i = size_t(s.pos0 + s.nTok) * kvRow; i < k.size(); ++i)
        k[i] = v[i] = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> qc(size_t(s.nTok) * qRow);  // contiguous q for the reference
    for (uint32_t t = 0; t < s.nTok; ++t) std::copy_n(&q[size_t(t) * qStride], qRow, &qc[size_t(t) * qRow]);
    const uint32_t dv = s.latentV ? s.latentV : s.headDim;
    if (s.latentV) {  // the reference's values: (nCtx, nHeadKv, latentV) cut from the key rows
        v.assign(size_t(nCtx) * s.nHeadKv * dv, 0.0f);
        for (size_t r = 0; r < size_t(nCtx) * s.nHeadKv; ++r) std::copy_n(&k[r * s.headDim], dv, &v[r * dv]);
    }
    std::vector<float> ref(size_t(s.nTok) * s.nHead * dv);
    cpu::attention(qc.data(), k.data(), v.data(), s.nTok, s.nHead, s.nHeadKv, s.headDim, s.pos0, ref.data(),
                   s.kqScale, dv);
    MOE_ASSIGN(vk::Buffer qb, h.upload(q));
    MOE_ASSIGN(vk::Buffer kb, h.upload(k));
    MOE_ASSIGN(vk::Buffer vb, h.upload(v));
    MOE_ASSIGN(vk::Buffer ob, h.buffer(ref.size() * 4));
    const uint64_t scratchBytes = attentionScratchBytes(dv, s.nTok, s.nHead, s.splits);
    MOE_ASSIGN(vk::Buffer sb, h.buffer(scratchBytes));
    AttentionArgs a;
    a.q = qb.address();
    a.k = kb.address();
    a.v = vb.address();
    a.out = ob.address();
    a.nTok = s.nTok;
    a.nHead = s.nHead;
    a.nHeadKv = s.nHeadKv;
    a.headDim = s.headDim;
    a.pos0 = s.pos0;
    a.kqScale = s.kqScale;
    a.qStride = qStride;
    a.reduce = reduce;
    if (s.latentV) {
        a.v = a.k;
        a.headDimV = s.latentV;
        a.vStride = kvRow;
    }
    if (s.splits != 1) {
        a.scratch = sb.address();
        a.scratchBytes = scratchBytes;
        a.splits = s.splits;
    }
    Record rec = [&](vk::Commands& cmd) { return attention(h.dev(), cmd, a); };
    MOE_ASSIGN(RunInfo info, h.run(rec));
    MOE_ASSIGN(auto got, h.download<float>(ob, ref.size()));
    compare(o, ref, got);
    // Auto on devices that read through texel views: batches with a head size that is a multiple
    // of 4 take the token-per-invocation kernel, in one dispatch. Otherwise the automatic plan
    // splits the keys of decode over a long context (a second, merging dispatch) and nothing else.
    const bool rows = reduce == Reduce::Auto && h.dev().texelWeights() && s.nTok > 1 && s.headDim % 4 == 0 &&
                      !s.latentV && s.headDim <= 256;
    const uint32_t expected = rows ? 1
                              : s.splits ? (s.splits > 1 ? 2 : 1)
                                         : (s.nTok * s.nHead < 256 && s.pos0 + s.nTok >= 512 ? 2 : 1);
    expect(o, info.dispatches == expected, fmt("%u dispatches, expected %u", info.dispatches, expected));
    if (!info.kernels.empty())
        expect(o, (info.kernels[0] == "attention_row") == rows,
               "ran " + info.kernels[0] + (rows ? ", not attention_row" : ""));
    MOE_TRY(h.time(rec, o));
    double keys = 0;  // Σ over new tokens of the positions each attends to
    for (uint32_t t = 0; t < s.nTok; ++t) keys += s.pos0 + t + 1;
    o.flops = 2.0 * keys * s.nHead * (s.headDim + dv);
    o.bytes = (qc.size() + ref.size()) * 4 + uint64_t(s.pos0 + s.nTok) * kvRow * 8;
    o.unit = s.nTok >= 16 ? ThroughputUnit::GFLOPs : ThroughputUnit::GBps;
    return o;
}

std::string attnVariant(const std::string& reduce, AttnShape s) {
    const char* heads = s.latentV ? "MLA" : s.nHeadKv == s.nHead ? "MHA" : s.nHeadKv == 1 ? "MQA" : "GQA";
    const char* kind = s.nTok == 1 ? (s.pos0 >= 1000 ? "decode long" : "decode") : "batch";
    return reduce + " " + kind + " " + heads;
}

std::string attnShape(AttnShape s) {
    std::string r = fmt("tok=%u heads=%u/%u hd=%u pos0=%u", s.nTok, s.nHead, s.nHeadKv, s.headDim, s.pos0);
    if (s.splits == 1) r += " nosplit";
    if (s.splits > 1) r += fmt(" splits=%u", s.splits);
    if (s.kqScale > 0) r += fmt(" scale=%g", double(s.kqScale));
    if (s.fusedQ) r += " fused-q";
    if (s.latentV) r += fmt(" v=%u", s.latentV);
    return r;
}

// ---- elementwise

enum class Elt { Add, Mul, Scale, Swiglu, AddScaled, MulRows, CopyRows };

Result<Outcome> runEltwise(Harness& h, Elt op, uint32_t rows, uint32_t n) {
    auto& dev = h.dev();
    Outcome o;
    const size_t total = size_t(rows) * n;
    const auto a = randn(total, n * 3 + rows), b = randn(op == Elt::MulRows ? n : total, n * 3 + rows + 1, 2.0f);
    const float s = -0.37f;
    std::vector<float> ref(total);
    Record rec;
    MOE_ASSIGN(vk::Buffer ab, h.upload(a));
    MOE_ASSIGN(vk::Buffer bb, h.upload(b));
    MOE_ASSIGN(vk::Buffer ob, h.buffer(total * 4));
    const uint64_t A = ab.address(), B = bb.address(), O = ob.address();
    switch (op) {
        case Elt::Add:
            cpu::add(a.data(), b.data(), ref.data(), int64_t(total));
            rec = [&, n](vk::Commands& c) { return add(dev, c, A, B, O, n); };
            o.tolerance = kTolExact;
            o.bytes = total * 12;
            break;
        case Elt::Mul:
            cpu::mul(a.data(), b.data(), ref.data(), int64_t(total));
            rec = [&, n](vk::Commands& c) { return mul(dev, c, A, B, O, n); };
            o.tolerance = kTolExact;
            o.bytes = total * 12;
            break;
        case Elt::Scale:
            cpu::scale(a.data(), s, ref.data(), int64_t(total));
            rec = [&, n](vk::Commands& c) { return scale(dev, c, A, s, O, n); };
            o.tolerance = kTolExact;
            o.bytes = total * 8;
            break;
        case Elt::Swiglu:
            cpu::swiglu(a.data(), b.data(), ref.data(), int64_t(total));
            rec = [&, n](vk::Commands& c) { return swiglu(dev, c, A, B, O, n); };
            o.tolerance = kTolSwiglu;
            o.bytes = total * 12;
            break;
        case Elt::AddScaled:  // y += s * x in place: y starts as a copy of a
            for (size_t i = 0; i < total; ++i) ref[i] = a[i] + s * b[i];
            MOE_TRY(dev.upload(ob, 0, a.data(), total * 4));
            rec = [&, n](vk::Commands& c) { return addScaled(dev, c, O, B, s, n); };
            o.tolerance = kTolFma;
            o.bytes = total * 12;
            break;
        case Elt::MulRows:
            cpu::mulRows(a.data(), b.data(), ref.data(), rows, n);
            rec = [&, rows, n](vk::Commands& c) { return mulRows(dev, c, A, B, O, rows, n); };
            o.tolerance = kTolExact;
            o.bytes = total * 8 + n * 4ull;
            break;
        case Elt::CopyRows:  // rows of n floats out of rows of 3n (a k slice of a fused qkv buffer)
            break;
    }
    if (op == Elt::CopyRows) {
        const uint32_t srcStride = 3 * n, nRows = uint32_t(total / srcStride);
        ref.assign(size_t(nRows) * n, 0.0f);
        for (uint32_t r = 0; r < nRows; ++r) std::copy_n(&a[size_t(r) * srcStride + n], n, &ref[size_t(r) * n]);
        rec = [&, nRows, n, srcStride](vk::Commands& c) { return copyRows(dev, c, A + n * 4ull, srcStride, O, n, nRows, n); };
        o.tolerance = kTolExact;
        o.bytes = uint64_t(nRows) * n * 8;
    }
    MOE_TRY(h.run(rec));
    MOE_ASSIGN(auto got, h.download<float>(ob, ref.size()));
    compare(o, ref, got);
    MOE_TRY(h.time(rec, o));
    return o;
}

}  // namespace

void addDenseCases(std::vector<Case>& out, const CaseContext& ctx) {
    const auto reductions = reduceVariants(ctx.caps);

    // rms_norm: n from 1 to 4097, 1 to 70000 rows, with/without weight, in place, strided rows
    struct NormCase {
        NormShape shape;
        Scope scope;
    };
    const NormCase norms[] = {
        {{1, 7, false, false, 0}, Scope::Quick},    {{3, 100, true, true, 0}, Scope::Quick},
        {{130, 4097, true, false, 0}, Scope::Quick}, {{9, 100, true, false, 3}, Scope::Quick},
        {{1, 1, true, false, 0}, Scope::Checks},     {{130, 64, false, true, 0}, Scope::Checks},
        {{1, 4096, true, false, 0}, Scope::Checks},  {{70000, 3, true, false, 0}, Scope::Checks},
        {{512, 4096, true, false, 0}, Scope::Full}};
    for (auto& [reduce, rname] : reductions)
        for (const NormCase& c : norms) {
            const NormShape s = c.shape;
            std::string shape = fmt("tok=%u n=%u", s.nTok, s.n);
            if (s.weight) shape += " weight";
            if (s.inPlace) shape += " in-place";
            if (s.pad) shape += " strided";
            Reduce r = reduce;
            out.push_back({"rms_norm", rname, shape, [r, s](Harness& h) { return runRmsNorm(h, r, s); }, c.scope});
        }

    // rope: normal and NeoX ordering, headDim 2 to 128, partial rotation, large base, rotation
    // inside fused qkv; q and k in one dispatch
    struct RopeCase {
        RopeShape shape;
        Scope scope;
    };
    const RopeCase ropes[] = {{{1, 8, 64, 64, 10000.0f, 0, 0}, Scope::Quick},
                              {{7, 4, 80, 80, 10000.0f, 0, 0}, Scope::Quick},
                              {{130, 2, 128, 64, 1000000.0f, 0, 0}, Scope::Quick},
                              {{17, 2, 64, 32, 10000.0f, 4, 8}, Scope::Quick},
                              {{1, 1, 2, 2, 10000.0f, 0, 0}, Scope::Checks},
                              {{33, 8, 128, 128, 500000.0f, 0, 0}, Scope::Checks},
                              {{512, 32, 128, 128, 500000.0f, 0, 0}, Scope::Full},
                              {{41, 4, 64, 64, 10000.0f, 0, 0, 40.0f}, Scope::Quick},   // DeepSeek-V2's YaRN
                              {{23, 2, 192, 64, 10000.0f, 0, 2, 4.0f}, Scope::Quick}};  // rope part inside an MLA head
    struct RopePairCase {
        RopePairShape shape;
        Scope scope;
    };
    const RopePairCase pairs[] = {{{1, 8, 2, 64, 64, 0}, Scope::Quick},
                                  {{9, 16, 1, 128, 64, 3 * 128}, Scope::Quick},
                                  {{37, 4, 4, 80, 80, 0}, Scope::Checks}};
    for (bool neox : {false, true}) {
        const std::string variant = neox ? "neox" : "normal";
        for (const RopeCase& c : ropes) {
            const RopeShape s = c.shape;
            std::string shape = fmt("tok=%u heads=%u hd=%u rot=%u base=%g", s.nTok, s.nHeads, s.headDim, s.nRot,
                                    double(s.base));
            if (s.extraHeads) shape += " fused-qkv";
            if (s.yarnFactor > 1.0f) shape += fmt(" yarn=%g", double(s.yarnFactor));
            out.push_back({"rope", variant, shape, [neox, s](Harness& h) { return runRope(h, neox, s); }, c.scope});
        }
        for (const RopePairCase& c : pairs) {
            const RopePairShape s = c.shape;
            std::string shape = fmt("tok=%u heads=%u/%u hd=%u rot=%u", s.nTok, s.nHeadQ, s.nHeadK, s.headDim, s.nRot);
            if (s.kStride) shape += fmt(" k-stride=%u", s.kStride);
            out.push_back({"rope", variant + " q+k", shape,
                           [neox, s](Harness& h) { return runRopePair(h, neox, s); }, c.scope});
        }
    }

    // softmax: n from 1 to 32000 (a vocabulary), 1 to 70000 rows, large logits
    struct SoftCase {
        uint32_t rows, n;
        float sigma;
        Scope scope;
    };
    const SoftCase softs[] = {{1, 7, 3.0f, Scope::Quick},    {5, 100, 10.0f, Scope::Quick},
                              {64, 4097, 2.0f, Scope::Quick}, {3, 32000, 5.0f, Scope::Quick},
                              {1, 1, 1.0f, Scope::Checks},    {70000, 3, 1.0f, Scope::Checks},
                              {256, 32000, 2.0f, Scope::Full}};
    for (auto& [reduce, rname] : reductions)
        for (const SoftCase& s : softs) {
            Reduce r = reduce;
            out.push_back({"softmax", rname, fmt("rows=%u n=%u", s.rows, s.n),
                           [r, s](Harness& h) { return runSoftmax(h, r, s.rows, s.n, s.sigma); }, s.scope});
        }

    // attention: decode (1 token) and batches; GQA/MHA/MQA; headDim 1 to 256; long contexts with
    // split keys; each reduction, and the runtime's own choice (auto)
    struct AttnCase {
        AttnShape shape;
        Scope scope;
    };
    const AttnCase attns[] = {
        {{1, 8, 2, 64, 0, 0, 0.0f, false}, Scope::Quick},        // first token: one key
        {{1, 8, 2, 128, 1200, 0, 0.0f, false}, Scope::Quick},    // decode, long context: automatic split
        {{1, 8, 2, 128, 1200, 1, 0.0f, false}, Scope::Quick},    // same, one workgroup per head
        {{33, 8, 2, 64, 40, 0, 0.0f, false}, Scope::Quick},      // batch after a cached prefix
        {{5, 6, 3, 36, 37, 0, 0.05f, true}, Scope::Quick},       // odd sizes, explicit scale, fused q
        {{3, 4, 1, 256, 70, 0, 0.0f, false}, Scope::Quick},      // MQA, largest head
        {{1, 4, 1, 256, 700, 0, 0.0f, true}, Scope::Checks},     // MQA decode, largest head, fused q
        {{130, 8, 2, 80, 0, 0, 0.0f, false}, Scope::Checks},     // prefill from an empty cache
        {{100, 4, 4, 128, 900, 3, 0.0f, false}, Scope::Checks},  // MHA batch, forced splits
        {{130, 2, 1, 64, 0, 4, 0.0f, false}, Scope::Checks},     // forced splits: early tokens leave later ones empty
        {{2, 2, 1, 1, 3, 0, 0.0f, false}, Scope::Checks},        // headDim 1
        {{7, 4, 1, 48, 20, 0, 0.09f, false, 32}, Scope::Quick},   // MLA latent MQA: k = [c | rope], v = c
        {{1, 16, 1, 576, 700, 0, 0.05f, false, 512}, Scope::Quick},  // DeepSeek's 512 + 64, decode, split
        {{9, 16, 1, 576, 30, 0, 0.05f, false, 512}, Scope::Checks},
        {{1, 32, 8, 128, 4095, 0, 0.0f, false}, Scope::Full},    // decode at 4k context
        {{128, 16, 4, 128, 384, 0, 0.0f, false}, Scope::Full},
    };
    auto attnReductions = reductions;
    attnReductions.push_back({Reduce::Auto, "auto"});
    for (auto& [reduce, rname] : attnReductions)
        for (const AttnCase& c : attns) {
            Reduce r = reduce;
            const AttnShape s = c.shape;
            out.push_back({"attention", attnVariant(rname, s), attnShape(s),
                           [r, s](Harness& h) { return runAttention(h, r, s); }, c.scope});
        }

    // elementwise: odd lengths; mul_rows broadcasts a row; copy_rows is the KV-cache write
    const std::pair<uint32_t, Scope> lens[] = {{7, Scope::Quick},    {4097, Scope::Quick},   {1, Scope::Checks},
                                               {100, Scope::Checks}, {100000, Scope::Checks}, {1u << 20, Scope::Full}};
    const std::pair<Elt, const char*> flat[] = {{Elt::Add, "add"},       {Elt::Mul, "mul"},
                                                {Elt::Scale, "scale"},   {Elt::Swiglu, "swiglu"},
                                                {Elt::AddScaled, "add_scaled"}};
    for (auto [op, name] : flat)
        for (auto [n, scope] : lens)
            out.push_back(
                {name, "f32", fmt("n=%u", n), [op, n](Harness& h) { return runEltwise(h, op, 1, n); }, scope});
    out.push_back({"mul_rows", "f32", "rows=130 n=4097",
                   [](Harness& h) { return runEltwise(h, Elt::MulRows, 130, 4097); }});
    out.push_back({"mul_rows", "f32", "rows=512 n=4096",
                   [](Harness& h) { return runEltwise(h, Elt::MulRows, 512, 4096); }, Scope::Full});
    out.push_back({"copy_rows", "f32", "rows=21 n=128 from stride 384",
                   [](Harness& h) { return runEltwise(h, Elt::CopyRows, 63, 128); }});
}

}  // namespace moe::selftest::conf
