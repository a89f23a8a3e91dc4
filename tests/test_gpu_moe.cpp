// MoE kernels on the device vs the CPU reference: router policies, expert grouping,
// expert-indexed products (direct and grouped) and the weighted combine.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "cpu/moe.h"
#include "cpu/nmse.h"
#include "cpu/router.h"
#include "gpu_env.h"
#include "runtime/kernels.h"
#include "runtime/kernels_moe.h"
#include "test_data.h"

using namespace moe;
using namespace moe::test;

namespace {

struct RouterCase {
    const char* name;
    cpu::RouterParams params;
    uint32_t nExpert, nTok;
};

void checkRouter(const RouterCase& rc, uint32_t seed) {
    auto& d = GpuEnv::dev();
    const auto& P = rc.params;
    const uint32_t nE = rc.nExpert, nTok = rc.nTok, kMax = uint32_t(P.kMax);
    auto logits = randn(size_t(nTok) * nE, seed, 2.0f);
    // some exact ties to exercise the tie rule
    if (nE >= 4) {
        for (uint32_t t = 0; t < nTok; t += 3) logits[size_t(t) * nE + 1] = logits[size_t(t) * nE + 3];
    }
    std::vector<int32_t> ids(size_t(nTok) * kMax), counts(nTok);
    std::vector<float> w(size_t(nTok) * kMax), probs(size_t(nTok) * nE);
    cpu::route(P, logits.data(), nTok, nE, ids.data(), w.data(), counts.data(), probs.data());

    auto lb = upload(logits);
    auto ib = deviceBuffer(ids.size() * 4), wb = deviceBuffer(w.size() * 4), cb = deviceBuffer(counts.size() * 4),
         pb = deviceBuffer(probs.size() * 4);
    std::vector<vk::Buffer> keep;
    rt::GpuRouterParams g;
    g.sigmoid = P.gating == cpu::Gating::Sigmoid;
    g.topP = P.selection == cpu::Selection::TopP;
    g.k = uint32_t(P.k);
    g.kMax = kMax;
    g.p = P.topP;
    g.normalize = P.normalize;
    g.routedScale = P.routedScale;
    if (!P.selectionBias.empty()) keep.push_back(upload(P.selectionBias)), g.bias = keep.back().address();
    if (!P.logitScale.empty()) keep.push_back(upload(P.logitScale)), g.logitScale = keep.back().address();
    if (!P.mask.empty()) {
        std::vector<int32_t> m(P.mask.begin(), P.mask.end());
        keep.push_back(upload(m));
        g.mask = keep.back().address();
    }
    if (!P.forced.empty()) keep.push_back(upload(P.forced)), g.forced = keep.back().address(), g.nForced = uint32_t(P.forced.size());
    vk::Commands cmd(d);
    auto st = rt::route(d, cmd, g, lb.address(), nTok, nE, ib.address(), wb.address(), cb.address(), pb.address());
    REQUIRE_MESSAGE(st.ok(), st.message());
    cmd.hostBarrier();
    REQUIRE(cmd.submitAndWait().ok());
    auto gids = download<int32_t>(ib, ids.size());
    auto gw = download<float>(wb, w.size());
    auto gc = download<int32_t>(cb, counts.size());
    auto gp = download<float>(pb, probs.size());
    CAPTURE(rc.name);
    CHECK(gids == ids);
    CHECK(gc == counts);
    CHECK(cpu::maxAbsErr(w.data(), gw.data(), w.size()) < 1e-5);
    CHECK(cpu::maxAbsErr(probs.data(), gp.data(), probs.size()) < 1e-5);
}

}  // namespace

