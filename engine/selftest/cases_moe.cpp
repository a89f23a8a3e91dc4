// Conformance cases of the MoE kernels: router (every gating, policy and intervention; up to 256
// experts top-16), grouping by expert, expert-indexed products (direct and grouped, every weight
// type, 8x top-2 / 64x top-8 / 128x top-8, 1 and 100+ tokens) and the weighted combine.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "cpu/moe.h"
#include "cpu/quant.h"
#include "cpu/router.h"
#include "selftest/cases.h"
#include "runtime/kernels.h"
#include "runtime/kernels_moe.h"

namespace moe::selftest::conf {

namespace {

constexpr double kTolRouter = 1e-10;   // weights and probabilities; selections must be identical
constexpr double kTolProduct = 1e-10;  // as mul_mat
constexpr double kTolCombine = 1e-12;

using Scope = ConformanceScope;

// ---- router

Result<Outcome> runRouter(Harness& h, const cpu::RouterParams& P, uint32_t nE, uint32_t nTok, uint32_t seed) {
    Outcome o;
    o.tolerance = kTolRouter;
    const uint32_t kMax = uint32_t(P.kMax);
    auto logits = randn(size_t(nTok) * nE, seed, 2.0f);
    if (nE >= 4)  // exact ties exercise the tie rule (lower id first)
        for (uint32_t t = 0; t < nTok; t += 3) logits[size_t(t) * nE + 1] = logits[size_t(t) * nE + 3];
    std::vector<int32_t> ids(size_t(nTok) * kMax), counts(nTok);
    std::vector<float> w(size_t(nTok) * kMax), probs(size_t(nTok) * nE);
    cpu::route(P, logits.data(), nTok, nE, ids.data(), w.data(), counts.data(), probs.data());

    MOE_ASSIGN(vk::Buffer lb, h.upload(logits));
    MOE_ASSIGN(vk::Buffer ib, h.buffer(ids.size() * 4));
    MOE_ASSIGN(vk::Buffer wb, h.buffer(w.size() * 4));
    MOE_ASSIGN(vk::Buffer cb, h.buffer(counts.size() * 4));
    MOE_ASSIGN(vk::Buffer pb, h.buffer(probs.size() * 4));
    std::vector<vk::Buffer> keep;
    GpuRouterParams g;
    g.sigmoid = P.gating == cpu::Gating::Sigmoid;
    g.topP = P.selection == cpu::Selection::TopP;
    g.k = uint32_t(P.k);
    g.kMax = kMax;
    g.p = P.topP;
    g.normalize = P.normalize;
    g.routedScale = P.routedScale;
    g.nGroup = uint32_t(P.nGroup);
    g.groupsUsed = uint32_t(P.groupsUsed);
    auto add = [&](auto&& data, uint64_t& addr) -> Status {
        MOE_ASSIGN(vk::Buffer b, h.upload(data));
        addr = b.address();
        keep.push_back(std::move(b));
        return {};
    };
    if (!P.selectionBias.empty()) MOE_TRY(add(P.selectionBias, g.bias));
    if (!P.logitScale.empty()) MOE_TRY(add(P.logitScale, g.logitScale));
    if (!P.mask.empty()) MOE_TRY(add(std::vector<int32_t>(P.mask.begin(), P.mask.end()), g.mask));
    if (!P.forced.empty()) {
        MOE_TRY(add(P.forced, g.forced));
        g.nForced = uint32_t(P.forced.size());
    }
    Record rec = [&](vk::Commands& cmd) {
        return route(h.dev(), cmd, g, lb.address(), nTok, nE, ib.address(), wb.address(), cb.address(), pb.address());
    };
    MOE_TRY(h.run(rec));
    MOE_ASSIGN(auto gids, h.download<int32_t>(ib, ids.size()));
    MOE_ASSIGN(auto gc, h.download<int32_t>(cb, counts.size()));
    MOE_ASSIGN(auto gw, h.download<float>(wb, w.size()));
    MOE_ASSIGN(auto gp, h.download<float>(pb, probs.size()));
    for (uint32_t t = 0; t < nTok; ++t)  // one mismatch per token whose selection differs
        o.mismatches += gc[t] != counts[t] ||
                        !std::equal(&ids[size_t(t) * kMax], &ids[size_t(t + 1) * kMax], &gids[size_t(t) * kMax]);
    compare(o, w, gw);
    compare(o, probs, gp);
    MOE_TRY(h.time(rec, o));
    o.bytes = uint64_t(nTok) * (nE * 8ull + kMax * 8ull + 4);
    return o;
}

// ---- expert ids and grouping

// Distinct random experts per token; every 7th token leaves its last slot empty (-1).
std::vector<int32_t> makeIds(uint32_t nTok, uint32_t k, uint32_t nExpert, uint32_t seed) {
    Rng rng{seed};
    std::vector<int32_t> ids(size_t(nTok) * k), perm(nExpert);
    for (uint32_t t = 0; t < nTok; ++t) {
        std::iota(perm.begin(), perm.end(), 0);
        for (uint32_t j = 0; j < k; ++j) {  // partial Fisher-Yates
            std::swap(perm[j], perm[j + rng.next32() % (nExpert - j)]);
            ids[size_t(t) * k + j] = perm[j];
        }
        if (k > 1 && t % 7 == 3) ids[size_t(t) * k + k - 1] = -1;
    }
    return ids;
}

Result<Outcome> runGroup(Harness& h, uint32_t nExpert, uint32_t k, uint32_t nTok, uint32_t seed) {
    Outcome o;
    const auto ids = makeIds(nTok, k, nExpert, seed);
    const auto cg = cpu::groupByExpert(ids.data(), nTok, k, nExpert);
    std::vector<int32_t> ref(cg.counts);
    ref.insert(ref.end(), cg.offsets.begin(), cg.offsets.begin() + nExpert);
    for (size_t i = 0; i < cg.tokens.size(); ++i) ref.push_back(cg.tokens[i] * int32_t(k) + cg.slots[i]);
    MOE_ASSIGN(vk::Buffer ib, h.upload(ids));
    MOE_ASSIGN(vk::Buffer gb, h.buffer(moeGroupBytes(nTok, k, nExpert)));
    Record rec = [&](vk::Commands& cmd) { return moeGroup(h.dev(), cmd, ib.address(), nTok, k, nExpert, gb.address()); };
    MOE_TRY(h.run(rec));
    MOE_ASSIGN(auto got, h.download<int32_t>(gb, ref.size()));  // entries past the valid slots are unspecified
    o.mismatches = countMismatches(ref, got);
    MOE_TRY(h.time(rec, o));
    o.bytes = ids.size() * 4 + moeGroupBytes(nTok, k, nExpert);
    return o;
}

// ---- expert-indexed products

struct ExpertShape {
    uint32_t nExpert, k, nTok, rows, cols;
    bool xPerSlot;  // one input row per (token, slot) (down projection) instead of per token
};

Result<Outcome> runExpertProduct(Harness& h, GgmlType t, ExpertShape s, bool grouped, uint32_t seed, bool texel) {
    auto& dev = h.dev();
    ReadPathScope path(dev, texel);
    Outcome o;
    o.tolerance = kTolProduct;
    MOE_ASSIGN(const WeightSet* w, h.weights(t, uint64_t(s.nExpert) * s.rows, s.cols, seed));
    const uint64_t expertStride = uint64_t(s.rows) * rowBytes(t, s.cols);
    const uint32_t xSlots = s.xPerSlot ? s.k : 1;
    const auto x = randn(size_t(s.nTok) * xSlots * s.cols, seed + s.nTok + 1);
    const auto ids = makeIds(s.nTok, s.k, s.nExpert, seed + s.nTok);
    std::vector<float> ref(size_t(s.nTok) * s.k * s.rows);
    cpu::expertMatMul(t, w->bytes.data(), s.rows, s.cols, x.data(), xSlots, ids.data(), s.nTok, s.k, ref.data());

    MOE_ASSIGN(vk::Buffer xb, h.upload(x));
    MOE_ASSIGN(vk::Buffer ib, h.upload(ids));
    MOE_ASSIGN(vk::Buffer yb, h.buffer(ref.size() * 4));
    MOE_ASSIGN(vk::Buffer gb, h.buffer(moeGroupBytes(s.nTok, s.k, s.nExpert)));
    const uint64_t W = w->buffer.address();
    Record rec = [&](vk::Commands& cmd) {
        const MoeMatMulArgs a{t,        W,  expertStride, s.rows,        s.cols, xb.address(), s.xPerSlot,
                              ib.address(), gb.address(), s.nExpert, s.k, yb.address(), s.nTok};
        return grouped ? mulMatMoeGrouped(dev, cmd, a) : mulMatMoeDirect(dev, cmd, a);
    };
    // grouped: groups first, and rows of empty slots are never written, so clear them;
    // direct writes zeros for empty slots itself
    MOE_ASSIGN(RunInfo info, h.run([&](vk::Commands& cmd) -> Status {
        if (grouped) {
            MOE_TRY(moeGroup(dev, cmd, ib.address(), s.nTok, s.k, s.nExpert, gb.address()));
            cmd.fill(yb, 0, ref.size() * 4, 0);
            cmd.barrier();
        }
        return rec(cmd);
    }));
    MOE_ASSIGN(auto got, h.download<float>(yb, ref.size()));
    compare(o, ref, got);
    if (!info.kernels.empty()) {  // the product is the last dispatch
        const bool rows = texel && texelReadType(t) && s.cols % 16 == 0;
        const std::string& k = info.kernels.back();
        expect(o, startsWith(k, grouped ? "mul_mat_moe_grouped_row_" : "mul_mat_moe_row_") == rows,
               "ran " + k + (rows ? ", not the row-per-invocation kernel" : ""));
    }
    MOE_TRY(h.time(rec, o));
    std::set<int32_t> used;
    uint32_t valid = 0;
    for (int32_t e : ids)
        if (e >= 0) used.insert(e), ++valid;
    o.bytes = used.size() * expertStride + (x.size() + ref.size()) * 4;
    o.flops = 2.0 * s.rows * s.cols * valid;
    o.unit = s.nTok >= 16 ? ThroughputUnit::GFLOPs : ThroughputUnit::GBps;
    return o;
}

// ---- combine

Result<Outcome> runCombine(Harness& h, uint32_t nTok, uint32_t k, uint32_t n, bool sharedExpert, uint32_t seed) {
    Outcome o;
    o.tolerance = kTolCombine;
    const auto y = randn(size_t(nTok) * k * n, seed);
    const auto w = randn(size_t(nTok) * k, seed + 1);
    const auto res = randn(size_t(nTok) * n, seed + 2);
    const auto sh = randn(sharedExpert ? size_t(nTok) * n : 0, seed + 3);
    const auto gate = randn(sharedExpert ? nTok : 0, seed + 4, 3.0f);
    // with a shared expert: overwrite, out = Σ w y + sigmoid(gate) shared (qwen2moe);
    // without: accumulate into the residual, out = res + Σ w y
    std::vector<float> ref(size_t(nTok) * n);
    for (uint32_t t = 0; t < nTok; ++t)
        for (uint32_t i = 0; i < n; ++i) {
            double s = 0;
            for (uint32_t j = 0; j < k; ++j) s += double(w[size_t(t) * k + j]) * y[(size_t(t) * k + j) * n + i];
            if (sharedExpert) s += sh[size_t(t) * n + i] / (1.0 + std::exp(-double(gate[t])));
            ref[size_t(t) * n + i] = sharedExpert ? float(s) : res[size_t(t) * n + i] + float(s);
        }
    MOE_ASSIGN(vk::Buffer yb, h.upload(y));
    MOE_ASSIGN(vk::Buffer wb, h.upload(w));
    MOE_ASSIGN(vk::Buffer db, h.upload(res));
    MOE_ASSIGN(vk::Buffer sb, h.upload(sh));
    MOE_ASSIGN(vk::Buffer gb, h.upload(gate));
    Record rec = [&](vk::Commands& cmd) {
        return moeCombine(h.dev(), cmd, yb.address(), wb.address(), db.address(), nTok, k, n, !sharedExpert,
                          sharedExpert ? sb.address() : 0, sharedExpert ? gb.address() : 0);
    };
    MOE_TRY(h.run(rec));
    MOE_ASSIGN(auto got, h.download<float>(db, ref.size()));
    compare(o, ref, got);
    MOE_TRY(h.time(rec, o));
    o.bytes = (y.size() + w.size() + 2 * ref.size() + sh.size() + gate.size()) * 4;
    return o;
}

cpu::RouterParams softmaxTopK(int k, int kMax, bool norm) {
    cpu::RouterParams p;
    p.k = k;
    p.kMax = kMax;
    p.normalize = norm;
    return p;
}

}  // namespace

void addMoeCases(std::vector<Case>& out, const CaseContext& ctx) {
    // router: softmax top-k with/without renormalisation, sigmoid + selection bias, top-p,
    // mask/force/logit scale; 1 expert top-1 up to 256 top-16; 1 and 100+ tokens
    struct RouterCase {
        std::string variant;
        cpu::RouterParams params;
        uint32_t nExpert, nTok;
        Scope scope = Scope::Quick;
    };
    std::vector<RouterCase> routers = {
        {"softmax top-2 renorm", softmaxTopK(2, 2, true), 8, 101},
        {"softmax top-2 renorm", softmaxTopK(2, 2, true), 8, 1},
        {"softmax top-4", softmaxTopK(4, 4, false), 60, 37},
        {"softmax top-8 renorm", softmaxTopK(8, 8, true), 64, 101},
        {"softmax top-8 renorm", softmaxTopK(8, 8, true), 64, 1},
        {"softmax top-8", softmaxTopK(8, 8, false), 128, 101},
        {"softmax top-8", softmaxTopK(8, 8, false), 128, 1},
        {"softmax top-16 renorm", softmaxTopK(16, 16, true), 256, 20},
        {"softmax top-16 renorm", softmaxTopK(16, 16, true), 256, 1},
        {"softmax top-1", softmaxTopK(1, 1, true), 1, 5, Scope::Checks},
        {"softmax top-8 renorm", softmaxTopK(8, 8, true), 64, 512, Scope::Full},
        {"softmax top-8", softmaxTopK(8, 8, false), 128, 512, Scope::Full},
        {"softmax top-16 renorm", softmaxTopK(16, 16, true), 256, 512, Scope::Full},
    };
    {
        cpu::RouterParams p = softmaxTopK(8, 8, true);
        p.gating = cpu::Gating::Sigmoid;
        p.selectionBias = randn(256, 5, 0.1f);
        p.routedScale = 2.5f;
        routers.push_back({"sigmoid+bias top-8 scale 2.5", p, 256, 17});
        routers.push_back({"sigmoid+bias top-8 scale 2.5", p, 256, 512, Scope::Full});
        p.selectionBias.assign(64, 0.0f);
        for (size_t e = 0; e < 64; e += 5) p.selectionBias[e] = 0.05f;
        p.normalize = false;
        p.routedScale = 1.0f;
        routers.push_back({"sigmoid+bias top-8", p, 64, 33});
        // DeepSeek-V3-style: 8 groups, the best 4 kept (group score: sum of its best two)
        p = softmaxTopK(8, 8, true);
        p.gating = cpu::Gating::Sigmoid;
        p.selectionBias = randn(256, 6, 0.1f);
        p.routedScale = 2.5f;
        p.nGroup = 8;
        p.groupsUsed = 4;
        routers.push_back({"sigmoid+bias grp 4/8 top-8", p, 256, 29});
        routers.push_back({"sigmoid+bias grp 4/8 top-8", p, 256, 1});
        // softmax with groups, one group kept, a masked group and a forced expert outside the kept ones
        cpu::RouterParams q = softmaxTopK(3, 4, false);
        q.nGroup = 4;
        q.groupsUsed = 1;
        q.mask.assign(16, 0);
        for (int e = 4; e < 8; ++e) q.mask[size_t(e)] = 1;
        q.forced = {13};
        routers.push_back({"softmax grp 1/4 mask+force", q, 16, 40});
    }
    {
        cpu::RouterParams p = softmaxTopK(0, 8, true);
        p.selection = cpu::Selection::TopP;
        p.topP = 0.6f;
        routers.push_back({"softmax top-p 0.6 kmax 8", p, 64, 120});
        p.topP = 0.95f;
        p.kMax = 16;
        routers.push_back({"softmax top-p 0.95 kmax 16", p, 16, 50});
        p.gating = cpu::Gating::Sigmoid;
        p.topP = 0.5f;
        routers.push_back({"sigmoid top-p 0.5 kmax 16", p, 128, 40});
    }
    {
        cpu::RouterParams p = softmaxTopK(2, 4, true);
        p.mask.assign(16, 0);
        p.mask[0] = p.mask[5] = p.mask[6] = 1;
        p.forced = {7, 7, 5, 2};
        p.logitScale = std::vector<float>(16, 1.0f);
        p.logitScale[3] = 3.0f;
        p.logitScale[9] = 0.0f;
        routers.push_back({"mask+force+logit scale top-2", p, 16, 64});
        cpu::RouterParams q = softmaxTopK(3, 3, true);
        q.mask.assign(8, 1);
        q.mask[2] = q.mask[4] = 0;  // fewer unmasked experts than k
        routers.push_back({"mask leaves < k", q, 8, 9});
    }
    uint32_t seed = 3000;
    for (auto& rc : routers) {
        const uint32_t sd = seed++;
        out.push_back({"router", rc.variant, fmt("experts=%u tok=%u", rc.nExpert, rc.nTok),
                       [rc, sd](Harness& h) { return runRouter(h, rc.params, rc.nExpert, rc.nTok, sd); }, rc.scope});
    }

    // moe_group: counts, offsets and (token, slot) entries per expert
    struct GroupShape {
        uint32_t nExpert, k, nTok;
        Scope scope = Scope::Quick;
    };
    const GroupShape groups[] = {{8, 2, 130}, {64, 8, 101}, {128, 8, 1}, {256, 16, 20}, {128, 8, 512, Scope::Full}};
    for (GroupShape g : groups) {
        const uint32_t sd = seed++;
        out.push_back({"moe_group", fmt("%u experts top-%u", g.nExpert, g.k), fmt("tok=%u", g.nTok),
                       [g, sd](Harness& h) { return runGroup(h, g.nExpert, g.k, g.nTok, sd); }, g.scope});
    }

    // expert-indexed products: every weight type; direct (one workgroup row per token and slot)
    // and grouped (each active expert's weights read once per batch); 1 and 100+ tokens; on
    // devices that read weights through texel views, the correctness configs also through
    // device addresses (variant "<type> address")
    struct ProductCase {
        ExpertShape shape;
        bool grouped;
    };
    struct Config {
        std::vector<ProductCase> cases;  // the cases of one config share their weights
        Scope scope;
    };
    for (GgmlType t : kWeightTypes) {
        const uint32_t c8 = cpu::blockSize(t) == 256 ? 256 : 96;
        std::vector<Config> configs;
        // each config through both paths with 1 token and with 100+ tokens (x per token for
        // gate/up; x per (token, slot) for down)
        for (ExpertShape s : {ExpertShape{8, 2, 1, 48, c8, false}, ExpertShape{64, 8, 1, 24, 256, false},
                              ExpertShape{128, 8, 1, 16, 256, false}}) {
            ExpertShape many = s;
            many.nTok = s.nExpert == 64 ? 101 : s.nExpert == 8 ? 130 : 120;
            many.xPerSlot = s.nExpert != 128;
            configs.push_back({{{s, false}, {s, true}, {many, false}, {many, true}}, Scope::Quick});
        }
        // throughput: a Mixtral-like and a fine-grained slice, decode and prefill
        configs.push_back({{{{8, 2, 1, 512, 2048, false}, false}, {{8, 2, 128, 512, 2048, false}, true}}, Scope::Full});
        configs.push_back({{{{64, 8, 1, 256, 1024, false}, false}, {{64, 8, 128, 256, 1024, true}, true}}, Scope::Full});
        for (const Config& config : configs) {
            const uint32_t sd = seed++;
            std::vector<bool> paths{ctx.texel};
            if (ctx.texel && config.scope != Scope::Full) paths.push_back(false);
            for (bool texel : paths)
                for (ProductCase pc : config.cases) {
                    const ExpertShape& s = pc.shape;
                    std::string variant = typeName(t);
                    if (texel != ctx.texel) variant += " address";
                    out.push_back({pc.grouped ? "mul_mat_moe_grouped" : "mul_mat_moe", variant,
                                   fmt("%ux top-%u rows=%u cols=%u tok=%u%s", s.nExpert, s.k, s.rows, s.cols, s.nTok,
                                       s.xPerSlot ? " x/slot" : ""),
                                   [t, pc, sd, texel](Harness& h) {
                                       return runExpertProduct(h, t, pc.shape, pc.grouped, sd, texel);
                                   },
                                   config.scope});
                }
        }
    }

    // moe_combine: weighted sum of the k expert rows, into the residual or with a gated shared expert
    struct CombineShape {
        uint32_t nTok, k, n;
        bool shared;
        Scope scope = Scope::Quick;
    };
    const CombineShape combines[] = {
        {1, 2, 4096, false}, {13, 4, 100, false}, {130, 8, 2048, true}, {512, 8, 4096, false, Scope::Full}};
    for (CombineShape c : combines) {
        const uint32_t sd = seed++;
        out.push_back({"moe_combine", c.shared ? "shared expert, sigmoid gate" : "accumulate",
                       fmt("tok=%u k=%u n=%u", c.nTok, c.k, c.n),
                       [c, sd](Harness& h) { return runCombine(h, c.nTok, c.k, c.n, c.shared, sd); }, c.scope});
    }
}

}  // namespace moe::selftest::conf
