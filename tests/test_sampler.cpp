// The sampler (engine/runtime/sampler): greedy, temperature, top-k, top-p, min-p, repetition
// penalty and seed against hand-computed distributions, checked exactly on the candidate list
// and over many draws, and the order in which the filters apply.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "core/random.h"
#include "runtime/sampler.h"

using namespace moe;
using namespace moe::rt;

namespace {

using Dist = std::vector<Candidate>;  // expected candidates, most likely first

// Draws per statistical check. A token's count is Binomial(kDraws, p), sd = sqrt(N p (1 - p));
// a count is accepted within 5 sd of N p, plus 1 for the p where sd < 1. |Z| > 5 has
// probability 5.7e-7, so over the ~100 checked counts of this file a correct sampler fails for
// an unlucky seed with probability < 6e-5 (and, seeded, the outcome never changes between
// runs). At N = 20000, 5 sd is 0.018 in probability at p = 0.5 and 0.011 at p = 0.1, while
// every error these tests guard against (a filter not applied, applied in the wrong order, a
// relative threshold taken as absolute, the temperature inverted) moves some p by 0.05 or more.
constexpr int kDraws = 20000;

SamplerParams params(float temperature, uint64_t seed = 1) {
    SamplerParams p;
    p.temperature = temperature;
    p.seed = seed;
    return p;
}

// logits whose softmax is exactly p (up to float rounding)
std::vector<float> logitsOf(const std::vector<double>& p) {
    std::vector<float> l;
    for (double v : p) l.push_back(float(std::log(v)));
    return l;
}

void checkCandidates(Sampler& s, const std::vector<float>& logits, const Dist& want,
                     const std::vector<int32_t>& history = {}) {
    const auto got = s.candidates(logits, history);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        CAPTURE(i);
        CHECK(got[i].id == want[i].id);
        CHECK(got[i].p == doctest::Approx(want[i].p).epsilon(1e-6));
    }
}

// kDraws draws from one sampler with the same logits and history; every count within the bound
// above, and no draw outside the expected candidates.
void checkDraws(Sampler& s, const std::vector<float>& logits, const Dist& want, const std::vector<int32_t>& history = {}) {
    std::vector<int> count(logits.size(), 0);
    int outside = 0;
    for (int i = 0; i < kDraws; ++i) {
        const int32_t id = s.sample(logits, history);
        if (id >= 0 && size_t(id) < logits.size())
            ++count[size_t(id)];
        else
            ++outside;
    }
    REQUIRE(outside == 0);
    std::vector<double> p(logits.size(), 0.0);
    for (const Candidate& c : want) p[size_t(c.id)] = c.p;
    for (size_t id = 0; id < p.size(); ++id) {
        CAPTURE(id);
        CAPTURE(count[id]);
        if (p[id] == 0.0) {
            CHECK(count[id] == 0);
            continue;
        }
        const double mean = kDraws * p[id], sd = std::sqrt(kDraws * p[id] * (1.0 - p[id]));
        CHECK(std::abs(count[id] - mean) <= 5.0 * sd + 1.0);
    }
}

// both checks with one parameter set (a fresh sampler for each, so the draws start at the seed)
void checkBoth(const SamplerParams& p, const std::vector<float>& logits, const Dist& want,
               const std::vector<int32_t>& history = {}) {
    Sampler exact(p), drawn(p);
    checkCandidates(exact, logits, want, history);
    checkDraws(drawn, logits, want, history);
}

}  // namespace

TEST_CASE("sampler: greedy picks the argmax, ties to the lowest id") {
    Sampler s(params(0.0f));
    CHECK(s.sample(std::vector<float>{0.5f, 3.0f, -1.0f, 2.9f}, {}) == 1);
    CHECK(s.sample(std::vector<float>{1.0f, 4.0f, 4.0f, 2.0f}, {}) == 1);
    CHECK(s.sample(std::vector<float>{-INFINITY, -2.0f, -INFINITY}, {}) == 1);
    checkCandidates(s, {0.5f, 3.0f, -1.0f, 2.9f}, {{1, 1.0}});

    // greedy ignores the other filters and draws nothing: the seed does not matter
    SamplerParams p = params(0.0f, 7);
    p.topK = 3, p.topP = 0.5f, p.minP = 0.9f;
    Sampler a(p), b(params(0.0f, 8));
    const std::vector<float> logits = randn(300, 3, 2.0f);
    size_t argmax = 0;
    for (size_t i = 1; i < logits.size(); ++i)
        if (logits[i] > logits[argmax]) argmax = i;
    for (int i = 0; i < 5; ++i) {
        CHECK(a.sample(logits, {}) == int32_t(argmax));
        CHECK(b.sample(logits, {}) == int32_t(argmax));
    }

    // logprob: log p(token) under the softmax of the logits; softmax({0, ln 3}) = (1/4, 3/4)
    float lp = 0;
    CHECK(s.sample(std::vector<float>{0.0f, std::log(3.0f)}, {}, &lp) == 1);
    CHECK(lp == doctest::Approx(std::log(0.75)).epsilon(1e-6));
}

