// `moescope bench`: prefill and decode throughput in the manner of llama-bench, the device's read
// bandwidth and FMA peak measured in the same run, decode and prefill efficiency against them,
// and (--profile) GPU time per kernel family of a decode step and a prefill.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "cli/bench_report.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "model/cost.h"
#include "runtime/vk_forward.h"
#include "trace/cache_sim.h"
#include "vk/instance.h"

namespace moe::cli {

namespace {

constexpr uint32_t kDecodePrompt = 8;  // tokens prefilled (untimed) before each decode run

struct BenchFlags {
    ModelFlags mf;
    std::string prompts, gens;  // comma-separated sizes; empty: the defaults
    int reps = 5;
    int rooflineMib = 256;  // bandwidth buffer
    bool json = false, profile = false, noRoofline = false;
    std::string cacheList;  // --expert-cache N|P%[,...]: the budgets to compare
};

// The forward pass under test: the Vulkan runtime with its own device (the roofline and the
// profile need the device), or the CPU reference.
struct Engine {
    std::unique_ptr<vk::Instance> instance;
    std::unique_ptr<vk::Device> device;
    std::unique_ptr<rt::VkForward> vkf;
    std::unique_ptr<rt::Backend> cpu;
    ~Engine() {
        vkf.reset();  // buffers before the device that owns their memory
        device.reset();
    }
    Status forward(const int32_t* t, uint32_t n, uint32_t pos0, float* logits) {
        return vkf ? vkf->forward(t, n, pos0, logits, false) : cpu->forward(t, n, pos0, logits, false);
    }
    const rt::RoutingRecord* routing() const { return vkf ? &vkf->lastRouting() : cpu->lastRouting(); }
    uint32_t nCtx() const { return vkf ? vkf->nCtx() : cpu->nCtx(); }
    // the expert cache's counters summed over the layers (zero when every expert is resident)
    cache::CacheStats cacheTotals() const {
        cache::CacheStats s;
        if (const rt::ExpertOffload* c = vkf ? vkf->expertCache() : nullptr)
            for (uint32_t il = 0; il < c->nLayer(); ++il) s += c->layer(il).stats();
        return s;
    }
};

// Marks `t` with the slots the test ran with and the cache counters of its timed runs.
void recordCache(const Engine& e, const Model& m, const cache::CacheStats& timed, uint64_t tokens, TestResult& t) {
    const rt::ExpertOffload* c = e.vkf ? e.vkf->expertCache() : nullptr;
    t.cached = c != nullptr;
    t.slots = c ? c->slots() : m.cfg.expert_count;
    t.cache = timed;
    t.cacheTokens = tokens;
}

// "64,512" -> {64, 512}; 0 entries are dropped (as llama-bench's -n 0: no such test).
Result<std::vector<uint32_t>> parseSizes(const std::string& flag, const std::string& text) {
    std::vector<uint32_t> out;
    size_t i = 0;
    while (i <= text.size()) {
        const size_t j = std::min(text.find(',', i), text.size());
        const std::string item = text.substr(i, j - i);
        char* end = nullptr;
        const long v = item.empty() ? -1 : std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end != 0 || v < 0 || v > 1000000)
            return makeError(flag + " expects comma-separated token counts, got '" + text + "'");
        if (v > 0) out.push_back(uint32_t(v));
        i = j + 1;
    }
    return out;
}

Stats stats(std::vector<double> samples) {
    Stats s;
    s.samples = std::move(samples);
    if (s.samples.empty()) return s;
    for (double v : s.samples) s.mean += v;
    s.mean /= double(s.samples.size());
    if (s.samples.size() > 1) {
        double ss = 0;
        for (double v : s.samples) ss += (v - s.mean) * (v - s.mean);
        s.stddev = std::sqrt(ss / double(s.samples.size() - 1));
    }
    return s;
}

// Deterministic token ids spread over the vocabulary (splitmix64), the same in every run.
std::vector<int32_t> benchTokens(uint32_t n, uint32_t nVocab, uint64_t seed) {
    std::vector<int32_t> t(n);
    for (uint32_t i = 0; i < n; ++i) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        t[i] = int32_t((z ^ (z >> 31)) % nVocab);
    }
    return t;
}

int32_t argmax(const std::vector<float>& v) { return int32_t(std::max_element(v.begin(), v.end()) - v.begin()); }

double msSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Distinct routed experts each layer selected for token `tok` of the last step.
std::vector<uint32_t> expertsPerLayer(const rt::RoutingRecord& r, uint32_t tok) {
    std::vector<uint32_t> n(r.nLayer, 0);
    for (uint32_t il = 0; il < r.nLayer; ++il) {
        const int32_t* ids = r.idsAt(il, tok);
        for (uint32_t j = 0; j < r.kMax; ++j)
            if (ids[j] >= 0 && std::find(ids, ids + j, ids[j]) == ids + j) ++n[il];
    }
    return n;
}

Status runPrefill(Engine& e, const Model& m, uint32_t p, uint32_t reps, TestResult& out) {
    const auto toks = benchTokens(p, m.cfg.n_vocab, p);
    std::vector<float> logits(m.cfg.n_vocab);
    std::vector<double> tps;
    cache::CacheStats before;
    for (uint32_t r = 0; r <= reps; ++r) {  // run 0 warms up
        if (r == 1) before = e.cacheTotals();
        const auto t0 = std::chrono::steady_clock::now();
        MOE_TRY(e.forward(toks.data(), p, 0, logits.data()));
        const double ms = msSince(t0);
        if (r) tps.push_back(p / (ms * 1e-3));
    }
    recordCache(e, m, cache::difference(e.cacheTotals(), before), uint64_t(p) * reps, out);
    out.name = "pp" + std::to_string(p);
    out.decode = false;
    out.nTok = p;
    out.tokPerS = stats(std::move(tps));
    out.flopsPerToken = prefillFlops(m, p) / p;
    return {};
}

// One decode run: the prompt (untimed), then n greedy single-token steps; returns step times.
// `cacheSteps` gets the expert cache's counters of the n steps (not of the prompt).
Status decodeRun(Engine& e, const Model& m, uint32_t n, std::vector<double>& stepMs, TokenBytes* bytes, double* flops,
                 cache::CacheStats* cacheSteps) {
    const auto prompt = benchTokens(kDecodePrompt, m.cfg.n_vocab, 7);
    std::vector<float> logits(m.cfg.n_vocab);
    MOE_TRY(e.forward(prompt.data(), kDecodePrompt, 0, logits.data()));
    const cache::CacheStats before = e.cacheTotals();
    int32_t tok = argmax(logits);
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t pos = kDecodePrompt + i;
        const auto t0 = std::chrono::steady_clock::now();
        MOE_TRY(e.forward(&tok, 1, pos, logits.data()));
        stepMs.push_back(msSince(t0));
        tok = argmax(logits);
        if (const rt::RoutingRecord* r = e.routing(); r && r->nTok == 1) {
            const auto k = expertsPerLayer(*r, 0);
            *bytes += decodeBytes(m, k, pos);
            *flops += tokenFlops(m, k, pos, true);
        }
    }
    *cacheSteps = cache::difference(e.cacheTotals(), before);
    return {};
}

Status runDecode(Engine& e, const Model& m, uint32_t n, uint32_t reps, TestResult& out) {
    std::vector<double> tps;
    TokenBytes sum;
    double flops = 0;
    uint32_t counted = 0;
    cache::CacheStats steps;
    for (uint32_t r = 0; r <= reps; ++r) {
        std::vector<double> stepMs;
        TokenBytes b;
        double f = 0;
        cache::CacheStats c;
        MOE_TRY(decodeRun(e, m, n, stepMs, &b, &f, &c));
        if (r == 0) continue;
        steps += c;
        double ms = 0;
        for (double s : stepMs) ms += s;
        tps.push_back(n / (ms * 1e-3));
        sum += b;
        flops += f;
        counted += n;
    }
    recordCache(e, m, steps, uint64_t(n) * reps, out);
    out.name = "tg" + std::to_string(n);
    out.decode = true;
    out.nTok = n;
    out.tokPerS = stats(std::move(tps));
    if (counted && sum.total()) {
        out.bytes = sum.perToken(counted);
        out.flopsPerToken = flops / counted;
    }
    return {};
}

// The forward pass as createBackend would set it up from the model flags (batch, expert cache).
rt::ForwardOptions forwardOptions(const BenchFlags& f, const rt::ExpertCacheOptions& cache, uint32_t nCtx,
                                  bool profile) {
    rt::ForwardOptions fo;
    fo.nCtx = nCtx;
    fo.maxBatch = f.mf.backend.maxBatch;
    fo.expertCache = cache;
    fo.profile = profile;
    return fo;
}

