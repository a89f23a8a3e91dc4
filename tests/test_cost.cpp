// Bytes and FLOPs per token (model/cost.h) on generated models of known shapes, against sums
// written out by hand from the shapes: Q8_0 llama (untied and tied lm head) and F16 qwen2moe
// (biases and the shared expert, whose 1-D tensors the device holds as F32).
#include <doctest/doctest.h>

#include "model/cost.h"
#include "synth_models.h"

using namespace moe;
using namespace moe::test;

namespace {

// The default llama test shape: n_embd 64, 2 layers, 4 heads (kv 2) of 16, 8 experts top-2 of
// FFN 32, vocabulary 512. Q8_0 rows of 64 values are 2 blocks = 68 bytes, of 32 values 34 bytes.
SynthSpec llamaQ8(bool tied) {
    SynthSpec s = synthSpecFor(Arch::Llama);
    s.weightType = GgmlType::Q8_0;
    s.tiedOutput = tied;
    return s;
}

}  // namespace

TEST_CASE("decode bytes of a Q8_0 llama model, by hand") {
    auto m = loadSynth("cost_llama_q8", llamaQ8(false));
    const uint64_t norms = 2 * 64 * 4;                 // attn_norm + ffn_norm, F32
    const uint64_t attn = 64 * 68 + 2 * (32 * 68) + 64 * 68;  // wq (64 rows), wk, wv (32 rows), wo (64 rows)
    const uint64_t router = 8 * 68;
    const uint64_t perLayer = norms + attn + router;
    CHECK(perLayer == 14112);
    const uint64_t expert = 32 * 68 + 32 * 68 + 64 * 34;  // gate, up (32 rows of 64), down (64 rows of 32)
    CHECK(expertBytes(*m->plan.layers[0].moe()) == expert);

    const uint32_t two[] = {2, 2};
    TokenBytes b = decodeBytes(*m, two, 0);
    CHECK(b.dense == 2 * perLayer + 64 * 4);  // + output_norm
    CHECK(b.experts == 4 * expert);
    CHECK(b.lmHead == 512 * 68);
    CHECK(b.embedding == 68);
    CHECK(b.kv == 2 * 2 * 1 * 32 * 4);  // layers x (K, V) x positions 0..0 x kv width x f32
    CHECK(b.total() == b.dense + b.experts + b.lmHead + b.embedding + b.kv);

    // what the router actually chose: one layer with a single expert, and a later position
    const uint32_t mixed[] = {1, 2};
    TokenBytes c = decodeBytes(*m, mixed, 99);
    CHECK(c.experts == 3 * expert);
    CHECK(c.kv == 2 * 2 * 100 * 32 * 4);
    CHECK(c.dense == b.dense);
}

TEST_CASE("a tied lm head reads token_embd") {
    auto m = loadSynth("cost_llama_q8_tied", llamaQ8(true));
    const uint32_t two[] = {2, 2};
    CHECK(decodeBytes(*m, two, 0).lmHead == 512 * 68);
    CHECK(decodeBytes(*m, two, 0).lmHead == m->plan.tokenEmbd.nBytes);
}

TEST_CASE("decode bytes of an F16 qwen2moe model: biases and the shared expert") {
    SynthSpec s = synthSpecFor(Arch::Qwen2Moe);  // 4 heads of 16 (kv 4), 4 experts top-2, FFN 32, shared 64
    s.weightType = GgmlType::F16;
    auto m = loadSynth("cost_qwen2_f16", s);
    const uint64_t E = 64, HD = 64, KVD = 64, NE = 4, F = 32, FS = 64;
    const uint64_t perLayer = 2 * E * 4                      // norms
                              + 2 * (HD * E + 2 * KVD * E + E * HD)  // q, k, v, o
                              + 4 * (HD + 2 * KVD)                  // q/k/v biases as F32
                              + 2 * NE * E                          // router
                              + 4 * E                               // shared-expert gate row as F32
                              + 2 * (2 * FS * E + E * FS);          // shared expert gate, up, down
    const uint32_t k[] = {2, 2};
    TokenBytes b = decodeBytes(*m, k, 3);
    CHECK(b.dense == 2 * perLayer + E * 4);
    CHECK(b.experts == 2 * 2 * (2 * 3 * F * E));
    CHECK(b.kv == 2 * 2 * 4 * KVD * 4);
}

TEST_CASE("FLOPs per token of the llama model, by hand") {
    auto m = loadSynth("cost_llama_q8", llamaQ8(false));
    const double dense = 2.0 * (64 * 64 + 2 * 32 * 64 + 64 * 64 + 8 * 64);  // q, k, v, o, router
    const double expert = 2.0 * 3 * 32 * 64;
    const double attn0 = 4.0 * 4 * 16 * 1;  // q·k and the value sum over 1 key, 4 heads of 16
    const double lmHead = 2.0 * 512 * 64;
    const uint32_t two[] = {2, 2};
    CHECK(tokenFlops(*m, two, 0, true) == doctest::Approx(2 * (dense + 2 * expert + attn0) + lmHead));
    CHECK(tokenFlops(*m, two, 0, false) == doctest::Approx(2 * (dense + 2 * expert + attn0)));
    // a prefill of 3 tokens: keys 1, 2, 3 and the lm head once
    CHECK(prefillFlops(*m, 3) == doctest::Approx(3 * 2 * (dense + 2 * expert) + 2 * attn0 * (1 + 2 + 3) + lmHead));
}