TEST_CASE("sampler: temperature divides the logits before the softmax") {
    const std::vector<float> logits = {2.0f, 1.0f, 0.0f, -1.0f};
    // softmax(logits / T) by hand: exp(l_i / T) / sum_j exp(l_j / T)
    // T = 1: e^2, e^1, e^0, e^-1 over their sum 11.4752
    checkBoth(params(1.0f), logits, {{0, 0.6439143}, {1, 0.2368828}, {2, 0.0871443}, {3, 0.0320586}});
    // T = 2: e^1, e^0.5, e^0, e^-0.5 over 5.9735: flatter
    checkBoth(params(2.0f), logits, {{0, 0.4550542}, {1, 0.2760043}, {2, 0.1674051}, {3, 0.1015363}});
    // T = 0.5: e^4, e^2, e^0, e^-2 over 63.1233: sharper
    checkBoth(params(0.5f), logits, {{0, 0.8649549}, {1, 0.1170589}, {2, 0.0158422}, {3, 0.0021440}});
}

TEST_CASE("sampler: top-k keeps the k largest logits") {
    const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.0f, 2.5f};
    SamplerParams p = params(1.0f);
    // k = 3: logits 3, 2.5, 2 (ids 1, 4, 2): e^0, e^-0.5, e^-1 over 1.97441
    p.topK = 3;
    checkBoth(p, logits, {{1, 0.5064804}, {4, 0.3071959}, {2, 0.1863237}});
    // k = 2: 1 / (1 + e^-0.5) and e^-0.5 / (1 + e^-0.5)
    p.topK = 2;
    checkBoth(p, logits, {{1, 0.6224593}, {4, 0.3775407}});
    // k at or past the vocabulary keeps everything
    for (int32_t k : {5, 9}) {
        p.topK = k;
        Sampler s(p);
        CHECK(s.candidates(logits, {}).size() == 5);
    }
    // a tie at the boundary goes to the lower id
    p.topK = 2;
    Sampler s(p);
    checkCandidates(s, {2.0f, 1.0f, 1.0f, 0.0f}, {{0, 0.7310586}, {1, 0.2689414}});
}

TEST_CASE("sampler: top-k = 1 is greedy") {
    for (uint64_t seed = 1; seed <= 50; ++seed) {
        const std::vector<float> logits = randn(100, seed, 2.0f);
        const std::vector<int32_t> history = {int32_t(seed % 100), int32_t(seed * 7 % 100)};
        SamplerParams p = params(0.8f, seed);
        p.topK = 1, p.repeatPenalty = 1.3f;
        SamplerParams g = params(0.0f);
        g.repeatPenalty = 1.3f;
        Sampler topOne(p), greedy(g);
        CHECK(topOne.sample(logits, history) == greedy.sample(logits, history));
    }
    SamplerParams p = params(1.0f);
    p.topK = 1;
    Sampler s(p);
    CHECK(s.sample(std::vector<float>{1.0f, 4.0f, 4.0f, 2.0f}, {}) == 1);  // the same tie rule
}

TEST_CASE("sampler: top-p keeps the smallest prefix whose mass reaches p") {
    // p = 0.15, 0.5, 0.1, 0.25 for ids 0..3: sorted 0.5 (1), 0.25 (3), 0.15 (0), 0.1 (2);
    // cumulative 0.5, 0.75, 0.9, 1 (every threshold below is 0.05 or more from one of these)
    const std::vector<float> logits = logitsOf({0.15, 0.5, 0.1, 0.25});
    SamplerParams p = params(1.0f);
    p.topP = 0.7f;  // 0.5 < 0.7 <= 0.75: two tokens, renormalised over 0.75
    checkBoth(p, logits, {{1, 2.0 / 3.0}, {3, 1.0 / 3.0}});
    p.topP = 0.8f;  // 0.75 < 0.8 <= 0.9: three tokens over 0.9
    checkBoth(p, logits, {{1, 0.5 / 0.9}, {3, 0.25 / 0.9}, {0, 0.15 / 0.9}});
    p.topP = 0.4f;  // the most likely token alone reaches it: every draw is that token
    checkBoth(p, logits, {{1, 1.0}});
    p.topP = 1.0f;  // off
    checkBoth(p, logits, {{1, 0.5}, {3, 0.25}, {0, 0.15}, {2, 0.1}});
}