// GPU time per kernel family of `steps` runs of `run` (one forward() each), averaged per run;
// `after` runs untimed after each.
Status profileSteps(Engine& e, uint32_t steps, const std::function<Status()>& run, StepProfile& p,
                    const std::function<void()>& after = {}) {
    std::vector<vk::KernelTime> all;
    for (uint32_t s = 0; s < steps; ++s) {
        const vk::RecordCounts c0 = e.device->recordCounts();
        const auto t0 = std::chrono::steady_clock::now();
        MOE_TRY(run());
        p.wallMs += msSince(t0);
        if (after) after();
        const vk::RecordCounts c1 = e.device->recordCounts();
        p.submitMs += e.vkf->lastStepMs();
        const auto& kt = e.vkf->lastKernelTimes();
        for (const auto& k : kt) p.kernelMs += k.ms;
        // the lm head is the step's last product (decode and prefill without allLogits)
        if (!kt.empty() && rt::kernelFamily(kt.back().name) == "mul_mat") p.lmHeadMs += kt.back().ms;
        all.insert(all.end(), kt.begin(), kt.end());
        p.counts = {c1.dispatches - c0.dispatches, c1.barriers - c0.barriers, c1.transfers - c0.transfers,
                    c1.submits - c0.submits};
    }
    p.steps = steps;
    p.wallMs /= steps, p.submitMs /= steps, p.kernelMs /= steps, p.lmHeadMs /= steps;
    p.families = rt::timeByFamily(all);
    for (auto& f : p.families) f.ms /= steps, f.dispatches /= steps;
    return {};
}

// Profiles a decode step and a prefill; `done` gets each as soon as it is measured (the text
// output prints it then: a prefill of a large model can fail or take minutes).
Status runProfile(Engine& e, const Model& m, const BenchFlags& f, const rt::ExpertCacheOptions& cache,
                  uint32_t prefillTokens, BenchResult& res, const std::function<void(const StepProfile&)>& done) {
    if (e.nCtx() < kDecodePrompt + 2)
        return makeError("--profile needs a context of at least " + std::to_string(kDecodePrompt + 2) + " tokens");
    // a second forward pass with per-dispatch timestamps (the timed runs go without them)
    const rt::ForwardOptions fo = forwardOptions(f, cache, e.nCtx(), true);
    e.vkf.reset();
    MOE_ASSIGN(e.vkf, rt::VkForward::create(*e.device, m, fo));
    std::vector<float> logits(m.cfg.n_vocab);
    // decode: after the prompt and one untimed step, `reps` steps
    const auto prompt = benchTokens(kDecodePrompt, m.cfg.n_vocab, 7);
    MOE_TRY(e.forward(prompt.data(), kDecodePrompt, 0, logits.data()));
    int32_t tok = argmax(logits);
    uint32_t pos = kDecodePrompt;
    MOE_TRY(e.forward(&tok, 1, pos++, logits.data()));
    tok = argmax(logits);
    const uint32_t steps = std::min(uint32_t(f.reps), e.nCtx() - pos);
    StepProfile& d = res.decodeProfile;
    d.what = "decode step";
    d.pos = pos;
    TokenBytes bytes;
    MOE_TRY(profileSteps(e, steps, [&]() { return e.forward(&tok, 1, pos, logits.data()); }, d, [&] {
        bytes += decodeBytes(m, expertsPerLayer(*e.routing(), 0), pos);
        tok = argmax(logits);
        ++pos;
    }));
    d.bytes = bytes.perToken(steps);
    res.decodeProfiled = true;
    done(d);
    // prefill: one untimed run, then one profiled
    StepProfile& pf = res.prefillProfile;
    pf.what = "prefill";
    pf.nTok = prefillTokens;
    const auto toks = benchTokens(prefillTokens, m.cfg.n_vocab, prefillTokens);
    MOE_TRY(e.forward(toks.data(), prefillTokens, 0, logits.data()));
    MOE_TRY(profileSteps(e, 1, [&]() { return e.forward(toks.data(), prefillTokens, 0, logits.data()); }, pf));
    res.prefillProfiled = true;
    done(pf);
    return {};
}

