// Results of `moescope bench` as plain data, and their text (llama-bench-like table) and JSON forms.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/cost.h"
#include "runtime/profile.h"
#include "selftest/roofline.h"
#include "trace/expert_cache.h"
#include "vk/caps.h"
#include "vk/device.h"

namespace moe::cli {

struct Stats {
    double mean = 0, stddev = 0;  // sample standard deviation (0 for one sample)
    std::vector<double> samples;
};

struct TestResult {
    std::string name;          // "pp512", "tg128"
    bool decode = false;
    uint32_t nTok = 0;
    Stats tokPerS;             // one sample per repetition
    TokenBytes bytes;          // decode: mean per token over the timed steps
    double flopsPerToken = 0;  // mean per token
    // --expert-cache LIST: the slots per layer this test ran with and the cache counters of its
    // timed runs summed over the layers (all resident: slots == n_expert, no counters)
    uint32_t slots = 0;
    bool cached = false;
    cache::CacheStats cache;
    uint64_t cacheTokens = 0;  // tokens the counters cover
};

// GPU profile of a forward step (averaged over `steps` runs).
struct StepProfile {
    std::string what;
    uint32_t pos = 0, nTok = 1, steps = 0;
    double wallMs = 0;      // forward() on the host clock: recording, submission, GPU, host copies
    double submitMs = 0;    // VkForward::lastStepMs(): submit to fence, summed over batches
    double kernelMs = 0;    // sum of the per-dispatch timestamp intervals
    double lmHeadMs = 0;    // the step's last product (the lm head)
    vk::RecordCounts counts;
    std::vector<rt::FamilyTime> families;
    TokenBytes bytes;       // decode: what the step reads
};

struct TypeCount {
    std::string type;
    uint32_t tensors = 0;
    uint64_t bytes = 0;
};

struct ModelInfo {
    ModelConfig cfg;
    std::string path;
    uint64_t fileBytes = 0;
    std::vector<TypeCount> types;
    uint64_t paramsTotal = 0, paramsActive = 0;
    uint64_t kvBytesPerToken = 0;   // the KV cache per position as the backends hold it (kvBytesPerToken)
    uint64_t kvBytesUnlatent = 0;   // MLA models: what full keys and values per head would take; else 0
    uint32_t denseLayers = 0;       // layers with a dense FFN instead of experts
};

struct BenchResult {
    std::string backend;            // "Vulkan" or "CPU reference"
    vk::DeviceCaps caps;            // Vulkan only
    std::string experts;            // Vulkan: resident, or the expert cache's slots
    bool cacheSweep = false;        // --expert-cache LIST: a row per test and budget
    std::string cachePolicy;        // with cacheSweep
    bool cachePrefetch = false;
    bool hasRoofline = false;
    selftest::Roofline roofline;
    ModelInfo model;
    uint32_t reps = 0, nCtx = 0, batch = 0, decodePrompt = 0;
    double loadBefore = -1, loadAfter = -1;  // 1-minute load average (/proc/loadavg)
    std::vector<std::string> skipped;        // default tests that did not fit the context
    std::vector<TestResult> tests;
    bool decodeProfiled = false, prefillProfiled = false;
    StepProfile decodeProfile, prefillProfile;
};

void printHeader(const BenchResult& r);
void printRow(const BenchResult& r, const TestResult& t);
void printProfile(const BenchResult& r, const StepProfile& p);
void printSkipped(const BenchResult& r);    // default tests that did not fit the context
void printLoadAfter(const BenchResult& r);  // the load average after the runs
void printJson(const BenchResult& r);

}  // namespace moe::cli
