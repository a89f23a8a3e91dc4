// Conformance cases of the weight-reading kernels: mul_mat (every weight type, 1 and 100+
// tokens, odd sizes, a tensor larger than maxStorageBufferRange) and get_rows (embedding).
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
};

Result<Outcome> runMulMat(Harness& h, GgmlType t, MatShape s, uint32_t seed) {
    auto& dev = h.dev();
    Outcome o;
    o.tolerance = kTolMatMul;
    MOE_ASSIGN(const WeightSet* w, h.weights(t, s.rows, s.cols, seed));
    const auto x = randn(size_t(s.nTok) * s.cols, seed + 1);
    std::vector<float> ref(size_t(s.nTok) * s.rows);
    cpu::matMul(t, w->bytes.data(), s.rows, s.cols, x.data(), s.nTok, ref.data());
    MOE_ASSIGN(vk::Buffer xb, h.upload(x));
    MOE_ASSIGN(vk::Buffer yb, h.buffer(ref.size() * 4));
    const uint64_t wAddr = w->buffer.address();
    Record rec = [&](vk::Commands& cmd) {
        return mulMat(dev, cmd, {t, wAddr, s.rows, s.cols, xb.address(), 0, yb.address(), 0, s.nTok});
    };
    MOE_TRY(h.run(rec));
    MOE_ASSIGN(auto got, h.download<float>(yb, ref.size()));
    compare(o, ref, got);
    MOE_TRY(h.time(rec, o));
    o.bytes = w->bytes.size() + (x.size() + ref.size()) * 4;
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

std::string matShape(MatShape s) { return fmt("rows=%u cols=%u tok=%u", s.rows, s.cols, s.nTok); }

}  // namespace

void addWeightCases(std::vector<Case>& out, const vk::DeviceCaps& caps, bool quick) {
    // mul_mat: every weight type; 1 token (matrix-vector) and 100+ tokens; odd row counts;
    // row lengths that are not a multiple of 256 (32-blocks) or of anything (F32/F16/BF16)
    uint32_t seed = 1000;
    for (GgmlType t : kWeightTypes) {
        const uint32_t bs = uint32_t(cpu::blockSize(t));
        std::vector<MatShape> shapes;
        if (quick) {
            shapes = {{37, 512, 1}, {19, 256, 101}};
        } else {
            shapes = {{37, 512, 1}, {129, 768, 9}, {64, 1024, 130}, {4096, 4096, 1}, {1024, 2048, 128}};
        }
        if (bs == 32) shapes.push_back({29, 96, 5});
        if (bs == 1) {
            shapes.push_back({33, 100, 3});
            shapes.push_back({17, 4097, quick ? 2u : 101u});
        }
        for (MatShape s : shapes) {
            const uint32_t sd = seed++;
            out.push_back({"mul_mat", typeName(t), matShape(s),
                           [t, s, sd](Harness& h) { return runMulMat(h, t, s, sd); }});
        }
    }
    // one weight tensor over max(128 MiB, maxStorageBufferRange): its last rows lie beyond the
    // range a storage-buffer binding at byte 0 could reach (tests/test_gpu_matmul.cpp covers it
    // in the quick run)
    if (!quick) {
        const uint64_t target = std::max<uint64_t>(caps.maxStorageBufferRange, 128ull << 20) + (8ull << 20);
        const uint32_t cols = 2048;
        const MatShape s{uint32_t(target / (cols * 2)) + 1, cols, 1};
        const uint64_t mib = uint64_t(s.rows) * rowBytes(GgmlType::F16, cols) >> 20;
        out.push_back({"mul_mat", "F16 " + std::to_string(mib) + " MiB", matShape(s),
                       [s](Harness& h) { return runMulMat(h, GgmlType::F16, s, 4242); }});
    }
    // get_rows (embedding lookup): every type, repeated and boundary ids
    for (GgmlType t : kWeightTypes) {
        const uint32_t cols = cpu::blockSize(t) == 1 ? 72 : 512;
        const uint32_t sd = seed++;
        out.push_back({"get_rows", typeName(t), fmt("table=50x%u ids=7", cols),
                       [t, cols, sd](Harness& h) { return runGetRows(h, t, 50, cols, 7, sd); }});
        if (!quick) {
            out.push_back({"get_rows", typeName(t), "table=2048x4096 ids=130",
                           [t, sd](Harness& h) { return runGetRows(h, t, 2048, 4096, 130, sd + 500); }});
        }
    }
}

}  // namespace moe::selftest::conf