ModelInfo modelInfo(const Model& m, const std::string& path) {
    ModelInfo mi;
    mi.cfg = m.cfg;
    mi.path = path;
    std::error_code ec;
    mi.fileBytes = std::filesystem::file_size(path, ec);
    std::map<std::string, std::pair<uint32_t, uint64_t>> types;
    for (const auto& t : m.file.tensors()) {
        auto& e = types[typeName(t.type)];
        ++e.first;
        e.second += t.nBytes;
    }
    for (auto& [name, e] : types) mi.types.push_back({name, e.first, e.second});
    mi.paramsTotal = m.paramsTotal();
    mi.paramsActive = m.paramsActive();
    mi.kvBytesPerToken = kvBytesPerToken(m.plan);
    bool latent = false;
    uint64_t full = 0;
    for (const LayerPlan& l : m.plan.layers) {
        mi.denseLayers += l.moe() ? 0 : 1;
        if (const AttentionBlock* a = l.attention()) {
            latent = latent || bool(a->mla);
            full += uint64_t(a->nHead) * (a->headDim + a->headDimV()) * sizeof(float);
        }
    }
    if (latent) mi.kvBytesUnlatent = full;
    return mi;
}

double loadAverage() {
    std::ifstream f("/proc/loadavg");
    double v = -1;
    if (!(f >> v)) return -1;
    return v;
}

void runBench(const BenchFlags& f) {
    const bool promptsGiven = !f.prompts.empty(), gensGiven = !f.gens.empty();
    auto prompts = parseSizes("-p", promptsGiven ? f.prompts : "64,512");
    if (!prompts.ok()) return fail(prompts.error().message);
    auto gens = parseSizes("-n", gensGiven ? f.gens : "32,128");
    if (!gens.ok()) return fail(gens.error().message);
    if (f.reps < 1 || f.reps > 1000) return fail("-r expects a repetition count in 1..1000");
    if (f.rooflineMib < 16 || f.rooflineMib > 65536) return fail("--roofline-mib expects a size in 16..65536 MiB");
    if (f.profile && f.mf.backend.cpu) return fail("--profile needs the Vulkan backend (GPU timestamps); drop --cpu");
    auto model = loadModelOrFail(f.mf);
    if (!model) return;
    const Model& m = *model;

    BenchResult res;
    res.model = modelInfo(m, f.mf.modelPath.empty() ? defaultModelPath() : f.mf.modelPath);
    res.reps = f.reps;
    res.decodePrompt = kDecodePrompt;
    res.loadBefore = loadAverage();

    Engine e;
    const auto ctx = contextSize(m.cfg, f.mf.backend.nCtx);
    if (!ctx) return fail(ctx.error().message);
    const uint32_t nCtx = ctx.value();
    // tests that do not fit the context: an error when asked for, skipped (with a note) among the defaults
    auto fit = [&](std::vector<uint32_t>& v, uint32_t extra, bool given, const char* kind) -> bool {
        std::vector<uint32_t> kept;
        for (uint32_t n : v) {
            if (uint64_t(n) + extra <= nCtx) {
                kept.push_back(n);
                continue;
            }
            const std::string what = std::string(kind) + std::to_string(n) + " needs " + std::to_string(n + extra) +
                                     " positions and exceeds the context length " + std::to_string(nCtx);
            if (given) {
                fail(what);
                return false;
            }
            res.skipped.push_back(what);
        }
        v = std::move(kept);
        return true;
    };
    if (!fit(prompts.value(), 0, promptsGiven, "pp") || !fit(gens.value(), kDecodePrompt + 1, gensGiven, "tg")) return;
    // the expert-cache budgets to run: the model flags' one, or each of --expert-cache LIST
    rt::ExpertCacheOptions cacheOpts = f.mf.backend.expertCache;
    std::vector<int64_t> budgets{cacheOpts.slots};
    if (!f.cacheList.empty()) {
        if (f.mf.backend.cpu) return fail("--expert-cache needs the Vulkan backend; drop --cpu");
        if (cacheOpts.budgetMiB) return fail("--expert-cache and --expert-cache-mb exclude each other");
        if (m.cfg.expert_count == 0) return fail("--expert-cache: the model has no routed experts");
        auto list = cache::parseSlots(f.cacheList, m.cfg.expert_count);
        if (!list.ok()) return fail("--expert-cache: " + list.error().message);
        budgets.assign(list.value().begin(), list.value().end());
        res.cacheSweep = true;
        res.cachePolicy = f.mf.cachePolicy;
        res.cachePrefetch = cacheOpts.prefetch;
    }
    if (f.mf.backend.cpu) {
        res.backend = "CPU reference";  // createBackend refuses the expert-cache flags here
        e.cpu = createBackendOrFail(m, f.mf);
        if (!e.cpu) return;
    } else {
        if (!resolveCachePolicy(m, f.mf, cacheOpts)) return;
        vk::InstanceOptions io;
        io.validation = f.mf.backend.validation;
        auto inst = vk::Instance::create(io);
        if (!inst.ok()) return fail(inst.error().message);
        e.instance = std::move(inst).value();
        auto index = e.instance->chooseDevice(f.mf.backend.device);
        if (!index.ok()) return fail(index.error().message);
        auto dev = vk::Device::create(*e.instance, index.value());
        if (!dev.ok()) return fail(dev.error().message);
        e.device = std::move(dev).value();
        res.caps = e.device->caps();
        res.backend = "Vulkan";
        if (Status st = rt::checkDeviceMemory(*e.device, m, nCtx); !st.ok()) return fail(st.message());
        if (!f.noRoofline) {
            selftest::RooflineOptions ro;
            ro.readBytes = uint64_t(f.rooflineMib) << 20;
            auto rf = selftest::measureRoofline(*e.device, ro);
            if (!rf.ok()) return fail(rf.error().message);
            res.roofline = rf.value();
            res.hasRoofline = true;
        }
    }
    res.batch = f.mf.backend.maxBatch;
    bool headerPrinted = false;
    for (int64_t slots : budgets) {
        if (!f.mf.backend.cpu) {
            cacheOpts.slots = slots;
            e.vkf.reset();
            auto fwd = rt::VkForward::create(*e.device, m, forwardOptions(f, cacheOpts, nCtx, false));
            if (!fwd.ok()) return fail(fwd.error().message);
            e.vkf = std::move(fwd).value();
            if (!res.cacheSweep) {
                res.experts = "every routed expert resident on the device";
                if (const rt::ExpertOffload* c = e.vkf->expertCache()) {
                    res.experts = "expert cache, " + std::to_string(c->slots()) + " of " +
                                  std::to_string(m.cfg.expert_count) + " slots per layer" +
                                  (c->prefetch() ? ", prefetch" : "") + " (bytes/token below leave out the uploads)";
                    if (!e.vkf->expertCacheNote().empty()) res.experts += "; " + e.vkf->expertCacheNote();
                }
            }
        }
        res.nCtx = e.nCtx();
        if (!f.json && !headerPrinted) printHeader(res);
        headerPrinted = true;
        for (uint32_t p : prompts.value()) {
            TestResult t;
            if (Status st = runPrefill(e, m, p, f.reps, t); !st.ok()) return fail(st.message());
            res.tests.push_back(t);
            if (!f.json) printRow(res, t);
        }
        for (uint32_t n : gens.value()) {
            TestResult t;
            if (Status st = runDecode(e, m, n, f.reps, t); !st.ok()) return fail(st.message());
            res.tests.push_back(t);
            if (!f.json) printRow(res, t);
        }
    }
    if (!f.json) printSkipped(res);
    if (f.profile) {  // with the last budget
        const uint32_t pp = prompts.value().empty() ? std::min<uint32_t>(64, nCtx) : prompts.value().front();
        auto print = [&](const StepProfile& p) {
            if (!f.json) printProfile(res, p);
        };
        if (Status st = runProfile(e, m, f, cacheOpts, pp, res, print); !st.ok()) return fail("profile: " + st.message());
    }
    res.loadAfter = loadAverage();
    if (f.json) printJson(res);
    else printLoadAfter(res);
}

}  // namespace