TEST_CASE("router: every gating, policy and intervention selects exactly as the CPU reference") {
    ValidationGuard guard;
    std::vector<RouterCase> cases;
    auto softmax = [](int k, int kMax, bool norm) {
        cpu::RouterParams p;
        p.k = k;
        p.kMax = kMax;
        p.normalize = norm;
        return p;
    };
    cases.push_back({"8 experts top-2 renorm", softmax(2, 2, true), 8, 130});
    cases.push_back({"60 experts top-4 no renorm (qwen2moe)", softmax(4, 4, false), 60, 37});
    cases.push_back({"64 experts top-8", softmax(8, 8, true), 64, 101});
    cases.push_back({"128 experts top-8", softmax(8, 8, false), 128, 100});
    cases.push_back({"256 experts top-16", softmax(16, 16, true), 256, 20});
    cases.push_back({"1 expert top-1", softmax(1, 1, true), 1, 5});
    {
        cpu::RouterParams p = softmax(8, 8, true);
        p.gating = cpu::Gating::Sigmoid;
        p.selectionBias = randn(256, 5, 0.1f);
        p.routedScale = 2.5f;
        cases.push_back({"sigmoid + selection bias, 256 experts top-8 (DeepSeek-V3)", p, 256, 17});
    }
    {
        cpu::RouterParams p = softmax(0, 8, true);
        p.selection = cpu::Selection::TopP;
        p.topP = 0.6f;
        cases.push_back({"top-p 0.6 kmax 8 over 64", p, 64, 120});
        p.topP = 0.95f;
        p.kMax = 16;
        cases.push_back({"top-p 0.95 kmax 16 over 16", p, 16, 50});
    }
    {
        cpu::RouterParams p = softmax(2, 4, true);
        p.mask.assign(16, 0);
        p.mask[0] = p.mask[5] = p.mask[6] = 1;
        p.forced = {7, 7, 5, 2};
        p.logitScale = std::vector<float>(16, 1.0f);
        p.logitScale[3] = 3.0f;
        p.logitScale[9] = 0.0f;
        cases.push_back({"mask + force + logit scale", p, 16, 64});
    }
    {
        cpu::RouterParams p = softmax(3, 3, true);
        p.mask.assign(8, 1);
        p.mask[2] = p.mask[4] = 0;  // fewer unmasked experts than k
        cases.push_back({"mask leaves fewer than k", p, 8, 9});
    }
    uint32_t seed = 100;
    for (auto& c : cases) checkRouter(c, seed++);
}

TEST_CASE("router rejects unsupported sizes with a clear error") {
    auto& d = GpuEnv::dev();
    vk::Commands cmd(d);
    rt::GpuRouterParams g;
    auto st = rt::route(d, cmd, g, 0, 1, 5000, 0, 0, 0, 0);
    REQUIRE(!st.ok());
    CHECK(st.message().find("5000 experts") != std::string::npos);
}

namespace {

// Expert products through both GPU paths vs cpu::expertMatMul, then grouping and combine.
void checkExpertProducts(GgmlType t, uint32_t nExpert, uint32_t k, uint32_t nTok, uint32_t rows, uint32_t cols,
                         bool xPerSlot, uint32_t seed) {
    auto& d = GpuEnv::dev();
    CAPTURE(typeName(t));
    CAPTURE(nExpert);
    CAPTURE(k);
    CAPTURE(nTok);
    CAPTURE(xPerSlot);
    auto w = makeWeights(t, int64_t(nExpert) * rows, cols, seed);
    const uint64_t expertStride = uint64_t(rows) * rowBytes(t, cols);
    const uint32_t xSlots = xPerSlot ? k : 1;
    auto x = randn(size_t(nTok) * xSlots * cols, seed + 1);
    // random distinct experts per token, one empty slot now and then
    std::mt19937 rng(seed);
    std::vector<int32_t> ids(size_t(nTok) * k);
    std::vector<int32_t> perm(nExpert);
    std::iota(perm.begin(), perm.end(), 0);
    for (uint32_t tk = 0; tk < nTok; ++tk) {
        std::shuffle(perm.begin(), perm.end(), rng);
        for (uint32_t j = 0; j < k; ++j) ids[size_t(tk) * k + j] = perm[j];
        if (k > 1 && tk % 7 == 3) ids[size_t(tk) * k + k - 1] = -1;
    }
    std::vector<float> ref(size_t(nTok) * k * rows);
    cpu::expertMatMul(t, w.bytes.data(), rows, cols, x.data(), xSlots, ids.data(), nTok, k, ref.data());

    auto wb = upload(w.bytes, vk::MemoryTag::Weights);
    auto xb = upload(x);
    auto ib = upload(ids);
    auto y1 = deviceBuffer(ref.size() * 4);
    auto y2 = deviceBuffer(ref.size() * 4);
    auto gb = deviceBuffer(rt::moeGroupBytes(nTok, k, nExpert));
    vk::Commands cmd(d, 8);
    rt::MoeMatMulArgs a{t, wb.address(), expertStride, rows, cols, xb.address(), xPerSlot, ib.address(), gb.address(),
                        nExpert, k, y1.address(), nTok};
    REQUIRE(rt::mulMatMoeDirect(d, cmd, a).ok());
    REQUIRE(rt::moeGroup(d, cmd, ib.address(), nTok, k, nExpert, gb.address()).ok());
    cmd.barrier();
    // grouped output rows of empty slots are never written: clear them first
    cmd.fill(y2, 0, ref.size() * 4, 0);
    cmd.barrier();
    a.y = y2.address();
    REQUIRE(rt::mulMatMoeGrouped(d, cmd, a).ok());
    cmd.hostBarrier();
    REQUIRE(cmd.submitAndWait().ok());
    if (d.caps().timestamps) {
        const bool rows = expectRowKernel(t, cols);
        const auto names = kernelNames(cmd);
        REQUIRE(names.size() == 3);
        CAPTURE(names[0]);
        CAPTURE(names[2]);
        CHECK(startsWith(names[0], "mul_mat_moe_row_") == rows);
        CHECK(startsWith(names[2], "mul_mat_moe_grouped_row_") == rows);
    }
    auto got1 = download<float>(y1, ref.size());
    auto got2 = download<float>(y2, ref.size());
    CHECK(cpu::nmse(ref.data(), got1.data(), ref.size()) < 1e-10);
    CHECK(cpu::nmse(ref.data(), got2.data(), ref.size()) < 1e-10);

    // grouping equals cpu::groupByExpert
    auto groups = download<int32_t>(gb, rt::moeGroupBytes(nTok, k, nExpert) / 4);
    auto cg = cpu::groupByExpert(ids.data(), nTok, k, nExpert);
    for (uint32_t e = 0; e < nExpert; ++e) {
        REQUIRE(groups[e] == cg.counts[e]);
        REQUIRE(groups[nExpert + e] == cg.offsets[e]);
    }
    for (size_t i = 0; i < cg.tokens.size(); ++i)
        REQUIRE(groups[2 * nExpert + i] == cg.tokens[i] * int32_t(k) + cg.slots[i]);
}

}  // namespace

