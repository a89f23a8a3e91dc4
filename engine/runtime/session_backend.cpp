// The instrumented backend of a Session: any backend of createBackend, with a step observer.
#include "runtime/session_backend.h"

#include <algorithm>
#include <chrono>
#include <map>

namespace moe::rt {

namespace {

std::vector<KernelStat> aggregate(const std::vector<vk::KernelTime>& times) {
    std::map<std::string, KernelStat> by;
    for (const auto& t : times) {
        KernelStat& s = by[t.name];
        s.name = t.name;
        s.ms += t.ms;
        ++s.calls;
    }
    std::vector<KernelStat> out;
    for (auto& [_, s] : by) out.push_back(std::move(s));
    std::sort(out.begin(), out.end(), [](const KernelStat& a, const KernelStat& b) { return a.ms > b.ms; });
    return out;
}

}  // namespace

Result<std::unique_ptr<SessionBackend>> SessionBackend::create(vk::Instance* instance, const Model& model,
                                                               const BackendOptions& opts) {
    if (!opts.cpu && !instance) return makeError("no Vulkan instance (is a Vulkan driver installed?)");
    MOE_ASSIGN(std::unique_ptr<Backend> inner, createBackend(model, opts, instance));
    return std::unique_ptr<SessionBackend>(new SessionBackend(model, std::move(inner)));
}

Status SessionBackend::forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) {
    auto t0 = std::chrono::steady_clock::now();
    MOE_TRY(inner_->forward(tokens, nTok, pos0, logits, allLogits));
    StepReport rep;
    rep.routing = inner_->lastRouting();
    if (profile())
        if (const auto* kt = inner_->lastKernelTimes()) rep.kernels = aggregate(*kt);
    if (ExpertOffload* cache = inner_->expertCache()) {
        rep.cacheSteps = inner_->lastCacheSteps();
        rep.cache = cache;
    }
    rep.tokens = tokens;
    rep.nTok = nTok;
    rep.pos0 = pos0;
    rep.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (observer_) observer_(rep);
    return {};
}

}  // namespace moe::rt