void registerBench(CLI::App& app) {
    auto f = std::make_shared<BenchFlags>();
    auto* cmd = app.add_subcommand("bench", "prefill and decode speed, bandwidth and compute roofline, kernel profile");
    addModelFlags(cmd, f->mf, true, false);
    cmd->add_option("--expert-cache", f->cacheList,
                    "expert cache: slots per MoE layer, N or P% of the experts; a comma-separated list runs every "
                    "test at each budget (no value: 25%,50%,100%)")
        ->expected(0, 1)
        ->default_str("25%,50%,100%");
    cmd->add_option("-p,--prompt", f->prompts, "prefill sizes, comma-separated (default 64,512; 0: none)");
    cmd->add_option("-n,--gen", f->gens, "decode lengths, comma-separated (default 32,128; 0: none)");
    cmd->add_option("-r,--reps", f->reps, "timed repetitions of each test after one warm-up (default 5)");
    cmd->add_flag("--json", f->json, "one JSON document on stdout");
    cmd->add_flag("--profile", f->profile, "GPU time per kernel family of a decode step and a prefill");
    cmd->add_flag("--no-roofline", f->noRoofline, "skip the bandwidth and FMA measurements");
    cmd->add_option("--roofline-mib", f->rooflineMib, "buffer read by the bandwidth measurement, MiB (default 256)");
    cmd->callback([f] { runBench(*f); });
}

}  // namespace moe::cli
