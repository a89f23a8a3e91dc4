// Routing policies on the Vulkan forward pass vs the CPU reference, on generated models of every
// architecture (and a Q8_0 one): identical selections (ids, counts) and weights/probabilities
// within 1e-5 for a prompt (several prefill batches) and decode steps; `model` equal to no policy bit
// for bit; setRouting errors. A skipped case measures decode tok/s with the routing record's
// host copy on and off (run it with: test_gpu_routing --no-skip -tc="*overhead*").
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "cpu/routing_policy.h"
#include "gpu_env.h"
#include "runtime/backend.h"
#include "runtime/vk_forward.h"
#include "synth_models.h"

using namespace moe;
using namespace moe::test;

namespace {

int32_t argmax(const std::vector<float>& v) { return int32_t(std::max_element(v.begin(), v.end()) - v.begin()); }

std::vector<cpu::RouterParams> resolveText(const std::string& text, const Model& m) {
    auto p = routing::parsePolicy({text});
    REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.error().message));
    auto r = routing::resolve(*p, m);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return std::move(r).value();
}

// GPU and CPU routing of the same step: identical selections, close weights and probabilities.
void compareRouting(const rt::RoutingRecord& g, const rt::RoutingRecord& c, const std::string& what) {
    CAPTURE(what);
    REQUIRE(g.nTok == c.nTok);
    REQUIRE(g.nLayer == c.nLayer);
    REQUIRE(g.kMax == c.kMax);
    REQUIRE(g.ids.size() == c.ids.size());
    REQUIRE(g.probs.size() == c.probs.size());
    int idMismatch = 0;
    double wErr = 0, pErr = 0;
    for (uint32_t l = 0; l < g.nLayer; ++l)
        for (uint32_t t = 0; t < g.nTok; ++t) {
            const bool same = g.countAt(l, t) == c.countAt(l, t) &&
                              std::equal(g.idsAt(l, t), g.idsAt(l, t) + g.kMax, c.idsAt(l, t));
            if (!same && idMismatch++ < 3)
                MESSAGE(what, ": layer ", l, " token ", t, ": GPU selects ", g.countAt(l, t), " experts, CPU ", c.countAt(l, t),
                        " (first ", g.idsAt(l, t)[0], " vs ", c.idsAt(l, t)[0], ")");
            for (uint32_t j = 0; j < g.kMax; ++j)
                wErr = std::max(wErr, double(std::fabs(g.weightsAt(l, t)[j] - c.weightsAt(l, t)[j])));
        }
    for (size_t i = 0; i < g.probs.size(); ++i) pErr = std::max(pErr, double(std::fabs(g.probs[i] - c.probs[i])));
    CHECK_MESSAGE(idMismatch == 0, what, ": ", idMismatch, " (layer, token) selections differ");
    CHECK_MESSAGE(wErr <= 1e-5, what, ": weights differ by ", wErr);
    CHECK_MESSAGE(pErr <= 1e-5, what, ": probabilities differ by ", pErr);
}

struct ArchCase {
    const char* name;
    Arch arch;
    GgmlType type;
    const char* variant = "";
};
const ArchCase kArchs[] = {{"llama", Arch::Llama, GgmlType::F32},
                           {"deepseek2", Arch::Deepseek2, GgmlType::F32, "v2-lite"},
                           {"deepseek2_v3", Arch::Deepseek2, GgmlType::F32, "v3"},
                           {"qwen2moe", Arch::Qwen2Moe, GgmlType::F32},
                           {"qwen3moe", Arch::Qwen3Moe, GgmlType::F32},
                           {"olmoe", Arch::Olmoe, GgmlType::F32},
                           {"qwen3moe_q8_0", Arch::Qwen3Moe, GgmlType::Q8_0}};

// Policies valid for every generated model (2 layers, >= 4 experts).
const char* kPolicies[] = {
    "model",
    "topk:1",
    "topk:3",
    "topk:1,3",
    "topp:0.5",
    "topp:0.8:3",
    "mask:*:0",
    "mask:0:1,2 force:1:3",
    "topk:3 scale:*:0:2.5 scale:1:2:0.25",
    "topp:0.6:3 mask:*:1 force:0:2",
    "force:*:0,1,2",
};

}  // namespace

