// Weight-reading kernels on the device vs the CPU reference, through the self-test's case list
// (engine/selftest/cases_weights.cpp): products of every weight type through each read path
// the device has, storing or adding to y, embedding rows, and a weight tensor larger than
// maxStorageBufferRange. Then the refusals.
#include <doctest/doctest.h>

#include "conformance_check.h"
#include "gpu_env.h"
#include "runtime/kernels.h"

using namespace moe;
using namespace moe::test;

TEST_CASE("mul_mat and get_rows match the CPU reference on every case of the self-test's Checks scope") {
    ValidationGuard guard;
    const auto results = checkConformance(selftest::kGroupWeights);
    for (GgmlType t : kWeightTypes) {
        CAPTURE(typeName(t));
        CHECK(hasCase(results, "mul_mat", "tok=1", typeName(t)));
        CHECK(hasCase(results, "mul_mat", "tok=130 y+=", typeName(t)));
        CHECK(hasCase(results, "get_rows", "ids=7", typeName(t)));
        if (GpuEnv::dev().texelWeights()) CHECK(hasCase(results, "mul_mat", "tok=101", std::string(typeName(t)) + " address"));
    }
    CHECK(hasCase(results, "mul_mat", "cols=1 tok=1", "F32"));
    CHECK(hasCase(results, "mul_mat", "cols=2048", "MiB"));  // the tensor over maxStorageBufferRange
    CHECK(!hasCase(results, "mul_mat", "rows=4096 cols=4096"));  // throughput only
}

TEST_CASE("mul_mat rejects a row length that is not a multiple of the block size") {
    auto& d = GpuEnv::dev();
    vk::Commands cmd(d);
    auto st = rt::mulMat(d, cmd, {GgmlType::Q4_K, 0, 4, 100});
    REQUIRE(!st.ok());
    CHECK(st.message().find("not a multiple of the Q4_K block size 256") != std::string::npos);
}
