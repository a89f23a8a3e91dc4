// Vulkan core: instance/caps, allocator, transfers, pipelines, dispatch, timestamps.
#include <doctest/doctest.h>

#include <numeric>

#include "gpu_env.h"
#include "push.h"
#include "shader_ids.h"

using namespace moe;
using namespace moe::test;

TEST_CASE("caps are probed and the device meets the engine's requirements") {
    ValidationGuard guard;
    auto& caps = GpuEnv::dev().caps();
    CHECK(!caps.name.empty());
    CHECK(caps.bufferDeviceAddress);
    CHECK(caps.subgroupSize >= 1);
    CHECK(caps.maxStorageBufferRange > 0);
    CHECK(caps.maxComputeSharedMemorySize >= 16384);
    CHECK(caps.missingRequirements().empty());
    CHECK(GpuEnv::get().instance->validationEnabled());
}

TEST_CASE("chooseDevice rejects an index that does not exist") {
    auto r = GpuEnv::get().instance->chooseDevice(999);
    REQUIRE(!r.ok());
    CHECK(r.error().message.find("device 999 does not exist") != std::string::npos);
}

TEST_CASE("upload and download round-trip, small and across blocks") {
    ValidationGuard guard;
    std::vector<uint32_t> data(100000);
    std::iota(data.begin(), data.end(), 7u);
    auto b = upload(data);
    CHECK(download<uint32_t>(b, data.size()) == data);
    // many small allocations share blocks; freeing returns space
    auto& alloc = GpuEnv::dev().allocator();
    uint32_t blocksBefore = alloc.blockCount();
    {
        std::vector<vk::Buffer> many;
        for (int i = 0; i < 100; ++i) many.push_back(deviceBuffer(1000));
        for (size_t i = 1; i < many.size(); ++i) CHECK(many[i].address() != many[i - 1].address());
    }
    CHECK(alloc.blockCount() <= blocksBefore + 1);
}

TEST_CASE("fill shader runs through the embedded pipeline path") {
    ValidationGuard guard;
    auto& d = GpuEnv::dev();
    const uint32_t n = 1000;
    auto b = deviceBuffer(n * 4);
    auto p = d.pipeline(ShaderId::fill_f32);
    REQUIRE(p.ok());
    vk::Commands cmd(d, 8);
    push::FillPush pc{b.address(), n, 2.5f};
    cmd.dispatch(*p.value(), pc, (n + 63) / 64);
    cmd.hostBarrier();
    REQUIRE(cmd.submitAndWait().ok());
    auto out = download<float>(b, n);
    for (float v : out) REQUIRE(v == 2.5f);
    if (d.caps().timestamps) {
        auto t = cmd.kernelTimes();
        REQUIRE(t.size() == 1);
        CHECK(t[0].name == std::string("fill_f32"));
        CHECK(t[0].ms >= 0);
    }
}

TEST_CASE("a buffer larger than maxStorageBufferRange is addressable end to end") {
    ValidationGuard guard;
    auto& d = GpuEnv::dev();
    const uint64_t bytes = std::max<uint64_t>(d.caps().maxStorageBufferRange, 128ull << 20) + (16ull << 20);
    auto b = deviceBuffer(bytes);
    auto p = d.pipeline(ShaderId::fill_f32);
    REQUIRE(p.ok());
    // fill the last 1M floats, which lie beyond maxStorageBufferRange from the start
    const uint64_t tailOffset = bytes - (4ull << 20);
    vk::Commands cmd(d);
    push::FillPush pc{b.address() + tailOffset, 1u << 20, -1.0f};
    cmd.dispatch(*p.value(), pc, (1u << 20) / 64);
    cmd.hostBarrier();
    REQUIRE(cmd.submitAndWait().ok());
    std::vector<float> tail(1u << 20);
    REQUIRE(d.download(b, tailOffset, tail.data(), tail.size() * 4).ok());
    for (float v : tail) REQUIRE(v == -1.0f);
}

TEST_CASE("an impossible allocation is a clear error and the device stays usable") {
    ValidationGuard guard;
    auto& d = GpuEnv::dev();
    auto r = d.allocate(1ull << 50, vk::MemoryKind::Device, vk::MemoryTag::Weights, "a huge test tensor");
    REQUIRE(!r.ok());
    CHECK(r.error().message.find("huge test tensor") != std::string::npos);
    auto small = deviceBuffer(1024);
    CHECK(small.valid());
}