TEST_CASE("sampler: min-p keeps the tokens with p >= min_p * p_max") {
    const std::vector<float> logits = logitsOf({0.15, 0.5, 0.1, 0.25});
    SamplerParams p = params(1.0f);
    p.minP = 0.25f;  // threshold 0.125: 0.5, 0.25, 0.15 stay, over 0.9
    checkBoth(p, logits, {{1, 0.5 / 0.9}, {3, 0.25 / 0.9}, {0, 0.15 / 0.9}});
    p.minP = 0.4f;  // threshold 0.2: 0.5, 0.25 stay, over 0.75
    checkBoth(p, logits, {{1, 2.0 / 3.0}, {3, 1.0 / 3.0}});
    p.minP = 0.6f;  // threshold 0.3: only the most likely
    checkBoth(p, logits, {{1, 1.0}});

    // relative to the most likely token, not absolute: with p_max = 0.2, min_p 0.6 is a
    // threshold of 0.12 (an absolute 0.6 would keep nothing): 0.2, 0.2, 0.15, 0.15 over 0.7
    p.minP = 0.6f;
    checkBoth(p, logitsOf({0.2, 0.1, 0.2, 0.05, 0.15, 0.1, 0.15, 0.05}),
              {{0, 0.2 / 0.7}, {2, 0.2 / 0.7}, {4, 0.15 / 0.7}, {6, 0.15 / 0.7}});
    // eight equal tokens (p = 0.125 each) all pass min_p 0.9
    p.minP = 0.9f;
    Dist uniform;
    for (int32_t i = 0; i < 8; ++i) uniform.push_back({i, 0.125});
    checkBoth(p, std::vector<float>(8, 0.3f), uniform);
}

// llama.cpp's penalty_repeat (llama_sampler_penalties_apply) does the same: a token seen in the
// last penalty_last_n tokens has its logit divided by the penalty when positive and multiplied
// by it otherwise, once however often it occurs.
TEST_CASE("sampler: repetition penalty divides positive and multiplies negative logits of recent tokens") {
    const std::vector<float> logits = {2.0f, -1.0f, 1.5f, 0.5f, 0.0f};
    SamplerParams p = params(1.0f);
    p.repeatPenalty = 2.0f;
    // ids 0, 1, 4 are recent: 2 -> 1, -1 -> -2, 0 stays 0; softmax of {1, -2, 1.5, 0.5, 0}
    const std::vector<int32_t> history = {0, 1, 0, 4};
    const Dist penalised = {{2, 0.4488859}, {0, 0.2722631}, {3, 0.1651359}, {4, 0.1001600}, {1, 0.0135552}};
    checkBoth(p, logits, penalised, history);
    // once per token, however often it occurs; ids outside the vocabulary are ignored
    Sampler s(p);
    checkCandidates(s, logits, penalised, {0, 0, 0, 1, 4, 4, -1, 99});

    // the window: repeatLastN = 2 sees only ids 1 and 2: {2, -2, 0.75, 0.5, 0}
    p.repeatLastN = 2;
    Sampler w(p);
    checkCandidates(w, logits, {{0, 0.6012196}, {2, 0.1722523}, {3, 0.1341502}, {4, 0.0813662}, {1, 0.0110117}},
                    {0, 1, 2});
    // repeatLastN = 0: no penalty; < 0: the whole history. Ids 0 and 1 lie 100 tokens back,
    // outside the default window of 64 (where only id 4, whose logit 0 does not change, is seen).
    const Dist unpenalised = {{0, 0.4963313}, {2, 0.3010402}, {3, 0.1107465}, {4, 0.0671711}, {1, 0.0247109}};
    p.repeatLastN = 0;
    Sampler off(p);
    checkCandidates(off, logits, unpenalised, history);
    std::vector<int32_t> longHistory = {0, 1};
    longHistory.resize(100, 4);
    p.repeatLastN = 64;
    Sampler recent(p);
    checkCandidates(recent, logits, unpenalised, longHistory);
    p.repeatLastN = -1;
    Sampler all(p);
    checkCandidates(all, logits, penalised, longHistory);

    // greedy after the penalty: id 2 instead of 0; logprob still under the unpenalised logits
    SamplerParams g = params(0.0f);
    g.repeatPenalty = 2.0f;
    Sampler greedy(g);
    float lp = 0;
    CHECK(greedy.sample(logits, history, &lp) == 2);
    CHECK(lp == doctest::Approx(std::log(0.3010402)).epsilon(1e-5));
    CHECK(greedy.sample(logits, {}) == 0);
}

