// The conformance suite behind `moescope selftest`, in quick mode: every case passes on this
// device with zero validation messages, and the suite still covers every op family and every
// weight type (so it cannot silently shrink).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "core/types.h"
#include "gpu_env.h"
#include "selftest/conformance.h"

using namespace moe;
using namespace moe::test;

TEST_CASE("conformance suite (quick): the list covers every op family, weight type, read path and policy") {
    // Coverage only: the quick suite runs once in ctest, as `moescope selftest --quick`
    // (gpu_cli_selftest), and the GPU doctests run the Checks scope of the same list.
    selftest::ConformanceOptions opts;
    opts.scope = selftest::ConformanceScope::Quick;
    const auto results = selftest::listConformance(GpuEnv::dev(), opts);
    REQUIRE(results.size() >= 150);

    std::map<std::string, std::set<std::string>> variantsByOp;
    for (const auto& r : results) variantsByOp[r.op].insert(r.variant);

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
    // on devices that read weights through texel views, the product kernels also through addresses
    if (GpuEnv::dev().texelWeights())
        for (std::string op : {"mul_mat", "mul_mat_moe", "mul_mat_moe_grouped"})
            for (GgmlType t : kWeightTypes) {
                CAPTURE(op);
                CAPTURE(typeName(t));
                CHECK(variantsByOp[op].count(std::string(typeName(t)) + " address") == 1);
            }
    // both RoPE orderings; router gating and selection policies
    CHECK(variantsByOp["rope"].count("normal") == 1);
    CHECK(variantsByOp["rope"].count("neox") == 1);
    CHECK(variantsByOp["rope"].count("neox q+k") == 1);
    // attention through each reduction and the runtime's own choice
    bool attnAuto = false;
    for (const auto& v : variantsByOp["attention"]) attnAuto |= v.rfind("auto ", 0) == 0;
    CHECK(attnAuto);
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

TEST_CASE("conformance suite: filter, groups and scopes select cases; the full list adds the >128 MiB tensor") {
    selftest::ConformanceOptions opts;
    opts.scope = selftest::ConformanceScope::Quick;
    opts.filter = "ROPE NEOX";
    auto list = selftest::listConformance(GpuEnv::dev(), opts);
    REQUIRE(!list.empty());
    for (auto& c : list) {
        const bool ropeNeox = c.op == "rope" && c.variant.rfind("neox", 0) == 0;
        CHECK(ropeNeox);
    }
    opts.filter = "no such case";
    CHECK(selftest::listConformance(GpuEnv::dev(), opts).empty());
    opts.filter.clear();

    // the groups partition the list
    const size_t quick = selftest::listConformance(GpuEnv::dev(), opts).size();
    size_t sum = 0;
    for (uint32_t g : {selftest::kGroupWeights, selftest::kGroupDense, selftest::kGroupMoe}) {
        opts.groups = g;
        const auto part = selftest::listConformance(GpuEnv::dev(), opts);
        CHECK(!part.empty());
        for (auto& c : part) {
            CAPTURE(c.op);
            const bool weights = c.op == "mul_mat" || c.op == "get_rows";
            const bool moe = c.op == "router" || c.op == "moe_group" || c.op.rfind("mul_mat_moe", 0) == 0 ||
                             c.op == "moe_combine";
            CHECK(weights == (g == selftest::kGroupWeights));
            CHECK(moe == (g == selftest::kGroupMoe));
        }
        sum += part.size();
    }
    CHECK(sum == quick);
    opts.groups = selftest::kGroupAll;

    // each scope contains the smaller one, in the same order
    auto key = [](const selftest::ConformanceCaseInfo& c) { return c.op + "|" + c.variant + "|" + c.shape; };
    auto keys = [&](selftest::ConformanceScope sc) {
        opts.scope = sc;
        std::vector<std::string> k;
        for (auto& c : selftest::listConformance(GpuEnv::dev(), opts)) k.push_back(key(c));
        return k;
    };
    const auto q = keys(selftest::ConformanceScope::Quick), c = keys(selftest::ConformanceScope::Checks),
               f = keys(selftest::ConformanceScope::Full);
    CHECK(q.size() < c.size());
    CHECK(c.size() < f.size());
    for (const auto* pair : {&q, &c}) {
        const auto& small = *pair;
        const auto& big = pair == &q ? c : f;
        size_t j = 0;  // small is a subsequence of big
        for (const auto& k : big)
            if (j < small.size() && k == small[j]) ++j;
        CHECK(j == small.size());
    }
    bool bigQuick = false, bigChecks = false;
    for (auto& k : q) bigQuick |= k.find("MiB") != std::string::npos;
    for (auto& k : c) bigChecks |= k.find("MiB") != std::string::npos;
    CHECK(!bigQuick);
    CHECK(bigChecks);
    // no two cases of one scope share a name (a result names its case)
    std::set<std::string> unique(f.begin(), f.end());
    CHECK(unique.size() == f.size());
}
