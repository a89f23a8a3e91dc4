// CPU reference forward pass on generated models of every architecture: batch prefill equals
// token-by-token prefill, decode continues the batch, chunked prefill and rewinding agree, the
// context length is enforced, logits are sane, greedy decoding is deterministic, and routing is
// observable (hook) and steerable (per-layer router parameters).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "cpu/forward.h"
#include "cpu/nmse.h"
#include "synth_models.h"

using namespace moe;
using namespace moe::test;
using moe::cpu::CpuForward;

namespace {

const Arch kArchs[] = {Arch::Llama, Arch::Qwen2Moe, Arch::Qwen3Moe, Arch::Olmoe};

struct Case {
    std::string name;
    SynthSpec spec;
};

std::vector<Case> cases() {
    std::vector<Case> out;
    for (Arch a : kArchs) {
        SynthSpec s = synthSpecFor(a);
        out.push_back({std::string(archName(a)) + "_F32", s});
        s.weightType = GgmlType::Q8_0;
        out.push_back({std::string(archName(a)) + "_Q8_0", s});
    }
    return out;
}

std::vector<int32_t> prompt(const Model& m) {
    auto ids = m.tokenizer->encode("The teacher wrote three questions on the board, and the students laughed.", true,
                                   false);
    REQUIRE(ids.size() >= 12);
    ids.resize(12);
    return ids;
}

int32_t argmax(const float* x, int64_t n) { return int32_t(std::max_element(x, x + n) - x); }

std::vector<int32_t> greedy(const Model& m, const std::vector<int32_t>& p, int nGen) {
    CpuForward fw(m, 64);
    const int64_t V = m.cfg.n_vocab;
    std::vector<float> logits(V);
    REQUIRE(fw.forward(p.data(), uint32_t(p.size()), 0, logits.data(), false).ok());
    std::vector<int32_t> out;
    for (int i = 0; i < nGen; ++i) {
        const int32_t tok = argmax(logits.data(), V);
        out.push_back(tok);
        REQUIRE(fw.forward(&tok, 1, fw.nPast(), logits.data(), false).ok());
    }
    return out;
}

}  // namespace

TEST_CASE("batch prefill equals token-by-token prefill, and decode continues it") {
    for (const Case& c : cases()) {
        CAPTURE(c.name);
        auto m = loadSynth(c.name, c.spec);
        const auto p = prompt(*m);
        const int64_t V = m->cfg.n_vocab, N = int64_t(p.size());

        CpuForward batch(*m, 32);
        std::vector<float> all(N * V);
        REQUIRE(batch.forward(p.data(), uint32_t(N), 0, all.data(), true).ok());
        CHECK(batch.nPast() == N);

        CpuForward single(*m, 32);
        std::vector<float> one(N * V);
        for (int64_t t = 0; t < N; ++t) REQUIRE(single.forward(&p[t], 1, uint32_t(t), one.data() + t * V, false).ok());
        CHECK(cpu::nmse(all.data(), one.data(), all.size()) < 1e-10);

        // chunked prefill (5 + 7) with only the last logits
        CpuForward chunked(*m, 32);
        std::vector<float> last(V);
        REQUIRE(chunked.forward(p.data(), 5, 0, last.data(), false).ok());
        CHECK(cpu::nmse(all.data() + 4 * V, last.data(), V) < 1e-10);
        REQUIRE(chunked.forward(p.data() + 5, uint32_t(N - 5), 5, last.data(), false).ok());
        CHECK(cpu::nmse(all.data() + (N - 1) * V, last.data(), V) < 1e-10);

        // decode continues consistently: the next token after batch and after single agree
        const int32_t next = argmax(all.data() + (N - 1) * V, V);
        std::vector<float> a(V), b(V);
        REQUIRE(batch.forward(&next, 1, uint32_t(N), a.data(), false).ok());
        REQUIRE(single.forward(&next, 1, uint32_t(N), b.data(), false).ok());
        CHECK(cpu::nmse(a.data(), b.data(), V) < 1e-10);

        // rewinding to position 6 and replaying the rest reproduces the batch
        REQUIRE(batch.forward(p.data() + 6, uint32_t(N - 6), 6, one.data(), true).ok());
        CHECK(cpu::nmse(all.data() + 6 * V, one.data(), size_t((N - 6) * V)) < 1e-10);
        CHECK(batch.nPast() == N);
    }
}

