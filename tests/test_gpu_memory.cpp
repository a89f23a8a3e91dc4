// Device memory exhaustion: every way of running out (the heap, the largest single allocation, a
// driver refusing vkAllocateMemory, a KV cache or a model too big for the device) is a one-line
// error naming what was being allocated, its size and what is free; afterwards the same Device
// serves a smaller request, and a Session keeps (or rebuilds) the model it had.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "gpu_env.h"
#include "runtime/backend.h"
#include "runtime/session.h"
#include "runtime/vk_forward.h"
#include "synth_models.h"

using namespace moe;
using namespace moe::test;

namespace {

constexpr uint64_t MiB = 1ull << 20;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Small weights, wide KV rows (4 KV heads x 64 = 1 KiB per position, layer and K or V: 4 KiB per
// token) and a context length of 2^26: the KV cache of the whole context is 256 GiB.
SynthSpec wideKvSpec() {
    SynthSpec s = synthSpecFor(Arch::Qwen2Moe);
    s.n_embd = 256;
    s.n_head = 4;
    s.n_head_kv = 4;
    s.head_dim = 64;
    s.n_ff_exp = 64;
    s.n_ff_shexp = 64;
    s.n_ctx = 1u << 26;
    s.weightType = GgmlType::Q8_0;
    return s;
}

std::string wideKvPath() { return synthModelPath("mem_wide_kv", wideKvSpec()); }

std::vector<float> lastLogits(rt::VkForward& f, const std::vector<int32_t>& prompt) {
    std::vector<float> logits(f.model().cfg.n_vocab);
    auto st = f.forward(prompt.data(), uint32_t(prompt.size()), 0, logits.data(), false);
    REQUIRE_MESSAGE(st.ok(), st.message());
    return logits;
}

}  // namespace

TEST_CASE("allocator: past the heap, past the largest allocation, a refusing driver: clear errors, then it serves again") {
    ValidationGuard guard;
    auto& dev = GpuEnv::dev();
    auto& alloc = dev.allocator();
    const uint64_t heap = alloc.heapSize(vk::MemoryKind::Device);
    const uint64_t free0 = alloc.heapAvailable(vk::MemoryKind::Device);
    REQUIRE(heap > 0);
    REQUIRE(free0 <= heap);
    MESSAGE("device heap ", heap / MiB, " MiB, ", free0 / MiB, " MiB free; largest allocation ",
            dev.caps().maxMemoryAllocationSize / MiB, " MiB");

    // a smaller device: 96 MiB more than this process holds now
    alloc.setHeapLimit(heap - free0 + 96 * MiB);
    {
        auto big = alloc.allocate(200 * MiB, vk::MemoryKind::Device, vk::MemoryTag::Scratch, "test tensor");
        REQUIRE(!big.ok());
        const std::string& m = big.error().message;
        CAPTURE(m);
        CHECK(contains(m, "out of device memory: test tensor needs 200 MiB"));
        CHECK(contains(m, "are free"));
        CHECK(m.find('\n') == std::string::npos);
        CHECK(vk::isOutOfDeviceMemory(m));
        // a smaller request still fits
        auto small = alloc.allocate(40 * MiB, vk::MemoryKind::Device, vk::MemoryTag::Scratch, "test tensor");
        REQUIRE_MESSAGE(small.ok(), (small.ok() ? std::string() : small.error().message));
        std::vector<uint32_t> data(1024, 0x5eed);
        REQUIRE(dev.upload(small.value(), 0, data.data(), data.size() * 4).ok());
    }
    alloc.setHeapLimit(0);

    // one allocation larger than the device allows
    if (dev.caps().maxMemoryAllocationSize) {
        auto huge = alloc.allocate(dev.caps().maxMemoryAllocationSize + MiB, vk::MemoryKind::Device,
                                   vk::MemoryTag::Weights, "blk.0.ffn_up_exps.weight");
        REQUIRE(!huge.ok());
        CHECK(contains(huge.error().message, "blk.0.ffn_up_exps.weight needs one allocation of"));
        CHECK(contains(huge.error().message, "per allocation"));
    }

    // the driver refuses (VK_ERROR_OUT_OF_DEVICE_MEMORY): reported as such, then it works again
    alloc.failAllocationsAfter(0);
    auto refused = alloc.allocate(80 * MiB, vk::MemoryKind::Device, vk::MemoryTag::KvCache, "KV cache");
    alloc.failAllocationsAfter(-1);
    REQUIRE(!refused.ok());
    CHECK(contains(refused.error().message, "out of device memory: KV cache needs 80 MiB"));
    CHECK(contains(refused.error().message, "VK_ERROR_OUT_OF_DEVICE_MEMORY"));
    auto again = alloc.allocate(80 * MiB, vk::MemoryKind::Device, vk::MemoryTag::KvCache, "KV cache");
    CHECK(again.ok());
    again = vk::Buffer{};
    alloc.trim();
    CHECK(alloc.heapAvailable(vk::MemoryKind::Device) >= free0);
}

// The device as lavapipe has it (2 GiB), whatever this one has.
struct TwoGiBDevice {
    explicit TwoGiBDevice(vk::Device& d) : dev(d) { dev.allocator().setHeapLimit(2048 * MiB); }
    ~TwoGiBDevice() { dev.allocator().setHeapLimit(0); }
    vk::Device& dev;
};

TEST_CASE("a KV cache too big for the device fails cleanly; the same device then runs a smaller context") {
    ValidationGuard guard;
    auto& dev = GpuEnv::dev();
    TwoGiBDevice limit(dev);
    auto model = loadSynth("mem_wide_kv", wideKvSpec());
    const auto prompt = model->tokenizer->encode("Once upon a time there was", true, false);
    const auto inUse0 = dev.allocator().bytesInUse();

    rt::ForwardOptions fo;
    fo.nCtx = 256;
    std::vector<float> before;
    {
        auto f = rt::VkForward::create(dev, *model, fo);
        REQUIRE_MESSAGE(f.ok(), (f.ok() ? std::string() : f.error().message));
        before = lastLogits(*f.value(), prompt);
    }

    // 2^20 tokens: 4 GiB of KV cache
    fo.nCtx = 1u << 20;
    auto pre = rt::checkDeviceMemory(dev, *model, fo.nCtx);
    REQUIRE(!pre.ok());
    MESSAGE(pre.message());
    CHECK(contains(pre.message(), "out of device memory: the model needs"));
    CHECK(contains(pre.message(), "KV cache 4096 MiB for 1048576 tokens"));
    CHECK(contains(pre.message(), "try a smaller context"));
    auto huge = rt::VkForward::create(dev, *model, fo);
    REQUIRE(!huge.ok());
    MESSAGE(huge.error().message);
    // refused by the expert cache's plan (device heap <= 4 GiB) or by the allocator (larger heaps)
    CHECK(vk::isOutOfDeviceMemory(huge.error().message));
    CHECK(contains(huge.error().message, "KV cache"));
    // nothing is left allocated by the failed attempt
    CHECK(dev.allocator().bytesInUse() == inUse0);

    // the same device, a smaller context: identical logits
    fo.nCtx = 256;
    {
        auto f = rt::VkForward::create(dev, *model, fo);
        REQUIRE_MESSAGE(f.ok(), (f.ok() ? std::string() : f.error().message));
        CHECK(lastLogits(*f.value(), prompt) == before);
    }

    // an allocation failing while a model uploads: the error names the tensor; then it loads
    dev.allocator().trim();
    dev.allocator().failAllocationsAfter(1);  // the weights' block, then no more
    auto midway = rt::VkForward::create(dev, *model, fo);
    dev.allocator().failAllocationsAfter(-1);
    REQUIRE(!midway.ok());
    MESSAGE(midway.error().message);
    CHECK(vk::isOutOfDeviceMemory(midway.error().message));
    auto ok = rt::VkForward::create(dev, *model, fo);
    REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? std::string() : ok.error().message));
    CHECK(lastLogits(*ok.value(), prompt) == before);
}

