// Internals of the conformance suite shared by its case files: the harness that uploads, runs,
// downloads and times an op, deterministic test data, and the case lists per op group.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/result.h"
#include "core/types.h"
#include "runtime/kernels.h"
#include "runtime/kernels_dense.h"
#include "runtime/kernels_moe.h"
#include "selftest/conformance.h"
#include "vk/commands.h"
#include "vk/device.h"

namespace moe::selftest::conf {

// the recording helpers the cases exercise (runtime/kernels*.h)
using namespace moe::rt;

// What one case measured; the runner adds the validation count and derives the throughput.
struct Outcome {
    double maxAbsErr = 0, nmse = 0, tolerance = 0;
    uint32_t mismatches = 0;
    std::string error;
    double ms = 0;
    bool timestamps = false;
    uint32_t reps = 0;
    uint64_t bytes = 0;
    double flops = 0;
    ThroughputUnit unit = ThroughputUnit::GBps;
};

// Records one run of an op (no host barrier, no submit).
using Record = std::function<Status(vk::Commands&)>;

// Weights of one type kept on the host and the device, reused by consecutive cases with the
// same key (direct and grouped expert products share their expert stack).
struct WeightSet {
    GgmlType type = GgmlType::F32;
    uint64_t rows = 0, cols = 0;
    uint32_t seed = 0;
    std::vector<uint8_t> bytes;  // rows * rowBytes(type, cols)
    vk::Buffer buffer;
};

// What one correctness run recorded: the dispatch count, and with GPU timestamps the shaders it
// ran in order (which kernel variant the runtime chose).
struct RunInfo {
    uint32_t dispatches = 0;
    std::vector<std::string> kernels;  // empty without timestamps
};

class Harness {
public:
    Harness(vk::Device& dev, bool quick, bool timed) : dev_(dev), quick_(quick), timed_(timed) {}
    vk::Device& dev() { return dev_; }

    Result<vk::Buffer> upload(const void* data, size_t bytes);
    template <class T>
    Result<vk::Buffer> upload(const std::vector<T>& v) {
        return upload(v.data(), v.size() * sizeof(T));
    }
    Result<vk::Buffer> buffer(size_t bytes);  // device-local, contents undefined
    template <class T>
    Result<std::vector<T>> download(const vk::Buffer& b, size_t count) {
        std::vector<T> out(count);
        MOE_TRY(dev_.download(b, 0, out.data(), count * sizeof(T)));
        return out;
    }

    // Gaussian-like weights quantized to `t`, (rows, cols), uploaded; cached for the next case.
    Result<const WeightSet*> weights(GgmlType t, uint64_t rows, uint64_t cols, uint32_t seed);
    void dropWeights() { cache_ = WeightSet{}; }

    // One run for correctness: records, makes the results host-visible, submits and waits.
    Result<RunInfo> run(const Record& rec);
    // Times `rec` after the correctness run (which warmed it up): repeated in one command buffer
    // with barriers between runs, GPU timestamps when the device has them, else wall time.
    // Does nothing in an untimed run.
    Status time(const Record& rec, Outcome& o);

private:
    vk::Device& dev_;
    bool quick_, timed_;
    WeightSet cache_;
};

// Records a failed expectation beyond the numbers (the first one is kept): a dispatch count, the
// kernel the runtime chose.
inline void expect(Outcome& o, bool ok, const std::string& what) {
    if (!ok && o.error.empty()) o.error = what;
}
inline bool startsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// The weights read path a case runs under: the device's texel views, or device addresses
// (restored afterwards). Devices without texel reads run every case through addresses.
class ReadPathScope {
public:
    ReadPathScope(vk::Device& dev, bool texel) : dev_(dev), saved_(dev.texelWeights()) { dev.setTexelWeights(texel); }
    ~ReadPathScope() { dev_.setTexelWeights(saved_); }
    ReadPathScope(const ReadPathScope&) = delete;
    ReadPathScope& operator=(const ReadPathScope&) = delete;

private:
    vk::Device& dev_;
    bool saved_;
};

// Folds one compared output into the outcome (worst nmse and max abs error over outputs).
void compare(Outcome& o, const std::vector<float>& ref, const std::vector<float>& got);
// Counts differing elements of a discrete output.
template <class T>
uint32_t countMismatches(const std::vector<T>& ref, const std::vector<T>& got) {
    uint32_t n = ref.size() == got.size() ? 0 : 1;
    for (size_t i = 0; i < ref.size() && i < got.size(); ++i) n += ref[i] != got[i];
    return n;
}

template <class... A>
std::string fmt(const char* f, A... args) {
    char buf[256];
    std::snprintf(buf, sizeof buf, f, args...);
    return buf;
}

struct Case {
    std::string op, variant, shape;
    std::function<Result<Outcome>(Harness&)> run;
    ConformanceScope scope = ConformanceScope::Quick;  // the smallest scope that runs it
};

// What a case list is built for.
struct CaseContext {
    const vk::DeviceCaps& caps;
    bool texel;  // the device reads weights through texel views: weight kernels also run an "address" twin
};

// Case lists per op group (cases_*.cpp), in the order they run; the runner keeps the cases of
// the requested scope.
void addWeightCases(std::vector<Case>& out, const CaseContext& ctx);  // mul_mat, get_rows
void addDenseCases(std::vector<Case>& out, const CaseContext& ctx);   // norm, rope, softmax, attention, eltwise
void addMoeCases(std::vector<Case>& out, const CaseContext& ctx);     // router, grouping, expert products, combine

}  // namespace moe::selftest::conf
