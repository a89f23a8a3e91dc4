// The one backend stack: createBackend makes the CPU reference or the Vulkan pass from the same
// options, and both apply the same checks (context size, router parameters, live cache policy,
// expert-cache options) with the same messages, and fill the same routing record.
#include <doctest/doctest.h>

#include <algorithm>

#include "gpu_env.h"
#include "runtime/backend.h"
#include "runtime/session_backend.h"
#include "synth_models.h"

using namespace moe;
using namespace moe::test;

namespace {

std::unique_ptr<rt::Backend> make(const Model& m, bool cpu, uint32_t nCtx = 64) {
    rt::BackendOptions o;
    o.cpu = cpu;
    o.nCtx = nCtx;
    auto b = rt::createBackend(m, o, cpu ? nullptr : GpuEnv::get().instance.get());
    REQUIRE_MESSAGE(b.ok(), (b.ok() ? "" : b.error().message));
    return std::move(b).value();
}

std::string createError(const Model& m, rt::BackendOptions o) {
    auto b = rt::createBackend(m, o, o.cpu ? nullptr : GpuEnv::get().instance.get());
    return b.ok() ? std::string("(created)") : b.error().message;
}

}  // namespace

TEST_CASE("CPU and Vulkan backends refuse the same input with the same message") {
    const uint32_t v0 = GpuEnv::validationCount();
    auto m = loadSynth("backend_olmoe", synthSpecFor(Arch::Olmoe));
    const ModelConfig& c = m->cfg;
    auto cpu = make(*m, true), gpu = make(*m, false);
    CHECK(cpu->isCpu());
    CHECK_FALSE(gpu->isCpu());
    CHECK(cpu->nCtx() == 64);
    CHECK(gpu->nCtx() == 64);

    // context: 0 is the model's (capped at 4096), more than the model's is an error
    for (bool onCpu : {true, false}) {
        rt::BackendOptions o;
        o.cpu = onCpu;
        o.nCtx = c.context_length + 1;
        CHECK(createError(*m, o) == "context " + std::to_string(c.context_length + 1) +
                                        " exceeds the model's context length " + std::to_string(c.context_length));
    }
    // the expert cache, prefetch included, is refused on the CPU reference
    rt::BackendOptions pf;
    pf.cpu = true;
    pf.expertCache.prefetch = true;
    CHECK(createError(*m, pf).find("the expert cache is a Vulkan feature") == 0);

    // router parameters: one check, one message
    cpu::RouterParams wide;
    wide.k = 2;
    wide.kMax = int(c.expert_count) + 1;
    std::vector<cpu::RouterParams> bad(c.block_count, wide);
    const std::string want = "routing, layer 0: kMax " + std::to_string(c.expert_count + 1) + " is out of range 1.." +
                             std::to_string(c.expert_count);
    CHECK(cpu->setRouting(bad).message() == want);
    CHECK(gpu->setRouting(bad).message() == want);
    CHECK(cpu->setRouting({}).message() == gpu->setRouting({}).message());
    // the live cache policy: the same check with or without a cache
    CHECK(cpu->setCachePolicy(cache::Policy::Belady, {}).message() == gpu->setCachePolicy(cache::Policy::Belady, {}).message());
    CHECK(cpu->setCachePolicy(cache::Policy::Static, {}).message().find("static policy needs a hot set") != std::string::npos);
    REQUIRE(cpu->setCachePolicy(cache::Policy::LFU, {}).ok());
    CHECK(cpu->options().expertCache.policy == cache::Policy::LFU);

    // forward-step input: one check, one message
    std::vector<float> logits(c.n_vocab);
    const int32_t badTok = int32_t(c.n_vocab);
    CHECK(cpu->forward(&badTok, 1, 0, logits.data(), false).message() ==
          gpu->forward(&badTok, 1, 0, logits.data(), false).message());
    const int32_t tok = 1;
    CHECK(cpu->forward(&tok, 1, 5, logits.data(), false).message() == "forward: pos0 5 is past the 0 cached positions");
    CHECK(gpu->forward(&tok, 1, 5, logits.data(), false).message() == "forward: pos0 5 is past the 0 cached positions");
    CHECK(GpuEnv::validationCount() == v0);
}

TEST_CASE("both backends fill the same routing record") {
    const uint32_t v0 = GpuEnv::validationCount();
    auto m = loadSynth("backend_qwen2moe", synthSpecFor(Arch::Qwen2Moe));
    const ModelConfig& c = m->cfg;
    auto cpu = make(*m, true), gpu = make(*m, false);
    const std::vector<int32_t> prompt = {1, 7, 42, 99, 3, 250};
    std::vector<float> lc(c.n_vocab), lg(c.n_vocab);
    REQUIRE(cpu->forward(prompt.data(), uint32_t(prompt.size()), 0, lc.data(), false).ok());
    REQUIRE(gpu->forward(prompt.data(), uint32_t(prompt.size()), 0, lg.data(), false).ok());
    const rt::RoutingRecord* rc = cpu->lastRouting();
    const rt::RoutingRecord* rg = gpu->lastRouting();
    REQUIRE(rc);
    REQUIRE(rg);
    CHECK(rc->nTok == prompt.size());
    CHECK(rc->nLayer == c.block_count);
    CHECK(rc->nExpert == c.expert_count);
    CHECK(rc->kMax == c.expert_used_count);
    CHECK(rg->nTok == rc->nTok);
    CHECK(rg->kMax == rc->kMax);
    CHECK(rg->ids == rc->ids);
    CHECK(rg->counts == rc->counts);
    REQUIRE(rg->weights.size() == rc->weights.size());
    for (size_t i = 0; i < rc->weights.size(); ++i) CHECK(rg->weights[i] == doctest::Approx(rc->weights[i]).epsilon(1e-5));
    // recording off: no record on either backend
    cpu->setRecordRouting(false);
    gpu->setRecordRouting(false);
    CHECK(cpu->lastRouting() == nullptr);
    CHECK(gpu->lastRouting() == nullptr);

    // the session's backend wraps the same one and hands each step to its observer
    rt::BackendOptions o;
    o.cpu = true;
    o.nCtx = 64;
    auto sb = rt::SessionBackend::create(nullptr, *m, o);
    REQUIRE(sb.ok());
    uint32_t steps = 0;
    std::vector<int32_t> seenIds;
    sb.value()->setObserver([&](const rt::StepReport& r) {
        ++steps;
        REQUIRE(r.routing);
        seenIds = r.routing->ids;
    });
    REQUIRE(sb.value()->forward(prompt.data(), uint32_t(prompt.size()), 0, lc.data(), false).ok());
    CHECK(steps == 1);
    CHECK(seenIds == rc->ids);
    CHECK(sb.value()->name() == "CPU reference");
    CHECK(GpuEnv::validationCount() == v0);
}