TEST_CASE("routing policies: Vulkan selections equal the CPU reference's, every architecture") {
    for (const ArchCase& ac : kArchs) {
        ValidationGuard guard;
        SynthSpec spec = synthVariant(ac.arch, ac.variant).value();
        spec.weightType = ac.type;
        if (ac.arch == Arch::Deepseek2) spec.n_layer = 2;  // a dense layer, then an MoE one: 2 layers as the K lists say
        auto model = loadSynth(std::string("routing_") + ac.name, spec);
        const uint32_t V = model->cfg.n_vocab;
        rt::ForwardOptions fo;
        fo.nCtx = 64;
        fo.maxBatch = 16;  // the prompt runs as two batches
        auto vk = rt::VkForward::create(GpuEnv::dev(), *model, fo);
        REQUIRE_MESSAGE(vk.ok(), (vk.ok() ? std::string() : vk.error().message));
        rt::BackendOptions bo;
        bo.cpu = true;
        bo.nCtx = 64;
        auto cpu = rt::createBackend(*model, bo);
        REQUIRE(cpu.ok());

        auto prompt = model->tokenizer->encode("Experts are chosen per token; the router decides which ones run.", true, false);
        prompt.resize(std::min<size_t>(prompt.size(), 24));
        REQUIRE(prompt.size() > 16);
        const uint32_t n = uint32_t(prompt.size());
        for (const char* policy : kPolicies) {
            const std::string what = std::string(ac.name) + " / " + policy;
            const auto params = resolveText(policy, *model);
            REQUIRE_MESSAGE(vk.value()->setRouting(params).ok(), what);
            REQUIRE_MESSAGE(cpu.value()->setRouting(params).ok(), what);
            std::vector<float> lg(V), lc(V);
            REQUIRE(vk.value()->forward(prompt.data(), n, 0, lg.data(), false).ok());
            REQUIRE(cpu.value()->forward(prompt.data(), n, 0, lc.data(), false).ok());
            compareRouting(vk.value()->lastRouting(), *cpu.value()->lastRouting(), what + " (prompt)");
            // decode steps, both fed the CPU reference's greedy tokens
            for (uint32_t s = 0; s < 6; ++s) {
                int32_t next = argmax(lc);
                REQUIRE(vk.value()->forward(&next, 1, n + s, lg.data(), false).ok());
                REQUIRE(cpu.value()->forward(&next, 1, n + s, lc.data(), false).ok());
                compareRouting(vk.value()->lastRouting(), *cpu.value()->lastRouting(),
                               what + " (decode " + std::to_string(s) + ")");
            }
        }
    }
}

TEST_CASE("routing policies: `model` equals no policy, bit for bit (Vulkan and CPU)") {
    ValidationGuard guard;
    auto model = loadSynth("routing_qwen2moe", synthSpecFor(Arch::Qwen2Moe));
    const uint32_t V = model->cfg.n_vocab;
    rt::ForwardOptions fo;
    fo.nCtx = 64;
    fo.maxBatch = 16;
    auto prompt = model->tokenizer->encode("Bit for bit: the model's own routing.", true, false);
    const uint32_t n = uint32_t(prompt.size());
    auto run = [&](rt::VkForward& f, std::vector<float>& logits) {
        logits.assign(size_t(n) * V, 0.0f);
        REQUIRE(f.forward(prompt.data(), n, 0, logits.data(), true).ok());
    };
    auto plain = rt::VkForward::create(GpuEnv::dev(), *model, fo);
    auto steered = rt::VkForward::create(GpuEnv::dev(), *model, fo);
    REQUIRE((plain.ok() && steered.ok()));
    std::vector<float> a, b;
    run(*plain.value(), a);
    // a different policy first, then back to `model`
    REQUIRE(steered.value()->setRouting(resolveText("topp:0.5 mask:*:1", *model)).ok());
    run(*steered.value(), b);
    CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) != 0);
    REQUIRE(steered.value()->setRouting(resolveText("model", *model)).ok());
    run(*steered.value(), b);
    CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
    const rt::RoutingRecord& ra = plain.value()->lastRouting();
    const rt::RoutingRecord& rb = steered.value()->lastRouting();
    CHECK(ra.ids == rb.ids);
    CHECK(std::memcmp(ra.weights.data(), rb.weights.data(), ra.weights.size() * 4) == 0);
    CHECK(std::memcmp(ra.probs.data(), rb.probs.data(), ra.probs.size() * 4) == 0);

    rt::BackendOptions bo;
    bo.cpu = true;
    bo.nCtx = 64;
    auto c1 = rt::createBackend(*model, bo), c2 = rt::createBackend(*model, bo);
    REQUIRE((c1.ok() && c2.ok()));
    REQUIRE(c2.value()->setRouting(resolveText("model", *model)).ok());
    std::vector<float> x(size_t(n) * V), y(size_t(n) * V);
    REQUIRE(c1.value()->forward(prompt.data(), n, 0, x.data(), true).ok());
    REQUIRE(c2.value()->forward(prompt.data(), n, 0, y.data(), true).ok());
    CHECK(std::memcmp(x.data(), y.data(), x.size() * 4) == 0);
    CHECK(c1.value()->lastRouting()->ids == c2.value()->lastRouting()->ids);
}

