// The whole Vulkan forward pass vs the CPU reference forward pass on generated models of every
// architecture: prefill logits, 32 greedy decode steps with identical tokens, batch prefill
// equal to token-by-token prefill, and the context-length error.
#include <doctest/doctest.h>

#include <algorithm>

#include "cpu/forward.h"
#include "cpu/nmse.h"
#include "gpu_env.h"
#include "runtime/vk_forward.h"
#include "synth_models.h"

using namespace moe;
using namespace moe::test;

namespace {

int32_t argmax(const float* v, size_t n) { return int32_t(std::max_element(v, v + n) - v); }

struct Case {
    const char* name;
    Arch arch;
    GgmlType type;
    bool mixed;
};

void compareWithCpu(const Case& c) {
    std::string caseName = c.name;
    CAPTURE(caseName);
    ValidationGuard guard;
    SynthSpec spec = synthSpecFor(c.arch);
    spec.weightType = c.type;
    spec.mixed = c.mixed;
    if (c.mixed || c.type == GgmlType::Q4_K || c.type == GgmlType::Q6_K) spec.n_embd = 256, spec.head_dim = 256 / spec.n_head, spec.n_ff_exp = 256, spec.n_ff_shexp = 256;
    auto model = loadSynth(std::string("fwd_") + c.name, spec);
    const uint32_t V = model->cfg.n_vocab;
    auto& dev = GpuEnv::dev();
    rt::ForwardOptions fo;
    fo.nCtx = 96;
    fo.maxBatch = 16;  // the 40-token prompt runs as 3 batches
    auto vk = rt::VkForward::create(dev, *model, fo);
    REQUIRE_MESSAGE(vk.ok(), vk.error().message);
    cpu::CpuForward ref(*model, 96);

    auto prompt = model->tokenizer->encode("The quick brown fox jumps over the lazy dog. Routing is learned; experts specialise on text.", true, false);
    prompt.resize(std::min<size_t>(prompt.size(), 40));
    REQUIRE(prompt.size() >= 8);
    const uint32_t n = uint32_t(prompt.size());

    // prefill: every position's logits
    std::vector<float> lg(size_t(n) * V), lc(size_t(n) * V);
    REQUIRE(vk.value()->forward(prompt.data(), n, 0, lg.data(), true).ok());
    REQUIRE(ref.forward(prompt.data(), n, 0, lc.data(), true).ok());
    const double e0 = cpu::nmse(lc.data(), lg.data(), lc.size());
    MESSAGE(std::string(c.name), ": prefill logits NMSE ", e0);
    CHECK(e0 < 1e-6);

    // 32 greedy decode steps: identical tokens, close logits
    std::vector<float> g(V), r(V);
    int32_t tg = argmax(lg.data() + size_t(n - 1) * V, V), tc = argmax(lc.data() + size_t(n - 1) * V, V);
    REQUIRE(tg == tc);
    double worst = 0;
    for (uint32_t s = 0; s < 32; ++s) {
        REQUIRE(vk.value()->forward(&tg, 1, n + s, g.data(), false).ok());
        REQUIRE(ref.forward(&tc, 1, n + s, r.data(), false).ok());
        worst = std::max(worst, cpu::nmse(r.data(), g.data(), V));
        tg = argmax(g.data(), V);
        tc = argmax(r.data(), V);
        REQUIRE_MESSAGE(tg == tc, "greedy tokens diverge at step ", s);
    }
    MESSAGE(std::string(c.name), ": worst decode logits NMSE ", worst);
    CHECK(worst < 1e-6);

    // batch prefill == token-by-token prefill (Vulkan)
    std::vector<float> one(V);
    for (uint32_t i = 0; i < n; ++i) REQUIRE(vk.value()->forward(&prompt[i], 1, i, one.data(), false).ok());
    const double e1 = cpu::nmse(lg.data() + size_t(n - 1) * V, one.data(), V);
    CHECK(e1 < 1e-8);

    // the context length is enforced with a clear error
    auto st = vk.value()->forward(prompt.data(), 2, 95, one.data(), false);
    REQUIRE(!st.ok());
    CHECK(st.message().find("context length 96 exceeded") != std::string::npos);
}

}  // namespace

TEST_CASE("Vulkan forward == CPU reference: llama (Mixtral layout), F32") { compareWithCpu({"llama_f32", Arch::Llama, GgmlType::F32, false}); }
TEST_CASE("Vulkan forward == CPU reference: qwen2moe (shared expert), F32") { compareWithCpu({"qwen2moe_f32", Arch::Qwen2Moe, GgmlType::F32, false}); }
TEST_CASE("Vulkan forward == CPU reference: qwen3moe (per-head qk norm), F32") { compareWithCpu({"qwen3moe_f32", Arch::Qwen3Moe, GgmlType::F32, false}); }
TEST_CASE("Vulkan forward == CPU reference: olmoe (full qk norm), F32") { compareWithCpu({"olmoe_f32", Arch::Olmoe, GgmlType::F32, false}); }
TEST_CASE("Vulkan forward == CPU reference: qwen2moe Q8_0") { compareWithCpu({"qwen2moe_q8_0", Arch::Qwen2Moe, GgmlType::Q8_0, false}); }
TEST_CASE("Vulkan forward == CPU reference: olmoe mixed Q8_0/Q4_K/Q6_K") { compareWithCpu({"olmoe_mixed", Arch::Olmoe, GgmlType::F32, true}); }
TEST_CASE("Vulkan forward == CPU reference: llama mixed types") { compareWithCpu({"llama_mixed", Arch::Llama, GgmlType::F32, true}); }
TEST_CASE("Vulkan forward == CPU reference: qwen3moe F16") { compareWithCpu({"qwen3moe_f16", Arch::Qwen3Moe, GgmlType::F16, false}); }
