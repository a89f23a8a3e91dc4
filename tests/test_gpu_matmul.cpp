// Weight-reading kernels on the device vs the CPU reference: products of every weight type,
// embedding rows, and a weight tensor larger than maxStorageBufferRange.
#include <doctest/doctest.h>

#include "cpu/nmse.h"
#include "cpu/ops.h"
#include "gpu_env.h"
#include "runtime/kernels.h"
#include "test_data.h"

using namespace moe;
using namespace moe::test;

namespace {

struct Shape {
    uint32_t rows, cols, nTok;
};

// accumulate: y starts as random values and the product is added to them (y += x · Wᵀ).
double runMulMat(GgmlType t, Shape s, uint32_t seed, bool accumulate = false) {
    auto& d = GpuEnv::dev();
    auto w = makeWeights(t, s.rows, s.cols, seed);
    auto x = randn(size_t(s.nTok) * s.cols, seed + 1);
    std::vector<float> ref(size_t(s.nTok) * s.rows);
    cpu::matMul(t, w.bytes.data(), s.rows, s.cols, x.data(), s.nTok, ref.data());
    auto wb = upload(w.bytes, vk::MemoryTag::Weights);
    // the texel path reads through the view of the weights' block (when the view covers it)
    if (d.texelWeights() && wb.size() <= uint64_t(d.caps().maxTexelBufferElements) * 16)
        CHECK(d.allocator().texelWindow(wb.address()).set != VK_NULL_HANDLE);
    auto xb = upload(x);
    auto y0 = randn(ref.size(), seed + 2);
    auto yb = accumulate ? upload(y0) : deviceBuffer(ref.size() * 4);
    if (accumulate)
        for (size_t i = 0; i < ref.size(); ++i) ref[i] += y0[i];
    vk::Commands cmd(d, 8);
    auto st = rt::mulMat(d, cmd, {t, wb.address(), s.rows, s.cols, xb.address(), 0, yb.address(), 0, s.nTok, accumulate});
    REQUIRE_MESSAGE(st.ok(), st.message());
    cmd.hostBarrier();
    REQUIRE(cmd.submitAndWait().ok());
    if (d.caps().timestamps) {
        const auto names = kernelNames(cmd);
        REQUIRE(!names.empty());
        CAPTURE(names[0]);
        CHECK(startsWith(names[0], "mul_mat_row_") == expectRowKernel(t, s.cols));
    }
    auto got = download<float>(yb, ref.size());
    return cpu::nmse(ref.data(), got.data(), ref.size());
}

}  // namespace

TEST_CASE("mul_mat matches the CPU reference for every weight type and awkward shapes, storing or adding to y") {
    ValidationGuard guard;
    for (GgmlType t : kWeightTypes) {
        const uint32_t bs = uint32_t(cpu::blockSize(t));
        std::vector<Shape> shapes = {{1, 256, 1}, {37, 512, 1}, {100, 256, 7}, {64, 1024, 130}, {129, 768, 9}};
        if (bs == 1) shapes.push_back({33, 100, 3}), shapes.push_back({5, 1, 1}), shapes.push_back({17, 4097, 2});
        for (bool texel : weightReadPaths()) {
            WeightReadPath path(texel);
            uint32_t seed = 11;
            for (auto s : shapes) {
                CAPTURE(texel);
                CAPTURE(typeName(t));
                CAPTURE(s.rows);
                CAPTURE(s.cols);
                CAPTURE(s.nTok);
                const bool accumulate = seed % 2 == 1;  // every other shape adds to y
                CAPTURE(accumulate);
                double e = runMulMat(t, s, seed++, accumulate);
                CHECK(e < 1e-10);
            }
        }
    }
}

TEST_CASE("mul_mat reads a weight tensor larger than maxStorageBufferRange") {
    ValidationGuard guard;
    auto& caps = GpuEnv::dev().caps();
    // F16, > max(128 MiB, maxStorageBufferRange): the last rows lie past the range from byte 0
    const uint64_t target = std::max<uint64_t>(caps.maxStorageBufferRange, 128ull << 20) + (8ull << 20);
    const uint32_t cols = 2048;
    const uint32_t rows = uint32_t(target / (cols * 2)) + 1;
    CAPTURE(rows);
    for (bool texel : weightReadPaths()) {
        WeightReadPath path(texel);
        CAPTURE(texel);
        double e = runMulMat(GgmlType::F16, {rows, cols, 1}, 99);
        CHECK(e < 1e-10);
    }
}

TEST_CASE("get_rows (embedding) matches the CPU reference for every type") {
    ValidationGuard guard;
    auto& d = GpuEnv::dev();
    for (GgmlType t : kWeightTypes) {
        CAPTURE(typeName(t));
        const uint32_t nRows = 50, cols = cpu::blockSize(t) == 1 ? 72 : 512;
        auto w = makeWeights(t, nRows, cols, 3);
        std::vector<int32_t> ids = {0, 49, 7, 7, 13, 1, 48};
        std::vector<float> ref(ids.size() * cols);
        cpu::getRows(t, w.bytes.data(), cols, ids.data(), int64_t(ids.size()), ref.data());
        auto wb = upload(w.bytes);
        auto ib = upload(ids);
        auto ob = deviceBuffer(ref.size() * 4);
        vk::Commands cmd(d);
        REQUIRE(rt::getRows(d, cmd, t, wb.address(), nRows, cols, ib.address(), uint32_t(ids.size()), ob.address()).ok());
        cmd.hostBarrier();
        REQUIRE(cmd.submitAndWait().ok());
        auto got = download<float>(ob, ref.size());
        CHECK(cpu::maxAbsErr(ref.data(), got.data(), ref.size()) == 0.0);
    }
}

TEST_CASE("mul_mat rejects a row length that is not a multiple of the block size") {
    auto& d = GpuEnv::dev();
    vk::Commands cmd(d);
    auto st = rt::mulMat(d, cmd, {GgmlType::Q4_K, 0, 4, 100});
    REQUIRE(!st.ok());
    CHECK(st.message().find("not a multiple of the Q4_K block size 256") != std::string::npos);
}
