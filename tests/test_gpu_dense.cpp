// Dense ops on the Vulkan device against the CPU reference (engine/cpu/ops.h): RMSNorm, RoPE,
// softmax, attention over a KV cache, elementwise ops. Awkward shapes, both reduction variants,
// NMSE per op; zero validation messages. MOESCOPE_TEST_VERBOSE=1 prints one line per case.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <limits>
#include <random>
#include <string>

#include "cpu/nmse.h"
#include "cpu/ops.h"
#include "gpu_env.h"
#include "runtime/kernels_dense.h"

using namespace moe;
using namespace moe::test;

namespace {

// Tolerances (NMSE). Exact ops must match bit for bit; the others differ from the reference by
// float accumulation order (it accumulates in double) and by the device's exp/sqrt precision.
constexpr double kTolExact = 0.0;
constexpr double kTolNorm = 1e-10;
constexpr double kTolRope = 1e-10;
constexpr double kTolSoftmax = 1e-9;
constexpr double kTolAttention = 1e-9;
constexpr double kTolSwiglu = 1e-11;
constexpr double kTolFma = 1e-13;  // a + s*b: a device may fuse it (one rounding instead of two)

std::vector<float> randn(size_t n, uint32_t seed, float sigma = 1.0f, float mean = 0.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(mean, sigma);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

// Checks got against ref and, when MOESCOPE_TEST_VERBOSE is set, prints the measurement.
void expectClose(const std::string& name, const std::vector<float>& ref, const std::vector<float>& got, double tol) {
    REQUIRE(ref.size() == got.size());
    const double e = cpu::nmse(ref.data(), got.data(), ref.size());
    const double m = cpu::maxAbsErr(ref.data(), got.data(), ref.size());
    if (std::getenv("MOESCOPE_TEST_VERBOSE"))
        std::printf("%-72s nmse %9.3e  max|err| %9.3e\n", name.c_str(), e, m);
    INFO(name, ": nmse ", e, ", max abs err ", m, ", tolerance ", tol);
    CHECK(e <= tol);
}

// Records through `record` into a fresh command buffer, submits and waits.
void run(const std::function<Status(vk::Commands&)>& record) {
    vk::Commands cmd(GpuEnv::dev());
    Status s = record(cmd);
    REQUIRE_MESSAGE(s.ok(), s.message());
    cmd.hostBarrier();
    Status w = cmd.submitAndWait();
    REQUIRE_MESSAGE(w.ok(), w.message());
}

// Shared memory always; subgroup arithmetic when the device has it.
std::vector<std::pair<rt::Reduce, const char*>> reduceVariants() {
    std::vector<std::pair<rt::Reduce, const char*>> v{{rt::Reduce::Shared, "shared"}};
    const auto ops = GpuEnv::dev().caps().subgroupOps;
    if ((ops & VK_SUBGROUP_FEATURE_BASIC_BIT) && (ops & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT))
        v.push_back({rt::Reduce::Subgroup, "subgroup"});
    return v;
}

std::string fmt(const char* f, auto... args) {
    char buf[256];
    std::snprintf(buf, sizeof buf, f, args...);
    return buf;
}

}  // namespace

TEST_CASE("rms_norm vs CPU: shared/subgroup reduction; n 1..4097; 1, 130, 70000 rows; weight, in place, strided") {
    ValidationGuard guard;
    struct Shape {
        uint32_t nTok, n;
        bool weight, inPlace;
        uint32_t pad;  // extra floats per row (strided rows)
    };
    const Shape shapes[] = {{1, 1, true, false, 0},   {1, 7, false, false, 0},   {3, 100, true, true, 0},
                            {1, 4096, true, false, 0}, {130, 4097, true, false, 0}, {130, 64, false, true, 0},
                            {9, 100, true, false, 3},  {70000, 3, true, false, 0}};
    for (auto [reduce, rname] : reduceVariants()) {
        for (const Shape& s : shapes) {
            const std::string name = fmt("rms_norm/%s nTok=%u n=%u%s%s%s", rname, s.nTok, s.n,
                                         s.weight ? " weight" : "", s.inPlace ? " in-place" : "",
                                         s.pad ? " strided" : "");
            SUBCASE(name.c_str()) {
                const uint32_t stride = s.n + s.pad;
                const float eps = 1e-5f;
                auto x = randn(size_t(s.nTok) * stride, s.n * 31 + s.nTok, 2.0f, 0.3f);
                auto w = randn(s.n, 7, 1.0f, 1.0f);
                std::vector<float> ref(x.size(), 0.0f);
                for (uint32_t t = 0; t < s.nTok; ++t)
                    cpu::rmsNorm(&x[size_t(t) * stride], s.weight ? w.data() : nullptr, 1, s.n, eps,
                                 &ref[size_t(t) * stride]);
                auto xb = upload(x);
                auto wb = upload(w);
                auto yb = s.inPlace ? vk::Buffer() : upload(std::vector<float>(x.size(), 0.0f));
                const uint64_t y = s.inPlace ? xb.address() : yb.address();
                run([&](vk::Commands& cmd) {
                    return rt::rmsNorm(GpuEnv::dev(), cmd, xb.address(), s.weight ? wb.address() : 0, y, s.nTok,
                                       s.n, eps, stride, stride, reduce);
                });
                auto got = download<float>(s.inPlace ? xb : yb, x.size());
                if (s.pad)  // compare the rows only; padding is not written
                    for (uint32_t t = 0; t < s.nTok; ++t)
                        for (uint32_t i = s.n; i < stride; ++i) got[size_t(t) * stride + i] = 0.0f;
                expectClose(name, ref, got, kTolNorm);
            }
        }
    }
}

TEST_CASE("rope vs CPU: normal and NeoX; headDim 2/64/80/128, partial rotation; positions to 4096; fused qkv") {
    ValidationGuard guard;
    struct Shape {
        uint32_t nTok, nHeads, headDim, nRot;
        float base;
        uint32_t extraHeads;  // heads after these in each token row (rotating q or k inside fused qkv)
        uint32_t headOffset;  // first rotated head within the row
    };
    const Shape shapes[] = {{1, 1, 2, 2, 10000.0f, 0, 0},      {1, 8, 64, 64, 10000.0f, 0, 0},
                            {7, 4, 80, 80, 10000.0f, 0, 0},     {130, 2, 128, 64, 1000000.0f, 0, 0},
                            {33, 8, 128, 128, 500000.0f, 0, 0}, {17, 2, 64, 32, 10000.0f, 4, 8}};
    for (bool neox : {false, true}) {
        for (const Shape& s : shapes) {
            const std::string name =
                fmt("rope/%s nTok=%u nHeads=%u headDim=%u nRot=%u base=%g%s", neox ? "neox" : "normal", s.nTok,
                    s.nHeads, s.headDim, s.nRot, double(s.base), s.extraHeads ? " in fused qkv" : "");
            SUBCASE(name.c_str()) {
                const uint32_t rowHeads = s.headOffset + s.nHeads + s.extraHeads;
                const uint32_t stride = rowHeads * s.headDim;
                auto x = randn(size_t(s.nTok) * stride, s.nTok * 13 + s.headDim);
                // positions: 0, 4096 and random in between (not sorted: any position per token)
                std::mt19937 rng(s.nTok);
                std::vector<int32_t> pos(s.nTok);
                for (uint32_t t = 0; t < s.nTok; ++t) pos[t] = int32_t(rng() % 4097);
                pos[0] = s.nTok > 1 ? 4096 : 4095;
                if (s.nTok > 2) pos[1] = 0;
                std::vector<float> ref = x;
                for (uint32_t t = 0; t < s.nTok; ++t)
                    cpu::rope(&ref[size_t(t) * stride + s.headOffset * s.headDim], 1, s.nHeads, s.headDim, &pos[t],
                              s.nRot, s.base, neox);
                auto xb = upload(x);
                auto pb = upload(pos);
                run([&](vk::Commands& cmd) {
                    return rt::rope(GpuEnv::dev(), cmd, xb.address() + s.headOffset * s.headDim * 4ull, s.nTok,
                                    s.nHeads, s.headDim, pb.address(), s.nRot, s.base, neox, stride);
                });
                expectClose(name, ref, download<float>(xb, x.size()), kTolRope);
            }
        }
    }
}

TEST_CASE("rope of q and k in one dispatch vs CPU: GQA/MHA, normal and NeoX, k inside a wider row") {
    ValidationGuard guard;
    struct Shape {
        uint32_t nTok, nHeadQ, nHeadK, headDim, nRot, kStride;  // kStride 0: nHeadK * headDim
    };
    const Shape shapes[] = {{1, 8, 2, 64, 64, 0}, {37, 4, 4, 80, 80, 0}, {9, 16, 1, 128, 64, 3 * 128}};
    for (bool neox : {false, true}) {
        for (const Shape& s : shapes) {
            const std::string name = fmt("rope q+k/%s nTok=%u heads=%u/%u headDim=%u nRot=%u kStride=%u",
                                         neox ? "neox" : "normal", s.nTok, s.nHeadQ, s.nHeadK, s.headDim, s.nRot,
                                         s.kStride);
            SUBCASE(name.c_str()) {
                const uint32_t qStride = s.nHeadQ * s.headDim, kStride = s.kStride ? s.kStride : s.nHeadK * s.headDim;
                auto q = randn(size_t(s.nTok) * qStride, s.nTok + 1), k = randn(size_t(s.nTok) * kStride, s.nTok + 2);
                std::vector<int32_t> pos(s.nTok);
                for (uint32_t t = 0; t < s.nTok; ++t) pos[t] = int32_t(t * 97 % 2049);
                std::vector<float> qRef = q, kRef = k;
                for (uint32_t t = 0; t < s.nTok; ++t) {
                    cpu::rope(&qRef[size_t(t) * qStride], 1, s.nHeadQ, s.headDim, &pos[t], s.nRot, 10000.0f, neox);
                    cpu::rope(&kRef[size_t(t) * kStride], 1, s.nHeadK, s.headDim, &pos[t], s.nRot, 10000.0f, neox);
                }
                auto qb = upload(q), kb = upload(k), pb = upload(pos);
                auto& dev = GpuEnv::dev();
                vk::Commands cmd(dev);
                Status st = rt::rope(dev, cmd, qb.address(), s.nTok, s.nHeadQ, s.headDim, pb.address(), s.nRot,
                                     10000.0f, neox, 0, rt::RopeSecond{kb.address(), s.nHeadK, s.kStride});
                REQUIRE_MESSAGE(st.ok(), st.message());
                CHECK(cmd.dispatchCount() == 1);
                cmd.hostBarrier();
                REQUIRE(cmd.submitAndWait().ok());
                expectClose(name + " q", qRef, download<float>(qb, q.size()), kTolRope);
                expectClose(name + " k", kRef, download<float>(kb, k.size()), kTolRope);
            }
        }
    }
    // a second tensor without heads, or a stride that cannot hold them, is refused
    auto& dev = GpuEnv::dev();
    vk::Commands cmd(dev);
    auto qb = deviceBuffer(64 * 4), pb = deviceBuffer(4);
    Status st = rt::rope(dev, cmd, qb.address(), 1, 1, 64, pb.address(), 64, 10000.0f, false, 0,
                         rt::RopeSecond{qb.address(), 2, 64});
    REQUIRE(!st.ok());
    CHECK(st.message() == "rope: the second tensor needs heads and a token stride that holds them");
}

TEST_CASE("softmax vs CPU: shared/subgroup reduction; n 1..32000; 1 to 70000 rows") {
    ValidationGuard guard;
    struct Shape {
        uint32_t rows, n;
        float sigma;
    };
    const Shape shapes[] = {{1, 1, 1.0f}, {1, 7, 3.0f}, {5, 100, 10.0f}, {64, 4097, 2.0f}, {3, 32000, 5.0f},
                            {70000, 3, 1.0f}};
    for (auto [reduce, rname] : reduceVariants()) {
        for (const Shape& s : shapes) {
            const std::string name = fmt("softmax/%s rows=%u n=%u sigma=%g", rname, s.rows, s.n, double(s.sigma));
            SUBCASE(name.c_str()) {
                auto x = randn(size_t(s.rows) * s.n, s.n + s.rows, s.sigma);
                std::vector<float> ref = x;
                cpu::softmax(ref.data(), s.rows, s.n);
                auto xb = upload(x);
                run([&](vk::Commands& cmd) { return rt::softmax(GpuEnv::dev(), cmd, xb.address(), s.rows, s.n, reduce); });
                expectClose(name, ref, download<float>(xb, x.size()), kTolSoftmax);
            }
        }
    }
}

namespace {

struct AttnShape {
    uint32_t nTok, nHead, nHeadKv, headDim, pos0;
    uint32_t splits;  // 0: automatic with scratch; 1: no scratch; > 1: forced
    float kqScale;
    bool fusedQ;      // q rows inside a qkv buffer (qStride = (nHead + 2 nHeadKv) headDim)
};

std::string attnName(const AttnShape& s, const char* rname) {
    return fmt("attention/%s nTok=%u heads=%u/%u headDim=%u pos0=%u splits=%s%s%s", rname, s.nTok, s.nHead,
               s.nHeadKv, s.headDim, s.pos0, s.splits == 0 ? "auto" : std::to_string(s.splits).c_str(),
               s.kqScale > 0 ? " kqScale=0.05" : "", s.fusedQ ? " fused-q" : "");
}

void checkAttention(const AttnShape& s, rt::Reduce reduce, const std::string& name) {
    const uint32_t nCtx = s.pos0 + s.nTok + 5;  // rows past the last position hold NaN: never read
    const uint32_t kvRow = s.nHeadKv * s.headDim;
    const uint32_t qStride = s.fusedQ ? (s.nHead + 2 * s.nHeadKv) * s.headDim : s.nHead * s.headDim;
    auto q = randn(size_t(s.nTok) * qStride, s.nTok * 3 + s.headDim);
    auto k = randn(size_t(nCtx) * kvRow, s.pos0 + 11, 1.5f);
    auto v = randn(size_t(nCtx) * kvRow, s.pos0 + 12);
    for (size_t i = size_t(s.pos0 + s.nTok) * kvRow; i < k.size(); ++i)
        k[i] = v[i] = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> qc(size_t(s.nTok) * s.nHead * s.headDim);  // contiguous q for the reference
    for (uint32_t t = 0; t < s.nTok; ++t)
        std::copy_n(&q[size_t(t) * qStride], s.nHead * s.headDim, &qc[size_t(t) * s.nHead * s.headDim]);
    std::vector<float> ref(qc.size());
    cpu::attention(qc.data(), k.data(), v.data(), s.nTok, s.nHead, s.nHeadKv, s.headDim, s.pos0, ref.data(),
                   s.kqScale);

    auto qb = upload(q), kb = upload(k), vb = upload(v);
    auto ob = deviceBuffer(ref.size() * 4);
    auto& dev = GpuEnv::dev();
    const uint64_t scratchBytes = rt::attentionScratchBytes(s.headDim, s.nTok, s.nHead, s.splits);
    auto sb = deviceBuffer(scratchBytes);
    rt::AttentionArgs a;
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
    if (s.splits != 1) {
        a.scratch = sb.address();
        a.scratchBytes = scratchBytes;
        a.splits = s.splits;
    }
    vk::Commands cmd(dev, 4);
    Status st = rt::attention(dev, cmd, a);
    REQUIRE_MESSAGE(st.ok(), st.message());
    // Auto on devices that read through texel views: batches of heads with a size that is a
    // multiple of 4 take the token-per-invocation kernel, in one dispatch
    const bool rows = reduce == rt::Reduce::Auto && dev.texelWeights() && s.nTok > 1 && s.headDim % 4 == 0;
    // the automatic plan splits decode over a long context and nothing else
    const uint32_t expected =
        rows ? 1 : s.splits ? (s.splits > 1 ? 2 : 1) : (s.nTok * s.nHead < 256 && s.pos0 + s.nTok >= 512 ? 2 : 1);
    CHECK(cmd.dispatchCount() == expected);
    cmd.hostBarrier();
    REQUIRE(cmd.submitAndWait().ok());
    if (dev.caps().timestamps) {
        const auto names = kernelNames(cmd);
        REQUIRE(!names.empty());
        CAPTURE(names[0]);
        CHECK((names[0] == "attention_row") == rows);
    }
    expectClose(name, ref, download<float>(ob, ref.size()), kTolAttention);
}

}  // namespace

TEST_CASE("attention vs CPU: GQA/MQA/MHA; headDim 1..256; 1 to 130 tokens; pos0 to 1200; split keys; each kernel") {
    ValidationGuard guard;
    const AttnShape shapes[] = {
        {1, 8, 2, 64, 0, 0, 0.0f, false},       // decode, first token: one key
        {1, 8, 2, 128, 1200, 0, 0.0f, false},   // decode, long context: automatic split
        {1, 8, 2, 128, 1200, 1, 0.0f, false},   // same without scratch: one workgroup per head
        {1, 4, 1, 256, 700, 0, 0.0f, true},     // MQA, largest head, fused q
        {130, 8, 2, 80, 0, 0, 0.0f, false},     // prefill from empty cache
        {100, 4, 4, 128, 900, 3, 0.0f, false},  // batch after 900 cached positions, forced 3 splits
        {130, 2, 1, 64, 0, 4, 0.0f, false},     // forced splits: early tokens leave later splits empty
        {5, 6, 3, 36, 37, 0, 0.05f, true},      // small odd shapes, explicit scale, fused q
        {2, 2, 1, 1, 3, 0, 0.0f, false},        // headDim 1
    };
    auto variants = reduceVariants();
    variants.push_back({rt::Reduce::Auto, "auto"});  // the runtime's choice (attention_row.comp on CPU-type devices)
    for (auto [reduce, rname] : variants) {
        for (const AttnShape& s : shapes) {
            const std::string name = attnName(s, rname);
            SUBCASE(name.c_str()) { checkAttention(s, reduce, name); }
        }
    }
}

TEST_CASE("eltwise vs CPU: add, mul, scale, swiglu, add-scaled, mulRows, strided copy; n 1..100000") {
    ValidationGuard guard;
    auto& dev = GpuEnv::dev();
    for (uint32_t n : {1u, 7u, 100u, 4097u, 100000u}) {
        const auto a = randn(n, n), b = randn(n, n + 1, 2.0f);
        auto ab = upload(a), bb = upload(b);
        auto ob = deviceBuffer(n * 4ull);
        auto check = [&](const char* op, const std::function<Status(vk::Commands&)>& rec,
                         const std::function<void(float*)>& cpuRef, double tol) {
            const std::string name = fmt("eltwise/%s n=%u", op, n);
            SUBCASE(name.c_str()) {
                run(rec);
                std::vector<float> ref(n);
                cpuRef(ref.data());
                expectClose(name, ref, download<float>(ob, n), tol);
            }
        };
        check("add", [&](vk::Commands& c) { return rt::add(dev, c, ab.address(), bb.address(), ob.address(), n); },
              [&](float* r) { cpu::add(a.data(), b.data(), r, n); }, kTolExact);
        check("mul", [&](vk::Commands& c) { return rt::mul(dev, c, ab.address(), bb.address(), ob.address(), n); },
              [&](float* r) { cpu::mul(a.data(), b.data(), r, n); }, kTolExact);
        check("scale", [&](vk::Commands& c) { return rt::scale(dev, c, ab.address(), -0.37f, ob.address(), n); },
              [&](float* r) { cpu::scale(a.data(), -0.37f, r, n); }, kTolExact);
        check("swiglu", [&](vk::Commands& c) { return rt::swiglu(dev, c, ab.address(), bb.address(), ob.address(), n); },
              [&](float* r) { cpu::swiglu(a.data(), b.data(), r, n); }, kTolSwiglu);
        check("add_scaled (y += s*x)",
              [&](vk::Commands& c) {
                  c.copy(ab, 0, ob, 0, n * 4ull);
                  c.barrier();
                  return rt::addScaled(dev, c, ob.address(), bb.address(), 0.25f, n);
              },
              [&](float* r) { for (uint32_t i = 0; i < n; ++i) r[i] = a[i] + 0.25f * b[i]; }, kTolFma);
    }
}

TEST_CASE("eltwise vs CPU: mulRows broadcast and strided row copy (KV-cache write from fused qkv)") {
    ValidationGuard guard;
    auto& dev = GpuEnv::dev();
    SUBCASE("eltwise/mulRows rows=130 n=4097") {
        const uint32_t rows = 130, n = 4097;
        auto a = randn(size_t(rows) * n, 1), b = randn(n, 2);
        std::vector<float> ref(a.size());
        cpu::mulRows(a.data(), b.data(), ref.data(), rows, n);
        auto ab = upload(a), bb = upload(b);
        run([&](vk::Commands& c) { return rt::mulRows(dev, c, ab.address(), bb.address(), ab.address(), rows, n); });
        expectClose("eltwise/mulRows rows=130 n=4097 in place", ref, download<float>(ab, a.size()), kTolExact);
    }
    SUBCASE("eltwise/copy rows=7 k rows of fused qkv into a cache at pos0=5") {
        const uint32_t nTok = 7, nHead = 8, nKv = 2, hd = 64, pos0 = 5, nCtx = 16;
        const uint32_t qkvStride = (nHead + 2 * nKv) * hd, kvRow = nKv * hd;
        auto qkv = randn(size_t(nTok) * qkvStride, 3);
        auto cache = randn(size_t(nCtx) * kvRow, 4);
        std::vector<float> ref = cache;
        for (uint32_t t = 0; t < nTok; ++t)
            std::copy_n(&qkv[size_t(t) * qkvStride + nHead * hd], kvRow, &ref[size_t(pos0 + t) * kvRow]);
        auto qb = upload(qkv), cb = upload(cache);
        run([&](vk::Commands& c) {
            return rt::copyRows(dev, c, qb.address() + nHead * hd * 4ull, qkvStride, cb.address() + pos0 * kvRow * 4ull,
                                kvRow, nTok, kvRow);
        });
        expectClose("eltwise/copy k rows of fused qkv -> cache", ref, download<float>(cb, cache.size()), kTolExact);
    }
}

TEST_CASE("dense ops reject bad arguments with a readable error") {
    ValidationGuard guard;
    auto& dev = GpuEnv::dev();
    vk::Commands cmd(dev);
    auto r = rt::rope(dev, cmd, 0, 1, 1, 64, 0, 63, 10000.0f, false);
    REQUIRE(!r.ok());
    CHECK(r.message().find("even") != std::string::npos);
    rt::AttentionArgs a;
    a.nTok = 1;
    a.nHead = 8;
    a.nHeadKv = 3;
    a.headDim = 64;
    r = rt::attention(dev, cmd, a);
    REQUIRE(!r.ok());
    CHECK(r.message().find("kv heads") != std::string::npos);
    a.nHeadKv = 2;
    a.headDim = 512;
    r = rt::attention(dev, cmd, a);
    REQUIRE(!r.ok());
    CHECK(r.message().find("head size 512") != std::string::npos);
    a.headDim = 64;
    a.pos0 = 4000;
    a.scratch = 1;
    a.scratchBytes = 16;
    r = rt::attention(dev, cmd, a);
    REQUIRE(!r.ok());
    CHECK(r.message().find("too small") != std::string::npos);
    r = rt::softmax(dev, cmd, 0, 0, 10);
    CHECK(!r.ok());
    CHECK(cmd.dispatchCount() == 0);
}
