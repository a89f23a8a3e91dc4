// Op conformance suite: every GPU op and every weight type run on the Vulkan device, compared
// with the CPU reference (engine/cpu), and timed. What `moescope selftest` prints and what
// tests/test_gpu_selftest.cpp requires to pass.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vk/device.h"
#include "vk/instance.h"

namespace moe::selftest {

// How much of the case list runs. Each case belongs to the smallest scope that includes it:
//   Quick  odd sizes, 1 and 100+ tokens, every op, weight type and read path (`selftest --quick`);
//   Checks + the edge shapes (n = 1, 70000 rows, headDim 1, the >128 MiB tensor, ...): what the
//          GPU doctests (tests/test_gpu_dense, _moe, _matmul) run, untimed;
//   Full   + the large shapes that exist to measure throughput (`moescope selftest`).
enum class ConformanceScope { Quick, Checks, Full };

// The op groups of the suite (bit flags).
enum ConformanceGroup : uint32_t {
    kGroupWeights = 1,  // mul_mat, get_rows
    kGroupDense = 2,    // rms_norm, rope, softmax, attention, elementwise
    kGroupMoe = 4,      // router, moe_group, expert products, moe_combine
    kGroupAll = 7,
};

struct ConformanceOptions {
    ConformanceScope scope = ConformanceScope::Full;
    uint32_t groups = kGroupAll;
    bool timed = true;    // false: correctness only (no timing repetitions; gpuMs and reps stay 0)
    std::string filter;   // run only cases whose "op variant shape" contains this (case-insensitive)
};

// Which throughput figure describes a case: bandwidth-bound ops report GB/s, compute-bound
// ones (products over many tokens, batched attention) GFLOP/s.
enum class ThroughputUnit { GBps, GFLOPs };

struct ConformanceResult {
    std::string op;       // op family: "mul_mat", "router", "attention", ...
    std::string variant;  // weight type or mode: "Q4_K", "neox", "sigmoid+bias top-8", ...
    std::string shape;    // human-readable shape: "rows=37 cols=512 tok=1"
    double maxAbsErr = 0;
    double nmse = 0;
    double tolerance = 0;          // on nmse
    uint32_t mismatches = 0;       // discrete outputs that differ (router selections, groups)
    uint32_t validationMessages = 0;
    bool pass = false;
    std::string error;             // why it failed beyond the numbers (error, validation message)

    double gpuMs = 0;              // per run of the op, averaged over the timed repetitions
    bool timestampTimed = false;   // gpuMs from GPU timestamps (else host wall time)
    uint32_t reps = 0;             // repetitions timed
    uint64_t bytes = 0;            // bytes read + written by one run
    double flops = 0;              // floating-point operations of one run
    double gbPerS = 0, gflopPerS = 0;
    ThroughputUnit unit = ThroughputUnit::GBps;
    double throughput() const { return unit == ThroughputUnit::GBps ? gbPerS : gflopPerS; }
};

// A case of the suite before it runs (for listings and filters).
struct ConformanceCaseInfo {
    std::string op, variant, shape;
};

// Called after each case with its result, its position (0-based) and the number of cases.
using ConformanceProgress = std::function<void(const ConformanceResult&, size_t index, size_t total)>;

// The cases runConformance would run with these options, in order.
std::vector<ConformanceCaseInfo> listConformance(const vk::Device& dev, const ConformanceOptions& opts);

// Runs the suite. Never throws; a case that cannot run (out of memory, device lost, kernel error)
// is returned as a failed result with `error` set. Validation messages are counted per case
// through the instance's ValidationLog and fail the case that produced them.
std::vector<ConformanceResult> runConformance(vk::Device& dev, vk::Instance& instance, const ConformanceOptions& opts,
                                              const ConformanceProgress& progress = {});

}  // namespace moe::selftest