TEST_CASE("logits are finite, spread out and position dependent") {
    for (const Case& c : cases()) {
        CAPTURE(c.name);
        auto m = loadSynth(c.name, c.spec);
        const auto p = prompt(*m);
        const int64_t V = m->cfg.n_vocab, N = int64_t(p.size());
        CpuForward fw(*m, 32);
        std::vector<float> all(N * V);
        REQUIRE(fw.forward(p.data(), uint32_t(N), 0, all.data(), true).ok());
        for (int64_t t = 0; t < N; ++t) {
            const float* l = all.data() + t * V;
            double mean = 0, sq = 0;
            bool finite = true;
            for (int64_t i = 0; i < V; ++i) finite &= std::isfinite(l[i]), mean += l[i], sq += double(l[i]) * l[i];
            mean /= double(V);
            const double sd = std::sqrt(sq / double(V) - mean * mean);
            CHECK(finite);
            CHECK(sd > 0.1);
            CHECK(sd < 100.0);
        }
        // two positions never give the same distribution
        CHECK(cpu::nmse(all.data(), all.data() + V, V) > 1e-3);
    }
}

TEST_CASE("greedy decoding is deterministic across instances and after reset") {
    for (const Case& c : cases()) {
        CAPTURE(c.name);
        auto m = loadSynth(c.name, c.spec);
        const auto p = prompt(*m);
        const auto g1 = greedy(*m, p, 16);
        const auto g2 = greedy(*m, p, 16);
        CHECK(g1 == g2);
        CHECK(std::set<int32_t>(g1.begin(), g1.end()).size() > 1);  // not one token repeated

        CpuForward fw(*m, 64);
        std::vector<float> l1(m->cfg.n_vocab), l2(m->cfg.n_vocab);
        REQUIRE(fw.forward(p.data(), uint32_t(p.size()), 0, l1.data(), false).ok());
        fw.reset();
        CHECK(fw.nPast() == 0);
        REQUIRE(fw.forward(p.data(), uint32_t(p.size()), 0, l2.data(), false).ok());
        CHECK(l1 == l2);
    }
}

TEST_CASE("context length is enforced without truncation") {
    auto m = loadSynth("qwen3moe_F32", synthSpecFor(Arch::Qwen3Moe));
    const auto p = prompt(*m);
    const int64_t V = m->cfg.n_vocab;
    std::vector<float> logits(p.size() * V);
    CpuForward fw(*m, 16);
    // one call past the context
    std::vector<int32_t> many(17, p[1]);
    Status st = fw.forward(many.data(), 17, 0, logits.data(), false);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("context length 16 exceeded") != std::string::npos);
    // prefill 12, then 4 fit, the 17th position does not
    REQUIRE(fw.forward(p.data(), 12, 0, logits.data(), false).ok());
    REQUIRE(fw.forward(p.data(), 4, 12, logits.data(), false).ok());
    CHECK(fw.nPast() == 16);
    st = fw.forward(p.data(), 1, 16, logits.data(), false);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("context length 16 exceeded") != std::string::npos);
    CHECK(fw.nPast() == 16);

    // other bad calls
    CHECK_FALSE(fw.forward(p.data(), 0, 0, logits.data(), false).ok());
    const int32_t bad = int32_t(V);
    st = fw.forward(&bad, 1, 0, logits.data(), false);
    CHECK(st.message().find("token id 512 is out of range") != std::string::npos);
    fw.reset();
    st = fw.forward(p.data(), 1, 3, logits.data(), false);
    CHECK(st.message().find("pos0 3 is past the 0 cached positions") != std::string::npos);
}

// The routing record of the last call, one entry per (layer, token) with the selected experts
// only (count entries), as the assertions below read it.
struct Entry {
    uint32_t layer, pos;
    std::vector<int32_t> ids;
    std::vector<float> weights, probs;
};
std::vector<Entry> entriesOf(const rt::RoutingRecord& r, uint32_t pos0) {
    std::vector<Entry> out;
    for (uint32_t il = 0; il < r.nLayer; ++il)
        for (uint32_t t = 0; t < r.nTok; ++t) {
            const int32_t n = r.countAt(il, t);
            out.push_back({il, pos0 + t, std::vector<int32_t>(r.idsAt(il, t), r.idsAt(il, t) + n),
                           std::vector<float>(r.weightsAt(il, t), r.weightsAt(il, t) + n),
                           std::vector<float>(r.probsAt(il, t), r.probsAt(il, t) + r.nExpert)});
        }
    return out;
}