TEST_CASE("createBackend: a context too big for the device is refused before any upload") {
    auto model = loadSynth("mem_wide_kv", wideKvSpec());
    rt::BackendOptions bo;
    bo.nCtx = 1u << 26;
    auto b = rt::createBackend(*model, bo);
    REQUIRE(!b.ok());
    CHECK(contains(b.error().message, "out of device memory: the model needs"));
    CHECK(contains(b.error().message, "KV cache 262144 MiB for 67108864 tokens"));
    bo.nCtx = 512;
    auto small = rt::createBackend(*model, bo);
    REQUIRE_MESSAGE(small.ok(), (small.ok() ? std::string() : small.error().message));
}

namespace {

// Collects session events until one satisfies `done` (two minutes at most).
template <class Pred>
bool waitFor(rt::Session& s, std::vector<rt::SessionEvent>& all, Pred done) {
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120)) {
        for (auto& e : s.poll()) {
            all.push_back(std::move(e));
            if (done(all.back())) return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
}

bool loadEnded(const rt::SessionEvent& e) {
    return std::holds_alternative<rt::ModelLoadedEvent>(e) || std::holds_alternative<rt::LoadFailedEvent>(e);
}

std::vector<int32_t> completion(rt::Session& s, std::vector<rt::SessionEvent>& all, int n) {
    rt::GenerateCmd g;
    g.completion = true;
    g.prompt = "Once upon a time";
    g.params.maxTokens = n;
    g.params.stopAtEog = false;
    all.clear();
    s.post(g);
    REQUIRE(waitFor(s, all, [](const rt::SessionEvent& e) { return std::holds_alternative<rt::GenerationDoneEvent>(e); }));
    auto& done = std::get<rt::GenerationDoneEvent>(all.back());
    CHECK_MESSAGE(done.error.empty(), done.error);
    std::vector<int32_t> ids;
    for (auto& e : all)
        if (auto* t = std::get_if<rt::TokenOutEvent>(&e)) ids.push_back(t->id);
    return ids;
}

}  // namespace