TEST_CASE("routing policies: setRouting and recording errors and switches") {
    ValidationGuard guard;
    auto model = loadSynth("routing_qwen3moe", synthSpecFor(Arch::Qwen3Moe));
    rt::ForwardOptions fo;
    fo.nCtx = 32;
    auto vk = rt::VkForward::create(GpuEnv::dev(), *model, fo);
    REQUIRE(vk.ok());
    rt::VkForward& f = *vk.value();
    auto params = resolveText("model", *model);
    params.pop_back();
    CHECK(f.setRouting(params).message().find("1 layers of router parameters for a model with 2") != std::string::npos);
    params = resolveText("model", *model);
    params[1].kMax = 9;  // wider than the 8 experts
    CHECK(f.setRouting(params).message().find("kMax 9 is out of range 1..8") != std::string::npos);
    params = resolveText("model", *model);
    params[0].forced = {8};
    CHECK(f.setRouting(params).message().find("forced expert 8") != std::string::npos);
    // direct edits through routing() are checked before a step
    f.routing()[0].params.kMax = 65;
    std::vector<float> logits(model->cfg.n_vocab);
    int32_t tok = 1;
    CHECK(f.forward(&tok, 1, 0, logits.data(), false).message().find("kMax 65") != std::string::npos);
    REQUIRE(f.setRouting(resolveText("topk:4", *model)).ok());
    REQUIRE(f.forward(&tok, 1, 0, logits.data(), false).ok());
    CHECK(f.lastRouting().kMax == 4);
    CHECK(f.lastRouting().countAt(1, 0) == 4);
    // recording off: no host copy, the same logits
    std::vector<float> again(logits.size());
    f.setRecordRouting(false);
    REQUIRE(f.forward(&tok, 1, 0, again.data(), false).ok());
    CHECK(f.lastRouting().ids.empty());
    CHECK(again == logits);
    f.setRecordRouting(true);
}

TEST_CASE("routing record overhead: decode tok/s with the host copy on and off" * doctest::skip()) {
    // Its own instance without the validation layer (which would dominate the timing).
    vk::InstanceOptions io;
    auto inst = vk::Instance::create(io);
    REQUIRE(inst.ok());
    auto idx = inst.value()->chooseDevice(-1);
    REQUIRE(idx.ok());
    auto dev = vk::Device::create(*inst.value(), idx.value());
    REQUIRE(dev.ok());
    std::vector<std::unique_ptr<Model>> models;
    models.push_back(loadSynth("routing_qwen3moe", synthSpecFor(Arch::Qwen3Moe)));
    SynthSpec big = synthSpecFor(Arch::Qwen3Moe);
    big.n_layer = 8, big.n_expert = 64, big.n_expert_used = 8, big.n_embd = 256, big.head_dim = 64, big.n_ff_exp = 128;
    models.push_back(loadSynth("routing_bench", big));
    if (const char* path = std::getenv("MOESCOPE_BENCH_MODEL")) {
        auto m = loadModel(path);
        REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
        models.push_back(std::move(m).value());
    }
    for (const auto& model : models) {
        const uint32_t steps = 200;
        rt::ForwardOptions fo;
        fo.nCtx = steps + 8;
        auto f = rt::VkForward::create(*dev.value(), *model, fo);
        REQUIRE(f.ok());
        std::vector<float> logits(model->cfg.n_vocab);
        int32_t tok = 1;
        REQUIRE(f.value()->forward(&tok, 1, 0, logits.data(), false).ok());  // warm-up
        // alternate on/off every step so that load from other processes hits both alike
        std::vector<double> ms[2];
        for (uint32_t s = 1; s < steps; ++s) {
            const bool record = s % 2;
            f.value()->setRecordRouting(record);
            tok = argmax(logits);
            auto t0 = std::chrono::steady_clock::now();
            REQUIRE(f.value()->forward(&tok, 1, s, logits.data(), false).ok());
            ms[record].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        for (auto& v : ms) std::sort(v.begin(), v.end());
        const double off = 1000.0 / ms[0][ms[0].size() / 2], on = 1000.0 / ms[1][ms[1].size() / 2];
        const double offBest = 1000.0 / ms[0][0], onBest = 1000.0 / ms[1][0];
        MESSAGE(model->cfg.name, " (", model->cfg.block_count, " layers, ", model->cfg.expert_count, " experts, top-",
                model->cfg.expert_used_count, ") on ", dev.value()->caps().name, ": decode tok/s with / without the "
                "routing record's host copy: median ", on, " / ", off, ", best step ", onBest, " / ", offBest);
    }
}
