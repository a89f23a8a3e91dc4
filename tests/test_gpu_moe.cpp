// MoE kernels on the device vs the CPU reference, through the self-test's case list
// (engine/selftest/cases_moe.cpp): router policies, expert grouping, expert-indexed products
// (direct and grouped, every weight type and read path) and the weighted combine. Then the
// refusals.
#include <doctest/doctest.h>

#include "conformance_check.h"
#include "gpu_env.h"
#include "runtime/kernels_moe.h"

using namespace moe;
using namespace moe::test;

TEST_CASE("MoE kernels match the CPU reference on every case of the self-test's Checks scope") {
    ValidationGuard guard;
    const auto results = checkConformance(selftest::kGroupMoe);
    CHECK(hasCase(results, "router", "experts=1 tok=5"));
    CHECK(hasCase(results, "router", "experts=256 tok=17", "sigmoid+bias"));
    CHECK(hasCase(results, "router", "experts=16 tok=64", "mask+force"));
    for (GgmlType t : kWeightTypes)
        for (const char* op : {"mul_mat_moe", "mul_mat_moe_grouped"}) {
            CAPTURE(typeName(t));
            CAPTURE(op);
            CHECK(hasCase(results, op, "8x top-2", typeName(t)));
            CHECK(hasCase(results, op, "128x top-8", typeName(t)));
            if (GpuEnv::dev().texelWeights())
                CHECK(hasCase(results, op, "64x top-8", std::string(typeName(t)) + " address"));
        }
    CHECK(hasCase(results, "moe_combine", "tok=13 k=4 n=100", "accumulate"));
    CHECK(hasCase(results, "moe_combine", "k=8", "shared expert"));
}

TEST_CASE("router rejects unsupported sizes with a clear error") {
    auto& d = GpuEnv::dev();
    vk::Commands cmd(d);
    rt::GpuRouterParams g;
    auto st = rt::route(d, cmd, g, 0, 1, 5000, 0, 0, 0, 0);
    REQUIRE(!st.ok());
    CHECK(st.message().find("5000 experts") != std::string::npos);
}

