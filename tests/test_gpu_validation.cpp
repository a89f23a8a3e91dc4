// The validation layer as the GPU tests run it: synchronization validation is really on (a
// missing barrier between two transfers is reported) and the barriers of vk::Commands satisfy it.
// Shaders reach memory through buffer device addresses, which the layer cannot follow: what it
// checks is every transfer (fills, copies, staging) and host access; ordering between dispatches
// rests on Commands::barrier() after every dependent step (runtime/vk_forward.cpp).
#include <doctest/doctest.h>

#include "vk/commands.h"
#include "vk/device.h"
#include "vk/instance.h"

using namespace moe;

TEST_CASE("synchronization validation reports a missing barrier; Commands' barriers satisfy it") {
    vk::InstanceOptions opts;
    opts.validation = true;
    opts.syncValidation = true;
    auto inst = vk::Instance::create(opts);
    REQUIRE_MESSAGE(inst.ok(), (inst.ok() ? std::string() : inst.error().message));
    auto index = inst.value()->chooseDevice(-1);
    REQUIRE(index.ok());
    auto dev = vk::Device::create(*inst.value(), index.value());
    REQUIRE(dev.ok());
    vk::Device& d = *dev.value();
    vk::Instance& in = *inst.value();
    auto a = d.allocate(4096, vk::MemoryKind::Device, vk::MemoryTag::Scratch, "a");
    auto b = d.allocate(4096, vk::MemoryKind::Readback, vk::MemoryTag::Scratch, "b");
    REQUIRE(a.ok());
    REQUIRE(b.ok());

    // two writes of the same range with nothing between them: a WRITE_AFTER_WRITE hazard
    const uint32_t before = in.validationMessageCount();
    {
        vk::Commands cmd(d);
        cmd.fill(a.value(), 0, 4096, 1);
        cmd.fill(a.value(), 0, 4096, 2);
        REQUIRE(cmd.submitAndWait().ok());
    }
    CHECK(in.validationMessageCount() > before);
    auto messages = in.validationLog().take();
    bool hazard = false;
    for (const auto& m : messages) hazard = hazard || m.find("SYNC-HAZARD-WRITE-AFTER-WRITE") != std::string::npos;
    CHECK(hazard);

    // write, barrier, read into host-visible memory, write again, host barrier: clean
    const uint32_t clean = in.validationMessageCount();
    {
        vk::Commands cmd(d);
        cmd.fill(a.value(), 0, 4096, 7);
        cmd.barrier();
        cmd.copy(a.value(), 0, b.value(), 0, 4096);
        cmd.barrier();
        cmd.fill(a.value(), 0, 4096, 8);
        cmd.hostBarrier();
        REQUIRE(cmd.submitAndWait().ok());
    }
    CHECK(in.validationMessageCount() == clean);
    CHECK(b.value().as<uint32_t>()[1023] == 7u);
}
