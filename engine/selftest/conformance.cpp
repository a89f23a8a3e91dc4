// Conformance suite runner: the harness (upload, run, download, time), the case list and the
// per-case bookkeeping (validation messages, throughput, pass/fail).
#include "selftest/conformance.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <exception>

#include "cpu/nmse.h"
#include "cpu/quant.h"
#include "selftest/cases.h"

namespace moe::selftest {

namespace conf {

Result<vk::Buffer> Harness::upload(const void* data, size_t bytes) {
    MOE_ASSIGN(vk::Buffer b, dev_.allocate(std::max<size_t>(bytes, 4), vk::MemoryKind::Device,
                                           vk::MemoryTag::Scratch, "selftest"));
    if (bytes) MOE_TRY(dev_.upload(b, 0, data, bytes));
    return b;
}

Result<vk::Buffer> Harness::buffer(size_t bytes) {
    return dev_.allocate(std::max<size_t>(bytes, 4), vk::MemoryKind::Device, vk::MemoryTag::Scratch, "selftest");
}

Result<const WeightSet*> Harness::weights(GgmlType t, uint64_t rows, uint64_t cols, uint32_t seed) {
    if (cache_.buffer.valid() && cache_.type == t && cache_.rows == rows && cache_.cols == cols && cache_.seed == seed)
        return &cache_;
    cache_ = WeightSet{};
    WeightSet w;
    w.type = t;
    w.rows = rows;
    w.cols = cols;
    w.seed = seed;
    const uint64_t rb = rowBytes(t, cols);
    w.bytes.resize(rows * rb);
    // quantized in chunks of rows so a >128 MiB tensor never needs all its floats at once
    const uint64_t chunk = std::max<uint64_t>(1, (4u << 20) / cols);
    std::vector<float> src;
    for (uint64_t r0 = 0; r0 < rows; r0 += chunk) {
        const uint64_t n = std::min(chunk, rows - r0);
        std::vector<uint8_t> q;
        if (!cpu::searchQuantizer(t)) {
            src.resize(n * cols);
            randnInto(src.data(), src.size(), (uint64_t(seed) << 32) + r0, 0.5f);
            q = cpu::quantizeRows(t, src.data(), int64_t(n), int64_t(cols));
        } else {  // the IQ1/IQ2/IQ3 grid searches are slow: random valid blocks
            q = cpu::randomRows(t, int64_t(n), int64_t(cols), (uint64_t(seed) << 32) + r0);
        }
        std::copy(q.begin(), q.end(), w.bytes.begin() + r0 * rb);
    }
    MOE_ASSIGN(w.buffer, dev_.allocate(w.bytes.size(), vk::MemoryKind::Device, vk::MemoryTag::Weights, "selftest weights"));
    MOE_TRY(dev_.upload(w.buffer, 0, w.bytes.data(), w.bytes.size()));
    cache_ = std::move(w);
    return &cache_;
}

Result<RunInfo> Harness::run(const Record& rec) {
    constexpr uint32_t kMaxStamped = 64;  // more than any case dispatches
    vk::Commands cmd(dev_, kMaxStamped);
    MOE_TRY(rec(cmd));
    RunInfo info;
    info.dispatches = cmd.dispatchCount();
    cmd.hostBarrier();
    MOE_TRY(cmd.submitAndWait());
    for (const vk::KernelTime& k : cmd.kernelTimes()) info.kernels.push_back(k.name);
    return info;
}

namespace {

// One timed submission of `reps` runs; returns ms per run.
Result<double> timeOnce(vk::Device& dev, const Record& rec, uint32_t reps, uint32_t dispatchesPerRun, bool& stamped) {
    const bool useStamps = dev.caps().timestamps && dispatchesPerRun > 0;
    vk::Commands cmd(dev, useStamps ? reps * dispatchesPerRun : 0);
    for (uint32_t i = 0; i < reps; ++i) {
        if (i) cmd.barrier();
        MOE_TRY(rec(cmd));
    }
    const auto t0 = std::chrono::steady_clock::now();
    MOE_TRY(cmd.submitAndWait());
    const double wallMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    stamped = false;
    if (useStamps) {
        auto times = cmd.kernelTimes();
        if (times.size() == size_t(reps) * dispatchesPerRun) {
            double ms = 0;
            for (auto& k : times) ms += k.ms;
            stamped = true;
            return ms / reps;
        }
    }
    return wallMs / reps;
}

// Dispatches one run of `rec` records (recorded but never submitted).
Result<uint32_t> countDispatches(vk::Device& dev, const Record& rec) {
    vk::Commands cmd(dev);
    MOE_TRY(rec(cmd));
    return cmd.dispatchCount();
}

}  // namespace

Status Harness::time(const Record& rec, Outcome& o) {
    if (!timed_) return {};
    // Enough repetitions for a stable figure, bounded so the whole suite stays short on a CPU
    // implementation: quick mode times a couple of runs, full mode ~0.15 s of GPU work per case.
    const double targetMs = quick_ ? 5.0 : 150.0;
    const uint32_t maxReps = quick_ ? 2 : 64;
    MOE_ASSIGN(uint32_t perRun, countDispatches(dev_, rec));
    bool stamped = false;
    MOE_ASSIGN(double ms, timeOnce(dev_, rec, 1, perRun, stamped));
    uint32_t reps = 1;
    const uint32_t want = ms > 0 ? uint32_t(std::clamp(targetMs / ms, 1.0, double(maxReps))) : maxReps;
    if (want > 1) {
        reps = want;
        MOE_ASSIGN(ms, timeOnce(dev_, rec, reps, perRun, stamped));
    }
    o.ms = ms;
    o.reps = reps;
    o.timestamps = stamped;
    return {};
}

void compare(Outcome& o, const std::vector<float>& ref, const std::vector<float>& got) {
    if (ref.size() != got.size()) {
        o.nmse = o.maxAbsErr = INFINITY;
        return;
    }
    o.nmse = std::max(o.nmse, cpu::nmse(ref.data(), got.data(), ref.size()));
    o.maxAbsErr = std::max(o.maxAbsErr, cpu::maxAbsErr(ref.data(), got.data(), ref.size()));
}

}  // namespace conf

namespace {

std::vector<conf::Case> buildCases(const vk::Device& dev, const ConformanceOptions& opts) {
    std::vector<conf::Case> all;
    const conf::CaseContext ctx{dev.caps(), dev.texelWeights()};
    if (opts.groups & kGroupWeights) conf::addWeightCases(all, ctx);
    if (opts.groups & kGroupDense) conf::addDenseCases(all, ctx);
    if (opts.groups & kGroupMoe) conf::addMoeCases(all, ctx);
    std::erase_if(all, [&](const conf::Case& c) { return c.scope > opts.scope; });
    if (opts.filter.empty()) return all;
    auto lower = [](std::string s) {
        for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    const std::string f = lower(opts.filter);
    std::vector<conf::Case> kept;
    for (auto& c : all)
        if (lower(c.op + " " + c.variant + " " + c.shape).find(f) != std::string::npos) kept.push_back(std::move(c));
    return kept;
}

}  // namespace

std::vector<ConformanceCaseInfo> listConformance(const vk::Device& dev, const ConformanceOptions& opts) {
    std::vector<ConformanceCaseInfo> out;
    for (auto& c : buildCases(dev, opts)) out.push_back({c.op, c.variant, c.shape});
    return out;
}

std::vector<ConformanceResult> runConformance(vk::Device& dev, vk::Instance& instance, const ConformanceOptions& opts,
                                              const ConformanceProgress& progress) {
    std::vector<conf::Case> cases;
    try {
        cases = buildCases(dev, opts);
    } catch (const std::exception& e) {
        ConformanceResult r;
        r.op = "selftest";
        r.error = std::string("cannot build the case list: ") + e.what();
        if (progress) progress(r, 0, 1);
        return {r};
    }
    conf::Harness h(dev, opts.scope == ConformanceScope::Quick, opts.timed);
    std::vector<ConformanceResult> results;
    results.reserve(cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
        const conf::Case& c = cases[i];
        ConformanceResult r;
        r.op = c.op;
        r.variant = c.variant;
        r.shape = c.shape;
        instance.validationLog().take();  // keep only this case's messages
        const uint32_t before = instance.validationMessageCount();
        conf::Outcome o;
        try {
            auto res = c.run(h);
            if (res.ok()) o = std::move(res).value();
            else o.error = res.error().message;
        } catch (const std::exception& e) {  // e.g. std::bad_alloc for the host-side data
            o.error = std::string("exception: ") + e.what();
        }
        (void)dev.waitIdle();
        r.validationMessages = instance.validationMessageCount() - before;
        r.maxAbsErr = o.maxAbsErr;
        r.nmse = o.nmse;
        r.tolerance = o.tolerance;
        r.mismatches = o.mismatches;
        r.error = o.error;
        r.gpuMs = o.ms;
        r.timestampTimed = o.timestamps;
        r.reps = o.reps;
        r.bytes = o.bytes;
        r.flops = o.flops;
        r.unit = o.unit;
        if (o.ms > 0) {
            r.gbPerS = double(o.bytes) / (o.ms * 1e6);
            r.gflopPerS = o.flops / (o.ms * 1e6);
        }
        if (r.validationMessages && r.error.empty()) {
            auto msgs = instance.validationLog().take();
            r.error = std::to_string(r.validationMessages) + " validation message(s)" +
                      (msgs.empty() ? std::string() : ": " + msgs.front().substr(0, 300));
        }
        if (r.mismatches && r.error.empty()) r.error = std::to_string(r.mismatches) + " mismatching selections";
        r.pass = o.error.empty() && r.validationMessages == 0 && r.mismatches == 0 && std::isfinite(r.nmse) &&
                 r.nmse <= r.tolerance;
        results.push_back(r);
        if (progress) progress(results.back(), i, cases.size());
    }
    h.dropWeights();
    return results;
}

}  // namespace moe::selftest