TEST_CASE("session: a model that does not fit keeps the previous one; one that fits only alone replaces it") {
    const uint32_t validation0 = vk::validationMessagesInProcess();
    const std::string path = wideKvPath();
    rt::Session s;
    std::vector<rt::SessionEvent> all;
    auto load = [&](uint32_t nCtx) {
        rt::LoadModelCmd c;
        c.path = path;
        c.backend.nCtx = nCtx;
        all.clear();
        s.post(c);
        REQUIRE(waitFor(s, all, loadEnded));
        return all.back();
    };
    // a KV cache of 60% of the device's heap (lavapipe: 314K tokens, 1.2 GiB of 2 GiB)
    const uint64_t heap = GpuEnv::dev().allocator().heapSize(vk::MemoryKind::Device);
    const uint32_t big = uint32_t(heap * 6 / 10 / 4096);
    auto first = load(big);
    REQUIRE_MESSAGE(std::holds_alternative<rt::ModelLoadedEvent>(first), std::get<rt::LoadFailedEvent>(first).message);
    const auto ref = completion(s, all, 8);
    REQUIRE(ref.size() == 8);

    // the whole context (256 GiB): refused, the loaded model goes on
    auto failed = load(1u << 26);
    REQUIRE(std::holds_alternative<rt::LoadFailedEvent>(failed));
    const std::string msg = std::get<rt::LoadFailedEvent>(failed).message;
    MESSAGE(msg);
    CHECK(contains(msg, "out of device memory"));
    CHECK(completion(s, all, 8) == ref);

    // a second such model does not fit beside the first, but alone it does: it replaces it
    {
        REQUIRE(vk::deviceBytesInProcess() + uint64_t(big) * 4096 > heap);
        auto second = load(big);
        CHECK_MESSAGE(std::holds_alternative<rt::ModelLoadedEvent>(second),
                      (std::holds_alternative<rt::LoadFailedEvent>(second) ? std::get<rt::LoadFailedEvent>(second).message : ""));
        CHECK(completion(s, all, 8) == ref);
    }
    CHECK(vk::validationMessagesInProcess() == validation0);
}
