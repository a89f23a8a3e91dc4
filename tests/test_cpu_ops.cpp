// CPU reference ops (engine/cpu/ops, router, moe) on hand-computed small examples, and the
// composite ops against naive recomputation.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "cpu/moe.h"
#include "cpu/nmse.h"
#include "cpu/ops.h"
#include "cpu/quant.h"
#include "cpu/router.h"

using namespace moe;
using namespace moe::cpu;

namespace {

// Dequantize a whole (rows, cols) tensor.
std::vector<float> dequantAll(GgmlType t, const uint8_t* w, int64_t rows, int64_t cols) {
    std::vector<float> out(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r) dequantizeRow(t, w + r * rowBytes(t, cols), out.data() + r * cols, cols);
    return out;
}

struct Routed {
    std::vector<int32_t> ids;
    std::vector<float> weights;
    std::vector<int32_t> counts;
    std::vector<float> probs;
};

Routed runRouter(const RouterParams& p, const std::vector<float>& logits, int64_t nExpert) {
    const int64_t nTok = int64_t(logits.size()) / nExpert;
    Routed r;
    r.ids.resize(size_t(nTok * p.kMax));
    r.weights.resize(size_t(nTok * p.kMax));
    r.counts.resize(size_t(nTok));
    r.probs.resize(logits.size());
    route(p, logits.data(), nTok, nExpert, r.ids.data(), r.weights.data(), r.counts.data(), r.probs.data());
    return r;
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

// ---------------------------------------------------------------- dense ops

TEST_CASE("getRows dequantizes the selected rows of every type") {
    const int64_t nRows = 5, nCols = 256;
    const auto table = randn(size_t(nRows * nCols), 1);
    const int32_t ids[3] = {4, 0, 4};
    for (GgmlType t : kWeightTypes) {
        CAPTURE(typeName(t));
        const auto q = quantizeRows(t, table.data(), nRows, nCols);
        const auto full = dequantAll(t, q.data(), nRows, nCols);
        std::vector<float> out(3 * nCols);
        getRows(t, q.data(), nCols, ids, 3, out.data());
        for (int i = 0; i < 3; ++i)
            for (int64_t c = 0; c < nCols; ++c)
                REQUIRE(out[size_t(i * nCols + c)] == full[size_t(ids[i] * nCols + c)]);
    }
}

TEST_CASE("matMul and matVec match a naive product over odd shapes") {
    for (GgmlType t : kWeightTypes) {
        const int64_t cols = blockSize(t) == 256 ? 512 : 96, rows = 7, nTok = 3;
        CAPTURE(typeName(t));
        const auto w = randn(size_t(rows * cols), 2);
        const auto x = randn(size_t(nTok * cols), 3);
        const auto q = quantizeRows(t, w.data(), rows, cols);
        const auto wd = dequantAll(t, q.data(), rows, cols);
        std::vector<float> y(size_t(nTok * rows)), ref(size_t(nTok * rows)), yv(static_cast<size_t>(rows));
        matMul(t, q.data(), rows, cols, x.data(), nTok, y.data());
        for (int64_t tok = 0; tok < nTok; ++tok)
            for (int64_t r = 0; r < rows; ++r) {
                double s = 0.0;
                for (int64_t c = 0; c < cols; ++c)
                    s += double(wd[size_t(r * cols + c)]) * double(x[size_t(tok * cols + c)]);
                ref[size_t(tok * rows + r)] = float(s);
            }
        CHECK(nmse(ref.data(), y.data(), y.size()) < 1e-12);
        matVec(t, q.data(), rows, cols, x.data() + cols, yv.data());
        for (int64_t r = 0; r < rows; ++r) CHECK(yv[size_t(r)] == y[size_t(rows + r)]);
    }
}

TEST_CASE("matMul: a 4096x1024 Q4_K weight with 8 tokens runs in reasonable time") {
    const int64_t rows = 4096, cols = 1024, nTok = 8;
    const auto w = randn(size_t(rows * cols), 4, 0.02f);
    const auto x = randn(size_t(nTok * cols), 5);
    const auto q = quantizeRows(GgmlType::Q4_K, w.data(), rows, cols);
    std::vector<float> y(size_t(nTok * rows));
    const auto t0 = std::chrono::steady_clock::now();
    matMul(GgmlType::Q4_K, q.data(), rows, cols, x.data(), nTok, y.data());
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE("matMul Q4_K 4096x1024 x 8 tokens: " << ms << " ms");
    CHECK(ms < 5000.0);
    // the product with the unquantized weights is close (quantization error only)
    std::vector<float> yf(y.size());
    matMul(GgmlType::F32, reinterpret_cast<const uint8_t*>(w.data()), rows, cols, x.data(), nTok, yf.data());
    CHECK(nmse(yf.data(), y.data(), y.size()) < 1e-2);
}

TEST_CASE("rmsNorm on a hand example, with and without weight") {
    const float x[8] = {1, 2, 3, 4, -2, 0, 0, 0};
    const float w[4] = {1, 0.5f, 2, -1};
    float y[8];
    rmsNorm(x, nullptr, 2, 4, 0.0f, y);
    const float s0 = 1.0f / std::sqrt(7.5f), s1 = 1.0f / std::sqrt(1.0f);
    for (int i = 0; i < 4; ++i) CHECK(y[i] == doctest::Approx(x[i] * s0));
    for (int i = 0; i < 4; ++i) CHECK(y[4 + i] == doctest::Approx(x[4 + i] * s1));
    rmsNorm(x, w, 2, 4, 1.0f, y);
    const float e0 = 1.0f / std::sqrt(8.5f);
    for (int i = 0; i < 4; ++i) CHECK(y[i] == doctest::Approx(x[i] * e0 * w[i]));
    // in place
    float z[4] = {3, 4, 0, 0};
    rmsNorm(z, nullptr, 1, 4, 0.0f, z);
    CHECK(z[0] == doctest::Approx(3.0f / std::sqrt(6.25f)));
}

TEST_CASE("rope on a known vector at position 1, normal and NeoX") {
    const float base = 10000.0f;
    const float t0 = 1.0f, t1 = 0.01f;  // pos * base^(-2i/4) for i = 0, 1
    const int32_t pos1 = 1;
    float x[4] = {1, 2, 3, 4};
    rope(x, 1, 1, 4, &pos1, 4, base, false);
    CHECK(x[0] == doctest::Approx(1 * std::cos(t0) - 2 * std::sin(t0)));
    CHECK(x[1] == doctest::Approx(1 * std::sin(t0) + 2 * std::cos(t0)));
    CHECK(x[2] == doctest::Approx(3 * std::cos(t1) - 4 * std::sin(t1)));
    CHECK(x[3] == doctest::Approx(3 * std::sin(t1) + 4 * std::cos(t1)));

    float n[4] = {1, 2, 3, 4};
    rope(n, 1, 1, 4, &pos1, 4, base, true);  // pairs (0, 2) and (1, 3)
    CHECK(n[0] == doctest::Approx(1 * std::cos(t0) - 3 * std::sin(t0)));
    CHECK(n[2] == doctest::Approx(1 * std::sin(t0) + 3 * std::cos(t0)));
    CHECK(n[1] == doctest::Approx(2 * std::cos(t1) - 4 * std::sin(t1)));
    CHECK(n[3] == doctest::Approx(2 * std::sin(t1) + 4 * std::cos(t1)));

    // partial rotation: dims >= nRot untouched; two heads, two tokens; position 0 is the identity
    const int32_t pos[2] = {0, 1};
    float p[16];
    for (int i = 0; i < 16; ++i) p[i] = float(i + 1);
    rope(p, 2, 2, 4, pos, 2, base, false);
    for (int i = 0; i < 8; ++i) CHECK(p[i] == float(i + 1));
    for (int h = 0; h < 2; ++h) {
        const float* v = p + 8 + 4 * h;
        const float a = float(9 + 4 * h), b = float(10 + 4 * h);
        CHECK(v[0] == doctest::Approx(a * std::cos(1.0f) - b * std::sin(1.0f)));
        CHECK(v[1] == doctest::Approx(a * std::sin(1.0f) + b * std::cos(1.0f)));
        CHECK(v[2] == float(11 + 4 * h));
        CHECK(v[3] == float(12 + 4 * h));
    }
}

TEST_CASE("softmax rows, stable for large inputs") {
    float x[5] = {1, 2, 3, 1000, 1000};
    softmax(x, 1, 3);
    const float d = std::exp(1.0f) + std::exp(2.0f) + std::exp(3.0f);
    CHECK(x[0] == doctest::Approx(std::exp(1.0f) / d));
    CHECK(x[2] == doctest::Approx(std::exp(3.0f) / d));
    softmax(x + 3, 1, 2);
    CHECK(x[3] == 0.5f);
    CHECK(x[4] == 0.5f);
}

TEST_CASE("attention: two tokens by hand, causal, grouped-query") {
    // headDim 2, one kv head shared by two query heads, positions 0 and 1
    const float k[4] = {1, 0, 0, 1};  // (nCtx 2, nHeadKv 1, headDim 2)
    const float v[4] = {1, 2, 3, 4};
    const float q[8] = {1, 1, 5, 5,    // token 0: head 0, head 1
                        2, 0, 0, 0};   // token 1: head 0, head 1
    float out[8];
    attention(q, k, v, 2, 2, 1, 2, 0, out);
    // token 0 sees only position 0
    CHECK(out[0] == 1.0f);
    CHECK(out[1] == 2.0f);
    CHECK(out[2] == 1.0f);
    CHECK(out[3] == 2.0f);
    // token 1 head 0: scores (2, 0) / sqrt(2)
    const double e = std::exp(2.0 / std::sqrt(2.0)), p0 = e / (e + 1.0), p1 = 1.0 / (e + 1.0);
    CHECK(out[4] == doctest::Approx(p0 * 1 + p1 * 3));
    CHECK(out[5] == doctest::Approx(p0 * 2 + p1 * 4));
    // token 1 head 1: q = 0 -> uniform
    CHECK(out[6] == doctest::Approx(2.0));
    CHECK(out[7] == doctest::Approx(3.0));

    // decoding token 1 alone (pos0 = 1) gives the same rows as the batch
    float one[4];
    attention(q + 4, k, v, 1, 2, 1, 2, 1, one);
    for (int i = 0; i < 4; ++i) CHECK(one[i] == out[4 + i]);

    // explicit scale
    attention(q + 4, k, v, 1, 2, 1, 2, 1, one, 0.5f);
    const double e2 = std::exp(1.0);
    CHECK(one[0] == doctest::Approx((e2 * 1 + 3) / (e2 + 1)));
}

TEST_CASE("attention: head h reads kv head h / (nHead / nHeadKv)") {
    // 4 query heads, 2 kv heads, one position: output = that kv head's value row
    const float k[4] = {0.3f, -1, 2, 0.5f};   // (1, 2, 2)
    const float v[4] = {10, 11, 20, 21};
    const auto q = randn(8, 9);
    float out[8];
    attention(q.data(), k, v, 1, 4, 2, 2, 0, out);
    const float expect[8] = {10, 11, 10, 11, 20, 21, 20, 21};
    for (int i = 0; i < 8; ++i) CHECK(out[i] == doctest::Approx(expect[i]));
}

TEST_CASE("swiglu and elementwise ops") {
    const float g[3] = {0, 1, -2}, u[3] = {5, 2, 3};
    float o[3];
    swiglu(g, u, o, 3);
    CHECK(o[0] == 0.0f);
    CHECK(o[1] == doctest::Approx(2.0 / (1.0 + std::exp(-1.0))));
    CHECK(o[2] == doctest::Approx(3.0 * -2.0 / (1.0 + std::exp(2.0))));
    add(g, u, o, 3);
    CHECK(o[2] == 1.0f);
    mul(g, u, o, 3);
    CHECK(o[1] == 2.0f);
    scale(u, 0.5f, o, 3);
    CHECK(o[0] == 2.5f);
    const float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {1, 0, -1};
    float r[6];
    mulRows(a, b, r, 2, 3);
    const float er[6] = {1, 0, -3, 4, 0, -6};
    for (int i = 0; i < 6; ++i) CHECK(r[i] == er[i]);
}

// ---------------------------------------------------------------- router

TEST_CASE("router: softmax top-k, tie rule, renormalisation") {
    RouterParams p;
    p.k = 2;
    p.kMax = 2;
    const std::vector<float> logits = {1, 3, 3, 2};
    auto r = runRouter(p, logits, 4);
    CHECK(r.counts[0] == 2);
    CHECK(r.ids[0] == 1);  // tie between 1 and 2: the lower id ranks first
    CHECK(r.ids[1] == 2);
    CHECK(r.weights[0] == doctest::Approx(0.5));
    CHECK(r.weights[1] == doctest::Approx(0.5));
    const double z = std::exp(1.0) + 2 * std::exp(3.0) + std::exp(2.0);
    CHECK(r.probs[1] == doctest::Approx(std::exp(3.0) / z));

    p.normalize = false;
    p.k = 3;
    p.kMax = 4;
    r = runRouter(p, logits, 4);
    CHECK(r.counts[0] == 3);
    CHECK(r.ids[2] == 3);
    CHECK(r.ids[3] == -1);  // padding
    CHECK(r.weights[3] == 0.0f);
    CHECK(r.weights[0] == doctest::Approx(std::exp(3.0) / z));
    CHECK(r.weights[2] == doctest::Approx(std::exp(2.0) / z));
}

TEST_CASE("router: 256 experts, k = 16, all tied -> ids 0..15; many tokens") {
    RouterParams p;
    p.k = 16;
    p.kMax = 16;
    std::vector<float> logits(2 * 256, 0.25f);
    logits[256 + 200] = 1.0f;  // token 1: expert 200 first, then 0..14
    auto r = runRouter(p, logits, 256);
    for (int j = 0; j < 16; ++j) CHECK(r.ids[size_t(j)] == j);
    CHECK(r.weights[0] == doctest::Approx(1.0 / 16));
    CHECK(r.ids[16] == 200);
    for (int j = 1; j < 16; ++j) CHECK(r.ids[size_t(16 + j)] == j - 1);
}

TEST_CASE("router: sigmoid with selection bias (DeepSeek-V3)") {
    RouterParams p;
    p.gating = Gating::Sigmoid;
    p.k = 2;
    p.kMax = 2;
    p.selectionBias = {0, 1, 0, 2};
    p.routedScale = 2.5f;
    const std::vector<float> logits = {0, 0, 1, -1};
    // scores for ranking: 0.5, 1.5, 0.731, 2.269 -> experts 3 then 1, weighted by the sigmoid only
    auto r = runRouter(p, logits, 4);
    CHECK(r.ids[0] == 3);
    CHECK(r.ids[1] == 1);
    const double s3 = sigmoid(-1.0f), s1 = 0.5;
    CHECK(r.weights[0] == doctest::Approx(2.5 * s3 / (s3 + s1)));
    CHECK(r.weights[1] == doctest::Approx(2.5 * s1 / (s3 + s1)));
    CHECK(r.probs[2] == doctest::Approx(sigmoid(1.0f)));
    p.normalize = false;
    r = runRouter(p, logits, 4);
    CHECK(r.weights[0] == doctest::Approx(2.5 * s3));
}

TEST_CASE("router: top-p counts") {
    // probabilities 0.5, 0.3, 0.15, 0.05 (given as log-probabilities)
    const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
    RouterParams p;
    p.selection = Selection::TopP;
    p.kMax = 4;
    const std::pair<float, int> cases[] = {{0.0f, 1}, {0.1f, 1}, {0.45f, 1}, {0.6f, 2}, {0.7f, 2},
                                           {0.85f, 3}, {0.9f, 3}, {0.97f, 4}, {1.0f, 4}};
    for (auto [topP, count] : cases) {
        CAPTURE(topP);
        p.topP = topP;
        auto r = runRouter(p, logits, 4);
        CHECK(r.counts[0] == count);
        double sum = 0.0;
        for (int j = 0; j < count; ++j) {
            CHECK(r.ids[size_t(j)] == j);
            sum += r.weights[size_t(j)];
        }
        CHECK(sum == doctest::Approx(1.0));
    }
    p.topP = 1.0f;
    p.kMax = 2;  // at most kMax
    auto r = runRouter(p, logits, 4);
    CHECK(r.counts[0] == 2);
    CHECK(r.weights[0] == doctest::Approx(0.5 / 0.8));
}

TEST_CASE("router: masks, forced experts, logit scale") {
    const std::vector<float> logits = {1, 3, 3, 2};
    RouterParams p;
    p.k = 2;
    p.kMax = 3;
    p.normalize = false;
    p.mask = {0, 1, 0, 0};
    auto r = runRouter(p, logits, 4);
    CHECK(r.counts[0] == 2);
    CHECK(r.ids[0] == 2);
    CHECK(r.ids[1] == 3);
    CHECK(r.probs[1] == 0.0f);
    // masked probability mass is renormalised over the rest
    const double z = std::exp(1.0) + std::exp(3.0) + std::exp(2.0);
    CHECK(r.weights[0] == doctest::Approx(std::exp(3.0) / z));
    CHECK(r.probs[0] + r.probs[2] + r.probs[3] == doctest::Approx(1.0));

    // force expert 0: it joins the selection, which is still k = 2, written in rank order
    p.mask.clear();
    p.forced = {0};
    r = runRouter(p, logits, 4);
    CHECK(r.counts[0] == 2);
    CHECK(r.ids[0] == 1);
    CHECK(r.ids[1] == 0);
    CHECK(r.ids[2] == -1);
    // forcing a masked expert does nothing; forcing more than k raises the count (up to kMax)
    p.mask = {1, 0, 0, 0};
    r = runRouter(p, logits, 4);
    CHECK(r.ids[0] == 1);
    CHECK(r.ids[1] == 2);
    p.mask.clear();
    p.forced = {3, 0, 3, 0};
    r = runRouter(p, logits, 4);
    CHECK(r.counts[0] == 2);
    CHECK(r.ids[0] == 3);
    CHECK(r.ids[1] == 0);
    p.forced = {3, 0, 2, 1};
    r = runRouter(p, logits, 4);
    CHECK(r.counts[0] == 3);

    // logit scale: expert 0's logit 1 -> 5 ranks it first
    p.forced.clear();
    p.logitScale = {5, 1, 1, 1};
    r = runRouter(p, logits, 4);
    CHECK(r.ids[0] == 0);
    CHECK(r.ids[1] == 1);
}

TEST_CASE("router: all experts masked selects nothing; entropy") {
    RouterParams p;
    p.k = 1;
    p.kMax = 1;
    p.mask = {1, 1};
    auto r = runRouter(p, {0.5f, 0.1f}, 2);
    CHECK(r.counts[0] == 0);
    CHECK(r.ids[0] == -1);
    const float u[4] = {0.25f, 0.25f, 0.25f, 0.25f};
    CHECK(entropy(u, 4) == doctest::Approx(std::log(4.0)));
    const float d[3] = {1, 0, 0};
    CHECK(entropy(d, 3) == 0.0f);
}

// ---------------------------------------------------------------- MoE

TEST_CASE("groupByExpert: counts, offsets, stable by token") {
    const int32_t ids[6] = {2, 0,   // token 0
                            0, 1,   // token 1
                            2, -1}; // token 2 (one empty slot)
    const ExpertGroups g = groupByExpert(ids, 3, 2, 4);
    CHECK(g.counts == std::vector<int32_t>{2, 1, 2, 0});
    CHECK(g.offsets == std::vector<int32_t>{0, 2, 3, 5, 5});
    CHECK(g.tokens == std::vector<int32_t>{0, 1, 1, 0, 2});
    CHECK(g.slots == std::vector<int32_t>{1, 0, 1, 0, 0});
}

TEST_CASE("expertMatMul equals per-slot matVec with the selected expert") {
    const int64_t nExpert = 8, rows = 5, cols = 256, nTok = 4, k = 2;
    const auto w = randn(size_t(nExpert * rows * cols), 11);
    const auto q = quantizeRows(GgmlType::Q4_K, w.data(), nExpert * rows, cols);
    const auto x = randn(size_t(nTok * k * cols), 12);
    const int32_t ids[8] = {7, 0, 3, 7, -1, 5, 0, 0};
    const uint64_t expertBytes = rows * rowBytes(GgmlType::Q4_K, cols);
    for (int64_t xSlots : {int64_t(1), k}) {
        std::vector<float> y(size_t(nTok * k * rows)), ref(static_cast<size_t>(rows));
        expertMatMul(GgmlType::Q4_K, q.data(), rows, cols, x.data(), xSlots, ids, nTok, k, y.data());
        for (int64_t t = 0; t < nTok; ++t)
            for (int64_t j = 0; j < k; ++j) {
                const float* yj = y.data() + (t * k + j) * rows;
                const int32_t e = ids[t * k + j];
                if (e < 0) {
                    for (int64_t r = 0; r < rows; ++r) CHECK(yj[r] == 0.0f);
                    continue;
                }
                const float* xj = x.data() + (t * xSlots + (xSlots == 1 ? 0 : j)) * cols;
                matVec(GgmlType::Q4_K, q.data() + e * expertBytes, rows, cols, xj, ref.data());
                for (int64_t r = 0; r < rows; ++r) CHECK(yj[r] == ref[size_t(r)]);
            }
    }
}

TEST_CASE("moeFfn equals the per-token weighted sum of SwiGLU experts") {
    const int64_t nExpert = 4, nEmbd = 64, nFf = 96, nTok = 3, k = 2;
    const auto gate = randn(size_t(nExpert * nFf * nEmbd), 21, 0.2f);
    const auto up = randn(size_t(nExpert * nFf * nEmbd), 22, 0.2f);
    const auto down = randn(size_t(nExpert * nEmbd * nFf), 23, 0.2f);
    const auto qg = quantizeRows(GgmlType::Q8_0, gate.data(), nExpert * nFf, nEmbd);
    const auto qu = quantizeRows(GgmlType::Q4_0, up.data(), nExpert * nFf, nEmbd);
    const auto qd = quantizeRows(GgmlType::F16, down.data(), nExpert * nEmbd, nFf);
    const auto x = randn(size_t(nTok * nEmbd), 24);
    const int32_t ids[6] = {1, 3, 0, -1, 2, 1};
    const float wts[6] = {0.7f, 0.3f, 1.0f, 0.0f, 0.25f, 0.75f};
    std::vector<float> out(size_t(nTok * nEmbd));
    moeFfn(x.data(), nTok, nEmbd, nFf, {GgmlType::Q8_0, qg.data()}, {GgmlType::Q4_0, qu.data()},
           {GgmlType::F16, qd.data()}, ids, wts, k, out.data());

    std::vector<float> ref(size_t(nTok * nEmbd), 0.0f);
    std::vector<float> g(static_cast<size_t>(nFf)), u(static_cast<size_t>(nFf)), d(static_cast<size_t>(nEmbd));
    for (int64_t t = 0; t < nTok; ++t)
        for (int64_t j = 0; j < k; ++j) {
            const int32_t e = ids[t * k + j];
            if (e < 0) continue;
            matVec(GgmlType::Q8_0, qg.data() + e * nFf * rowBytes(GgmlType::Q8_0, nEmbd), nFf, nEmbd,
                   x.data() + t * nEmbd, g.data());
            matVec(GgmlType::Q4_0, qu.data() + e * nFf * rowBytes(GgmlType::Q4_0, nEmbd), nFf, nEmbd,
                   x.data() + t * nEmbd, u.data());
            for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
            matVec(GgmlType::F16, qd.data() + e * nEmbd * rowBytes(GgmlType::F16, nFf), nEmbd, nFf, g.data(),
                   d.data());
            for (int64_t i = 0; i < nEmbd; ++i) ref[size_t(t * nEmbd + i)] += wts[t * k + j] * d[size_t(i)];
        }
    CHECK(nmse(ref.data(), out.data(), out.size()) < 1e-10);
    CHECK(maxAbsErr(ref.data(), out.data(), out.size()) < 1e-4);
}

TEST_CASE("nmse and maxAbsErr") {
    const float a[3] = {1, 2, 2}, b[3] = {1, 2, 3}, z[3] = {0, 0, 0};
    CHECK(nmse(a, b, 3) == doctest::Approx(1.0 / 9.0));
    CHECK(maxAbsErr(a, b, 3) == 1.0);
    CHECK(nmse(z, z, 3) == 0.0);
    const float bad[3] = {1, NAN, 2};
    CHECK(std::isinf(nmse(a, bad, 3)));
    CHECK(std::isinf(maxAbsErr(a, bad, 3)));
}