TEST_CASE("expert-indexed products (direct and grouped) match the CPU reference") {
    ValidationGuard guard;
    for (bool texel : weightReadPaths()) {
        WeightReadPath path(texel);
        CAPTURE(texel);
        uint32_t seed = 7;
        // 8 experts top-2, 64 top-8, 128 top-8; 1 token and 100+ tokens; gate/up and down inputs
        for (GgmlType t : {GgmlType::F32, GgmlType::Q8_0, GgmlType::Q4_K}) {
            const uint32_t cols = cpu::blockSize(t) == 256 ? 256 : 96;
            checkExpertProducts(t, 8, 2, 1, 48, cols, false, seed++);
            checkExpertProducts(t, 8, 2, 130, 40, cols, true, seed++);
        }
        for (GgmlType t : kWeightTypes) checkExpertProducts(t, 64, 8, 3, 32, 256, false, seed++);
        checkExpertProducts(GgmlType::Q8_0, 64, 8, 101, 24, 128, true, seed++);
        checkExpertProducts(GgmlType::Q6_K, 128, 8, 1, 16, 256, false, seed++);
        checkExpertProducts(GgmlType::F16, 128, 8, 120, 16, 64, false, seed++);
    }
}

TEST_CASE("moe_combine sums weighted expert rows and accumulates into the residual") {
    ValidationGuard guard;
    auto& d = GpuEnv::dev();
    const uint32_t nTok = 13, k = 4, n = 100;
    auto y = randn(size_t(nTok) * k * n, 1);
    auto w = randn(size_t(nTok) * k, 2);
    auto res = randn(size_t(nTok) * n, 3);
    std::vector<float> ref(res);
    for (uint32_t t = 0; t < nTok; ++t)
        for (uint32_t i = 0; i < n; ++i) {
            double s = 0;
            for (uint32_t j = 0; j < k; ++j) s += double(w[t * k + j]) * y[(size_t(t) * k + j) * n + i];
            ref[size_t(t) * n + i] += float(s);
        }
    auto yb = upload(y), wb = upload(w), db = upload(res);
    vk::Commands cmd(d);
    REQUIRE(rt::moeCombine(d, cmd, yb.address(), wb.address(), db.address(), nTok, k, n, true).ok());
    cmd.hostBarrier();
    REQUIRE(cmd.submitAndWait().ok());
    auto got = download<float>(db, ref.size());
    CHECK(cpu::nmse(ref.data(), got.data(), ref.size()) < 1e-12);

    // with a sigmoid-gated shared expert (qwen2moe), overwriting instead of accumulating
    auto sh = randn(size_t(nTok) * n, 4);
    auto gate = randn(nTok, 5, 3.0f);
    std::vector<float> ref2(size_t(nTok) * n);
    for (uint32_t t = 0; t < nTok; ++t)
        for (uint32_t i = 0; i < n; ++i) {
            double s = 0;
            for (uint32_t j = 0; j < k; ++j) s += double(w[t * k + j]) * y[(size_t(t) * k + j) * n + i];
            s += sh[size_t(t) * n + i] / (1.0 + std::exp(-double(gate[t])));
            ref2[size_t(t) * n + i] = float(s);
        }
    auto sb = upload(sh), gb = upload(gate);
    vk::Commands cmd2(d);
    REQUIRE(rt::moeCombine(d, cmd2, yb.address(), wb.address(), db.address(), nTok, k, n, false, sb.address(), gb.address()).ok());
    cmd2.hostBarrier();
    REQUIRE(cmd2.submitAndWait().ok());
    auto got2 = download<float>(db, ref2.size());
    CHECK(cpu::nmse(ref2.data(), got2.data(), ref2.size()) < 1e-12);
}
