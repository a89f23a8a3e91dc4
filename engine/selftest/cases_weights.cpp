// Conformance cases of the weight-reading kernels: mul_mat (every weight type and read path, 1
// and 100+ tokens, odd sizes, storing or adding to y, a tensor larger than
// maxStorageBufferRange) and get_rows (embedding).
#include <algorithm>

#include "cpu/ops.h"
#include "cpu/quant.h"
#include "selftest/cases.h"
#include "runtime/kernels.h"

namespace moe::selftest::conf {

namespace {

// Products of f32 activations with dequantized weights accumulate in f32 on the device and in
// double in the reference: NMSE ~1e-14 in practice; 1e-10 still catches any decoding slip.
constexpr double kTolMatMul = 1e-10;

struct MatShape {
    uint32_t rows, cols, nTok;
    bool accumulate = false;  // y starts as random values and the product is added to them
};

Result<Outcome> runMulMat(Harness& h, GgmlType t, MatShape s, uint32_t seed, bool texel) {
    auto& dev = h.dev();
    ReadPathScope path(dev, texel);
    Outcome o;
    o.tolerance = kTolMatMul;
    MOE_ASSIGN(const WeightSet* w, h.weights(t, s.rows, s.cols, seed));
    const auto x = randn(size_t(s.nTok) * s.cols, seed + 1);
    std::vector<float> ref(size_t(s.nTok) * s.rows);
    cpu::matMul(t, w->bytes.data(), s.rows, s.cols, x.data(), s.nTok, ref.data());
    const auto y0 = s.accumulate ? randn(ref.size(), seed + 2) : std::vector<float>();
    for (size_t i = 0; i < y0.size(); ++i) ref[i] += y0[i];
    MOE_ASSIGN(vk::Buffer xb, h.upload(x));
    MOE_ASSIGN(vk::Buffer yb, h.buffer(ref.size() * 4));
    if (s.accumulate) MOE_TRY(dev.upload(yb, 0, y0.data(), y0.size() * 4));
    const uint64_t wAddr = w->buffer.address();
    // the texel path reads through the view of the weights' block (when one view covers it)
    if (texel && w->buffer.size() <= uint64_t(dev.caps().maxTexelBufferElements) * 16)
        expect(o, dev.allocator().texelWindow(wAddr).set != VK_NULL_HANDLE, "the weights have no texel view");
    Record rec = [&](vk::Commands& cmd) {
        return mulMat(dev, cmd, {t, wAddr, s.rows, s.cols, xb.address(), 0, yb.address(), 0, s.nTok, s.accumulate});
    };
    MOE_ASSIGN(RunInfo info, h.run(rec));
    MOE_ASSIGN(auto got, h.download<float>(yb, ref.size()));
    compare(o, ref, got);
    if (!info.kernels.empty()) {
        const bool rows = texel && texelReadType(t) && s.cols % 16 == 0;
        expect(o, startsWith(info.kernels[0], "mul_mat_row_") == rows,
               "ran " + info.kernels[0] + (rows ? ", not the row-per-invocation kernel" : ""));
    }
    MOE_TRY(h.time(rec, o));
    o.bytes = w->bytes.size() + (x.size() + ref.size() * (s.accumulate ? 2 : 1)) * 4;
    o.flops = 2.0 * s.rows * s.cols * s.nTok;
    o.unit = s.nTok >= 16 ? ThroughputUnit::GFLOPs : ThroughputUnit::GBps;
    if (s.rows * rowBytes(t, s.cols) > (64ull << 20)) h.dropWeights();  // don't keep big tensors around
    return o;
}

Result<Outcome> runGetRows(Harness& h, GgmlType t, uint32_t nRows, uint32_t cols, uint32_t nIds, uint32_t seed) {
    auto& dev = h.dev();
    Outcome o;
    o.tolerance = 0.0;  // pure decoding: bit-exact
    MOE_ASSIGN(const WeightSet* w, h.weights(t, nRows, cols, seed));
    // first and last rows, repeats, and a scattered rest
    std::vector<int32_t> ids(nIds);
    for (uint32_t i = 0; i < nIds; ++i) ids[i] = int32_t((uint64_t(i) * 7919 + 13) % nRows);
    ids[0] = 0;
    if (nIds > 1) ids[1] = int32_t(nRows - 1);
    if (nIds > 3) ids[3] = ids[2];
    std::vector<float> ref(size_t(nIds) * cols);
    cpu::getRows(t, w->bytes.data(), cols, ids.data(), nIds, ref.data());
    MOE_ASSIGN(vk::Buffer ib, h.upload(ids));
    MOE_ASSIGN(vk::Buffer ob, h.buffer(ref.size() * 4));
    const uint64_t wAddr = w->buffer.address();
    Record rec = [&](vk::Commands& cmd) {
        return getRows(dev, cmd, t, wAddr, nRows, cols, ib.address(), nIds, ob.address());
    };
    MOE_TRY(h.run(rec));
    MOE_ASSIGN(auto got, h.download<float>(ob, ref.size()));
    compare(o, ref, got);
    MOE_TRY(h.time(rec, o));
    o.bytes = uint64_t(nIds) * (rowBytes(t, cols) + 4 + uint64_t(cols) * 4);
    o.unit = ThroughputUnit::GBps;
    return o;
}

std::string matShape(MatShape s) {
    return fmt("rows=%u cols=%u tok=%u%s", s.rows, s.cols, s.nTok, s.accumulate ? " y+=" : "");
}

using Scope = ConformanceScope;

}  // namespace

void addWeightCases(std::vector<Case>& out, const CaseContext& ctx) {
    // mul_mat: every weight type; 1 token (matrix-vector) and 100+ tokens; odd row counts; row
    // lengths that are not a multiple of 256 (32-blocks) or of anything (F32/F16/BF16); storing
    // and adding to y. On devices that read weights through texel views, the correctness shapes
    // run through both read paths (variant "<type> address" for device addresses).
    struct MatCase {
        MatShape shape;
        Scope scope;
    };
    uint32_t seed = 1000;
    for (GgmlType t : kWeightTypes) {
        const uint32_t bs = uint32_t(cpu::blockSize(t));
        std::vector<MatCase> shapes = {{{37, 512, 1}, Scope::Quick},           {{19, 256, 101}, Scope::Quick},
                                       {{1, 256, 1}, Scope::Checks},           {{100, 256, 7, true}, Scope::Checks},
                                       {{64, 1024, 130, true}, Scope::Checks}, {{129, 768, 9}, Scope::Checks}};
        if (bs == 32) shapes.push_back({{29, 96, 5, true}, Scope::Quick});
        if (bs == 1)
            shapes.insert(shapes.end(), {{{33, 100, 3, true}, Scope::Quick},
                                         {{17, 4097, 2}, Scope::Quick},
                                         {{5, 1, 1}, Scope::Checks},
                                         {{17, 4097, 101}, Scope::Full}});
        // throughput: a 4096-square decode product and a 128-token batch
        shapes.insert(shapes.end(), {{{4096, 4096, 1}, Scope::Full}, {{1024, 2048, 128}, Scope::Full}});
        for (const MatCase& c : shapes) {
            const uint32_t sd = seed++;
            const MatShape s = c.shape;
            out.push_back({"mul_mat", typeName(t), matShape(s),
                           [t, s, sd, texel = ctx.texel](Harness& h) { return runMulMat(h, t, s, sd, texel); },
                           c.scope});
            if (ctx.texel && c.scope != Scope::Full)
                out.push_back({"mul_mat", std::string(typeName(t)) + " address", matShape(s),
                               [t, s, sd](Harness& h) { return runMulMat(h, t, s, sd, false); }, c.scope});
        }
    }
    // one weight tensor over max(128 MiB, maxStorageBufferRange): its last rows lie beyond the
    // range a storage-buffer binding at byte 0 could reach
    {
        const uint64_t target = std::max<uint64_t>(ctx.caps.maxStorageBufferRange, 128ull << 20) + (8ull << 20);
        const uint32_t cols = 2048;
        const MatShape s{uint32_t(target / (cols * 2)) + 1, cols, 1};
        const std::string mib = std::to_string(uint64_t(s.rows) * rowBytes(GgmlType::F16, cols) >> 20) + " MiB";
        out.push_back({"mul_mat", "F16 " + mib, matShape(s),
                       [s, texel = ctx.texel](Harness& h) { return runMulMat(h, GgmlType::F16, s, 4242, texel); },
                       Scope::Checks});
        if (ctx.texel)
            out.push_back({"mul_mat", "F16 " + mib + " address", matShape(s),
                           [s](Harness& h) { return runMulMat(h, GgmlType::F16, s, 4242, false); }, Scope::Checks});
    }
    // get_rows (embedding lookup): every type, repeated and boundary ids
    for (GgmlType t : kWeightTypes) {
        const uint32_t cols = cpu::blockSize(t) == 1 ? 72 : 512;
        const uint32_t sd = seed++;
        out.push_back({"get_rows", typeName(t), fmt("table=50x%u ids=7", cols),
                       [t, cols, sd](Harness& h) { return runGetRows(h, t, 50, cols, 7, sd); }});
        out.push_back({"get_rows", typeName(t), "table=2048x4096 ids=130",
                       [t, sd](Harness& h) { return runGetRows(h, t, 2048, 4096, 130, sd + 500); }, Scope::Full});
    }
}

}  // namespace moe::selftest::conf