TEST_CASE("the routing record holds every layer and token; routing is not degenerate") {
    for (Arch a : kArchs) {
        const std::string name = std::string(archName(a)) + "_F32";
        CAPTURE(name);
        auto m = loadSynth(name, synthSpecFor(a));
        const ModelConfig& c = m->cfg;
        const auto p = prompt(*m);
        CpuForward fw(*m, 32);
        std::vector<float> logits(c.n_vocab);
        REQUIRE(fw.forward(p.data(), uint32_t(p.size()), 0, logits.data(), false).ok());
        auto entries = entriesOf(fw.lastRouting(), 0);
        REQUIRE(entries.size() == c.block_count * p.size());
        std::vector<std::set<int32_t>> used(c.block_count);
        for (const auto& e : entries) {
            REQUIRE(e.ids.size() == c.expert_used_count);
            double sum = 0;
            for (float w : e.weights) sum += w;
            if (c.expert_weights_norm) CHECK(std::fabs(sum - 1.0) < 1e-5);
            else CHECK(sum < 1.0);
            for (int32_t id : e.ids) used[e.layer].insert(id);
            // weights are the selected experts' probabilities (renormalised or not)
            const double mass = e.probs[e.ids[0]] + e.probs[e.ids[1]];
            CHECK(e.weights[0] == doctest::Approx(c.expert_weights_norm ? e.probs[e.ids[0]] / mass : e.probs[e.ids[0]]));
        }
        for (const auto& u : used) CHECK(u.size() >= c.expert_count / 2);  // many experts in use
        // decode: one entry per layer, at the next position
        const int32_t tok = argmax(logits.data(), c.n_vocab);
        const uint32_t pos = fw.nPast();
        REQUIRE(fw.forward(&tok, 1, pos, logits.data(), false).ok());
        entries = entriesOf(fw.lastRouting(), pos);
        REQUIRE(entries.size() == c.block_count);
        CHECK(entries[0].pos == p.size());
    }
}

TEST_CASE("router parameters can be overridden per layer") {
    auto m = loadSynth("olmoe_F32", synthSpecFor(Arch::Olmoe));
    const ModelConfig& c = m->cfg;
    const auto p = prompt(*m);
    const int64_t V = c.n_vocab;
    CpuForward fw(*m, 32);
    const cpu::RouterParams dflt = fw.defaultRouterParams();
    CHECK(dflt.k == int(c.expert_used_count));
    CHECK(dflt.normalize == c.expert_weights_norm);
    std::vector<float> base(V), other(V);
    REQUIRE(fw.forward(p.data(), uint32_t(p.size()), 0, base.data(), false).ok());

    // top-1 in layer 1, with a mask on expert 0 and expert 3 forced, in layer 0
    cpu::RouterParams top1 = dflt;
    top1.k = 1;
    fw.setRouterParams(1, top1);
    cpu::RouterParams steer = dflt;
    steer.mask.assign(c.expert_count, 0);
    steer.mask[0] = 1;
    steer.forced = {3};
    fw.setRouterParams(0, steer);
    REQUIRE(fw.forward(p.data(), uint32_t(p.size()), 0, other.data(), false).ok());
    CHECK(cpu::nmse(base.data(), other.data(), V) > 1e-6);
    for (const auto& e : entriesOf(fw.lastRouting(), 0)) {
        if (e.layer == 1) CHECK(e.ids.size() == 1);
        if (e.layer == 0) {
            CHECK(std::find(e.ids.begin(), e.ids.end(), 0) == e.ids.end());
            CHECK(std::find(e.ids.begin(), e.ids.end(), 3) != e.ids.end());
            CHECK(e.probs[0] == 0.0f);
        }
    }
    // back to the defaults: the original logits again
    REQUIRE(fw.setRouting(std::vector<cpu::RouterParams>(c.block_count, dflt)).ok());
    REQUIRE(fw.forward(p.data(), uint32_t(p.size()), 0, other.data(), false).ok());
    CHECK(base == other);

    // a policy wider than its row is an error, not a crash
    cpu::RouterParams bad = dflt;
    bad.kMax = 1;
    bad.k = 2;
    fw.setRouterParams(0, bad);
    CHECK(fw.forward(p.data(), 1, 0, other.data(), false).message().find("routing, layer 0: k 2 must be in 1..kMax (1)") !=
          std::string::npos);
    // the same check refuses it up front, as on the Vulkan backend
    CHECK(fw.setRouting(std::vector<cpu::RouterParams>(c.block_count, bad)).message() ==
          "routing, layer 0: k 2 must be in 1..kMax (1)");
}

TEST_CASE("mixed-quantization models run") {
    for (Arch a : kArchs) {
        SynthSpec s = synthSpecFor(a);
        s.mix = SynthMix::Q4_K_M;
        s.n_embd = 256, s.n_ff_exp = 256, s.n_ff_shexp = 256, s.n_layer = 1;
        s.head_dim = a == Arch::Qwen3Moe ? 32 : s.n_embd / s.n_head;
        const std::string name = std::string(archName(a)) + "_mixed";
        CAPTURE(name);
        auto m = loadSynth(name, s);
        const auto p = prompt(*m);
        const int64_t V = m->cfg.n_vocab, N = int64_t(p.size());
        CpuForward batch(*m, 16), single(*m, 16);
        std::vector<float> all(N * V), one(N * V);
        REQUIRE(batch.forward(p.data(), uint32_t(N), 0, all.data(), true).ok());
        for (int64_t t = 0; t < N; ++t) REQUIRE(single.forward(&p[t], 1, uint32_t(t), one.data() + t * V, false).ok());
        CHECK(cpu::nmse(all.data(), one.data(), all.size()) < 1e-10);
        for (float x : all) REQUIRE(std::isfinite(x));
    }
}
