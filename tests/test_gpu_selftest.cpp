// The conformance suite behind `moescope selftest`, in quick mode: every case passes on this
// device with zero validation messages, and the suite still covers every op family and every
// weight type (so it cannot silently shrink).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "core/types.h"
#include "gpu_env.h"
#include "selftest/conformance.h"

using namespace moe;
using namespace moe::test;

TEST_CASE("conformance suite (quick): every op and weight type passes against the CPU reference") {
    ValidationGuard guard;
    selftest::ConformanceOptions opts;
    opts.quick = true;
    const bool verbose = std::getenv("MOESCOPE_TEST_VERBOSE") != nullptr;
    auto results = selftest::runConformance(GpuEnv::dev(), *GpuEnv::get().instance, opts,
                                      [&](const selftest::ConformanceResult& r, size_t, size_t) {
                                          if (verbose || !r.pass)
                                              std::printf("%-20s %-28s %-44s nmse %9.2e %s %s\n", r.op.c_str(),
                                                          r.variant.c_str(), r.shape.c_str(), r.nmse,
                                                          r.pass ? "pass" : "FAIL", r.error.c_str());
                                      });
    REQUIRE(results.size() >= 100);

    std::map<std::string, std::set<std::string>> variantsByOp;
    for (const auto& r : results) {
        CAPTURE(r.op);
        CAPTURE(r.variant);
        CAPTURE(r.shape);
        CAPTURE(r.nmse);
        CAPTURE(r.tolerance);
        CAPTURE(r.error);
        CHECK(r.pass);
        CHECK(r.validationMessages == 0);
        CHECK(r.mismatches == 0);
        CHECK(r.gpuMs > 0);
        CHECK(r.reps >= 1);
        variantsByOp[r.op].insert(r.variant);
    }

    // at least one case per op family
    for (std::string op : {"mul_mat", "get_rows", "rms_norm", "rope", "softmax", "attention", "swiglu", "add", "mul",
                           "scale", "add_scaled", "mul_rows", "copy_rows", "router", "moe_group", "mul_mat_moe",
                           "mul_mat_moe_grouped", "moe_combine"}) {
        CAPTURE(op);
        CHECK(variantsByOp.count(op) == 1);
    }
    // every weight type through every weight-reading kernel
    for (std::string op : {"mul_mat", "get_rows", "mul_mat_moe", "mul_mat_moe_grouped"})
        for (GgmlType t : kWeightTypes) {
            CAPTURE(op);
            CAPTURE(typeName(t));
            CHECK(variantsByOp[op].count(typeName(t)) == 1);
        }
    // both RoPE orderings; router gating and selection policies
    CHECK(variantsByOp["rope"].count("normal") == 1);
    CHECK(variantsByOp["rope"].count("neox") == 1);
    auto hasRouter = [&](const std::string& needle) {
        for (const auto& v : variantsByOp["router"])
            if (v.find(needle) != std::string::npos) return true;
        return false;
    };
    for (std::string policy : {"softmax top-", "renorm", "sigmoid+bias", "top-p", "mask", "force"}) {
        CAPTURE(policy);
        CHECK(hasRouter(policy));
    }
    // the MoE shapes the issue names: 8 experts top-2, 64 top-8, 128 top-8 (router: + 256 top-16),
    // each with 1 token and 100+ tokens through both expert-product paths
    auto hasShape = [&](const std::string& op, const std::string& prefix, bool manyTokens) {
        for (const auto& r : results) {
            if (r.op != op || r.shape.rfind(prefix, 0) != 0) continue;
            const auto tok = r.shape.find("tok=");
            if (tok == std::string::npos) continue;
            const int n = std::atoi(r.shape.c_str() + tok + 4);
            if (manyTokens ? n >= 100 : n == 1) return true;
        }
        return false;
    };
    for (std::string op : {"mul_mat_moe", "mul_mat_moe_grouped"})
        for (std::string e : {"8x top-2", "64x top-8", "128x top-8"})
            for (bool many : {false, true}) {
                CAPTURE(op);
                CAPTURE(e);
                CAPTURE(many);
                CHECK(hasShape(op, e, many));
            }
    for (std::string e : {"experts=8 ", "experts=64 ", "experts=128 "}) {
        CAPTURE(e);
        CHECK(hasShape("router", e, false));
        CHECK(hasShape("router", e, true));
    }
    bool router256 = false;
    for (const auto& r : results) router256 |= r.op == "router" && r.shape.rfind("experts=256 ", 0) == 0;
    CHECK(router256);
}

TEST_CASE("conformance suite: the filter selects cases and the full list adds the >128 MiB tensor") {
    selftest::ConformanceOptions opts;
    opts.quick = true;
    opts.filter = "ROPE NEOX";
    auto list = selftest::listConformance(GpuEnv::dev(), opts);
    REQUIRE(!list.empty());
    for (auto& c : list) {
        const bool ropeNeox = c.op == "rope" && c.variant == "neox";
        CHECK(ropeNeox);
    }
    opts.filter = "no such case";
    CHECK(selftest::listConformance(GpuEnv::dev(), opts).empty());

    opts.filter.clear();
    const size_t quick = selftest::listConformance(GpuEnv::dev(), opts).size();
    opts.quick = false;
    auto full = selftest::listConformance(GpuEnv::dev(), opts);
    CHECK(full.size() > quick);
    bool big = false;
    for (auto& c : full) big |= c.op == "mul_mat" && c.variant.find("MiB") != std::string::npos;
    CHECK(big);
}
