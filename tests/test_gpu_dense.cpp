// Dense ops on the Vulkan device against the CPU reference (engine/cpu/ops.h): RMSNorm, RoPE,
// softmax, attention over a KV cache, elementwise ops, through the self-test's case list
// (engine/selftest/cases_dense.cpp: awkward shapes, every reduction variant, NMSE per op, the
// dispatch count and kernel the runtime chooses); zero validation messages. Then the refusals.
#include <doctest/doctest.h>

#include "conformance_check.h"
#include "gpu_env.h"
#include "runtime/kernels_dense.h"

using namespace moe;
using namespace moe::test;

TEST_CASE("dense ops match the CPU reference on every case of the self-test's Checks scope") {
    ValidationGuard guard;
    const auto results = checkConformance(selftest::kGroupDense);
    // the edge shapes of the Checks scope are there (n = 1, 70000 rows, headDim 1 and 2, ...)
    CHECK(hasCase(results, "rms_norm", "tok=1 n=1 weight"));
    CHECK(hasCase(results, "rms_norm", "tok=70000 n=3"));
    CHECK(hasCase(results, "rms_norm", "tok=130 n=64 in-place"));
    CHECK(hasCase(results, "rope", "hd=2 rot=2"));
    CHECK(hasCase(results, "rope", "k-stride=384", "neox q+k"));
    CHECK(hasCase(results, "softmax", "rows=1 n=1"));
    CHECK(hasCase(results, "softmax", "rows=70000 n=3"));
    CHECK(hasCase(results, "attention", "hd=1 "));
    CHECK(hasCase(results, "attention", "fused-q", "auto"));
    CHECK(hasCase(results, "attention", "splits=4"));
    for (const char* op : {"add", "mul", "scale", "swiglu", "add_scaled"}) {
        CAPTURE(op);
        CHECK(hasCase(results, op, "n=1"));
        CHECK(hasCase(results, op, "n=100000"));
    }
    // throughput-only shapes stay out of ctest
    CHECK(!hasCase(results, "rms_norm", "tok=512 n=4096"));
}

TEST_CASE("rope refuses a second tensor without heads or with a stride that cannot hold them") {
    ValidationGuard guard;
    auto& dev = GpuEnv::dev();
    vk::Commands cmd(dev);
    auto qb = deviceBuffer(64 * 4), pb = deviceBuffer(4);
    Status st = rt::rope(dev, cmd, qb.address(), 1, 1, 64, pb.address(), 64, 10000.0f, false, 0,
                         rt::RopeSecond{qb.address(), 2, 64});
    REQUIRE(!st.ok());
    CHECK(st.message() == "rope: the second tensor needs heads and a token stride that holds them");
    CHECK(cmd.dispatchCount() == 0);
}

TEST_CASE("dense ops reject bad arguments with a readable error") {
    ValidationGuard guard;
    auto& dev = GpuEnv::dev();
    vk::Commands cmd(dev);
    auto r = rt::rope(dev, cmd, 0, 1, 1, 64, 0, 63, 10000.0f, false);
    REQUIRE(!r.ok());
    CHECK(r.message().find("even") != std::string::npos);
    rt::AttentionArgs a;
    a.nTok = 1;
    a.nHead = 8;
    a.nHeadKv = 3;
    a.headDim = 64;
    r = rt::attention(dev, cmd, a);
    REQUIRE(!r.ok());
    CHECK(r.message().find("kv heads") != std::string::npos);
    a.nHeadKv = 2;
    a.headDim = 640;
    r = rt::attention(dev, cmd, a);
    REQUIRE(!r.ok());
    CHECK(r.message().find("head size 640 outside [1, 576]") != std::string::npos);
    a.headDim = 64;
    a.headDimV = 600;  // a value head past the limit is refused the same way
    r = rt::attention(dev, cmd, a);
    REQUIRE(!r.ok());
    CHECK(r.message().find("head size 600") != std::string::npos);
    a.headDimV = 0;
    a.headDim = 64;
    a.pos0 = 4000;
    a.scratch = 1;
    a.scratchBytes = 16;
    r = rt::attention(dev, cmd, a);
    REQUIRE(!r.ok());
    CHECK(r.message().find("too small") != std::string::npos);
    r = rt::softmax(dev, cmd, 0, 0, 10);
    CHECK(!r.ok());
    CHECK(cmd.dispatchCount() == 0);
}
