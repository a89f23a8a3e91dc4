// The GPU doctests of the kernels run the self-test's own case list (engine/selftest): one list
// of shapes and tolerances for `moescope selftest` and ctest. checkConformance runs the cases of
// some op groups in the Checks scope (the quick cases plus the edge shapes), untimed, and
// requires every case to pass: NMSE within its tolerance, identical discrete outputs (router
// selections, groups), the dispatch count and kernel the case expects, zero validation messages.
// MOESCOPE_TEST_VERBOSE=1 prints one line per case.
#pragma once
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gpu_env.h"
#include "selftest/conformance.h"

namespace moe::test {

inline std::vector<selftest::ConformanceResult> checkConformance(uint32_t groups) {
    selftest::ConformanceOptions opts;
    opts.scope = selftest::ConformanceScope::Checks;
    opts.groups = groups;
    opts.timed = false;
    const bool verbose = std::getenv("MOESCOPE_TEST_VERBOSE") != nullptr;
    auto results = selftest::runConformance(
        GpuEnv::dev(), *GpuEnv::get().instance, opts, [&](const selftest::ConformanceResult& r, size_t, size_t) {
            if (verbose || !r.pass)
                std::printf("%-20s %-34s %-48s nmse %9.2e max|err| %9.2e %s %s\n", r.op.c_str(), r.variant.c_str(),
                            r.shape.c_str(), r.nmse, r.maxAbsErr, r.pass ? "pass" : "FAIL", r.error.c_str());
        });
    REQUIRE(!results.empty());
    for (const auto& r : results) {
        CAPTURE(r.op);
        CAPTURE(r.variant);
        CAPTURE(r.shape);
        CAPTURE(r.nmse);
        CAPTURE(r.tolerance);
        CAPTURE(r.error);
        CHECK(r.pass);
        CHECK(r.error.empty());
        CHECK(r.validationMessages == 0);
        CHECK(r.mismatches == 0);
        CHECK(r.reps == 0);  // untimed
    }
    return results;
}

// Whether some result of `op` has a shape containing `shape` (and a variant containing `variant`).
inline bool hasCase(const std::vector<selftest::ConformanceResult>& results, const std::string& op,
                    const std::string& shape, const std::string& variant = "") {
    for (const auto& r : results)
        if (r.op == op && r.shape.find(shape) != std::string::npos && r.variant.find(variant) != std::string::npos)
            return true;
    return false;
}

}  // namespace moe::test
