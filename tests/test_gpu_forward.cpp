// The whole Vulkan forward pass vs the CPU reference forward pass on generated models of every
// architecture: prefill logits, 32 greedy decode steps with identical tokens, batch prefill
// equal to token-by-token prefill, and the context-length error.
#include <doctest/doctest.h>

#include <algorithm>

#include "cpu/forward.h"
#include "cpu/nmse.h"
#include "cpu/quant.h"
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
    SynthMix mix = SynthMix::None;
    bool smallRows = false;  // keep the architecture's small rows (a mix then falls back to 32-blocks)
    uint32_t nExpert = 0;    // experts per layer, 0: the architecture's (fewer: a faster IQ quantizer search)
    const char* variant = "";  // synthVariant (deepseek2)
};

void compareWithCpu(const Case& c) {
    std::string caseName = c.name;
    CAPTURE(caseName);
    ValidationGuard guard;
    SynthSpec spec = synthVariant(c.arch, c.variant).value();
    spec.weightType = c.type;
    spec.mix = c.mix;
    if (c.nExpert) spec.n_expert = c.nExpert;
    if (!c.smallRows && (c.mix != SynthMix::None || cpu::blockSize(c.type) == 256)) {
        spec.n_embd = 256, spec.n_ff_exp = 256, spec.n_ff_shexp = 256, spec.n_ff_dense = 256;
        if (c.arch != Arch::Deepseek2) spec.head_dim = 256 / spec.n_head;  // MLA keeps its head sizes
    }
    auto model = loadSynth(std::string("fwd_") + c.name, spec);
    const uint32_t V = model->cfg.n_vocab;
    auto& dev = GpuEnv::dev();
    rt::ForwardOptions fo;
    fo.nCtx = 96;
    fo.maxBatch = 16;  // the 40-token prompt runs as 3 batches
    auto vk = rt::VkForward::create(dev, *model, fo);
    REQUIRE_MESSAGE(vk.ok(), (vk.ok() ? std::string() : vk.error().message));
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

TEST_CASE("Vulkan forward == CPU reference: llama (Mixtral layout), F32") { compareWithCpu({"llama_f32", Arch::Llama, GgmlType::F32}); }
TEST_CASE("Vulkan forward == CPU reference: qwen2moe (shared expert), F32") { compareWithCpu({"qwen2moe_f32", Arch::Qwen2Moe, GgmlType::F32}); }
TEST_CASE("Vulkan forward == CPU reference: qwen3moe (per-head qk norm), F32") { compareWithCpu({"qwen3moe_f32", Arch::Qwen3Moe, GgmlType::F32}); }
TEST_CASE("Vulkan forward == CPU reference: olmoe (full qk norm), F32") { compareWithCpu({"olmoe_f32", Arch::Olmoe, GgmlType::F32}); }
TEST_CASE("Vulkan forward == CPU reference: qwen2moe Q8_0") { compareWithCpu({"qwen2moe_q8_0", Arch::Qwen2Moe, GgmlType::Q8_0}); }
TEST_CASE("Vulkan forward == CPU reference: olmoe Q4_K_M-like (Q4_K/Q6_K)") { compareWithCpu({"olmoe_q4_k_m", Arch::Olmoe, GgmlType::F32, SynthMix::Q4_K_M}); }
TEST_CASE("Vulkan forward == CPU reference: llama Q4_K_M-like") { compareWithCpu({"llama_q4_k_m", Arch::Llama, GgmlType::F32, SynthMix::Q4_K_M}); }
TEST_CASE("Vulkan forward == CPU reference: qwen2moe Q4_K_M-like on short rows (Q5_0/Q8_0 fallbacks)") { compareWithCpu({"qwen2moe_q4_k_m_small", Arch::Qwen2Moe, GgmlType::F32, SynthMix::Q4_K_M, true}); }
TEST_CASE("Vulkan forward == CPU reference: qwen3moe Q5_K_M-like (Q5_K/Q6_K)") { compareWithCpu({"qwen3moe_q5_k_m", Arch::Qwen3Moe, GgmlType::F32, SynthMix::Q5_K_M}); }
TEST_CASE("Vulkan forward == CPU reference: olmoe IQ4_XS-like (IQ4_XS/Q5_K/Q6_K)") { compareWithCpu({"olmoe_iq4_xs", Arch::Olmoe, GgmlType::F32, SynthMix::IQ4_XS}); }
TEST_CASE("Vulkan forward == CPU reference: qwen2moe IQ4_XS-like on short rows (IQ4_NL/Q5_1 fallbacks)") { compareWithCpu({"qwen2moe_iq4_xs_small", Arch::Qwen2Moe, GgmlType::F32, SynthMix::IQ4_XS, true}); }
TEST_CASE("Vulkan forward == CPU reference: qwen2moe MXFP4 experts + Q8_0") { compareWithCpu({"qwen2moe_mxfp4", Arch::Qwen2Moe, GgmlType::F32, SynthMix::MXFP4_MOE}); }
TEST_CASE("Vulkan forward == CPU reference: qwen2moe low-bit mix (IQ1_S IQ1_M IQ2_XXS IQ2_XS IQ2_S IQ3_XXS IQ3_S Q2_K Q3_K)") { compareWithCpu({"qwen2moe_low_bit", Arch::Qwen2Moe, GgmlType::F32, SynthMix::LOW_BIT, false, 4}); }
TEST_CASE("Vulkan forward == CPU reference: qwen3moe F16") { compareWithCpu({"qwen3moe_f16", Arch::Qwen3Moe, GgmlType::F16}); }
// deepseek2: latent attention (CPU: keys/values expanded per head; Vulkan: absorbed MQA over the
// latent rows), a dense first layer, shared experts, YaRN past the original context (64), and
// the V3 router (sigmoid + bias, groups, scale)
TEST_CASE("Vulkan forward == CPU reference: deepseek2 V2-Lite-like (attn_q, softmax, YaRN), F32") { compareWithCpu({"deepseek2_v2lite_f32", Arch::Deepseek2, GgmlType::F32, SynthMix::None, false, 0, "v2-lite"}); }
TEST_CASE("Vulkan forward == CPU reference: deepseek2 V3-like (q LoRA, sigmoid + bias, 4 groups use 2), F32") { compareWithCpu({"deepseek2_v3_f32", Arch::Deepseek2, GgmlType::F32, SynthMix::None, false, 0, "v3"}); }
TEST_CASE("Vulkan forward == CPU reference: deepseek2 legacy attn_kv_b, Q8_0") { compareWithCpu({"deepseek2_legacy_q8_0", Arch::Deepseek2, GgmlType::Q8_0, SynthMix::None, false, 0, "legacy"}); }
TEST_CASE("Vulkan forward == CPU reference: deepseek2 V3-like Q4_K_M-like") { compareWithCpu({"deepseek2_v3_q4_k_m", Arch::Deepseek2, GgmlType::F32, SynthMix::Q4_K_M, false, 0, "v3"}); }