TEST_CASE("sampler: the seed makes runs reproducible") {
    const std::vector<float> logits = randn(16, 9, 0.5f);
    auto run = [&](uint64_t seed, int n) {
        Sampler s(params(1.0f, seed));
        std::vector<int32_t> out;
        for (int i = 0; i < n; ++i) out.push_back(s.sample(logits, {}));
        return out;
    };
    const auto a = run(42, 200), b = run(42, 200), c = run(43, 200);
    CHECK(a == b);
    CHECK(a != c);
    int changes = 0;  // the generator advances: the draws are not one repeated token
    for (size_t i = 1; i < a.size(); ++i) changes += a[i] != a[i - 1];
    CHECK(changes > 100);

    // one random number per sampled token, also when a single candidate is left (-inf logits
    // are no candidates): the tokens after such a step are those of the seed's plain sequence
    const std::vector<float> forced = {-INFINITY, -INFINITY, 5.0f, -INFINITY, -INFINITY, -INFINITY, -INFINITY,
                                       -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY,
                                       -INFINITY, -INFINITY, -INFINITY};
    Sampler s(params(1.0f, 42));
    REQUIRE(s.candidates(forced, {}).size() == 1);
    CHECK(s.sample(logits, {}) == a[0]);
    CHECK(s.sample(forced, {}) == 2);
    for (size_t i = 2; i < 50; ++i) CHECK(s.sample(logits, {}) == a[i]);
}

TEST_CASE("sampler: the order of the filters") {
    SamplerParams p = params(1.0f);
    // the penalty comes first: top-k = 1 sees {1.5, 2.5, 1}, not {3, 2.5, 1}
    p.repeatPenalty = 2.0f, p.topK = 1;
    Sampler penaltyFirst(p);
    checkCandidates(penaltyFirst, {3.0f, 2.5f, 1.0f}, {{1, 1.0}}, {0});

    // top-p applies to the distribution renormalised after top-k: p = 0.4, 0.3, 0.2, 0.1;
    // top-k 2 leaves 4/7, 3/7, and 4/7 alone reaches top-p 0.5 (without top-k, 0.4 does not)
    const std::vector<float> four = logitsOf({0.4, 0.3, 0.2, 0.1});
    p = params(1.0f);
    p.topP = 0.5f;
    checkBoth(p, four, {{0, 4.0 / 7.0}, {1, 3.0 / 7.0}});
    p.topK = 2;
    checkBoth(p, four, {{0, 1.0}});

    // temperature comes before top-p: logits {2, 1, 0} give p = 0.665, 0.245, 0.090 at T = 1
    // (two tokens reach 0.7) and 0.867, 0.117, 0.016 at T = 0.5 (one does). llama.cpp's chain,
    // temperature last, would keep two tokens here and draw them with p = 0.881, 0.119.
    const std::vector<float> three = {2.0f, 1.0f, 0.0f};
    p = params(1.0f);
    p.topP = 0.7f;
    checkBoth(p, three, {{0, 0.7310586}, {1, 0.2689414}});
    p.temperature = 0.5f;
    checkBoth(p, three, {{0, 1.0}});
    // and before min-p: p1 / p0 = e^-1 = 0.37 at T = 1 passes min_p 0.3, e^-2 = 0.14 at T = 0.5 does not
    p = params(1.0f);
    p.minP = 0.3f;
    checkBoth(p, three, {{0, 0.7310586}, {1, 0.2689414}});
    p.temperature = 0.5f;
    checkBoth(p, three, {{0, 1.0}});

    // top-p and min-p both cut the sorted list, so the stricter one decides
    const std::vector<float> probs = logitsOf({0.5, 0.25, 0.15, 0.1});
    p = params(1.0f);
    p.topP = 0.8f, p.minP = 0.4f;  // top-p keeps 3, min-p 2
    checkBoth(p, probs, {{0, 2.0 / 3.0}, {1, 1.0 / 3.0}});
    p.topP = 0.7f, p.minP = 0.25f;  // top-p keeps 2, min-p 3
    checkBoth(p, probs, {{0, 2.0 / 3.0}, {1, 1.0 / 3.0}});
}
