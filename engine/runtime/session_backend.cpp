// The instrumented backend of a Session: Vulkan forward pass or CPU reference.
#include "runtime/session_backend.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

#include "cpu/forward.h"
#include "vk/device.h"

namespace moe::rt {

namespace {

constexpr uint32_t kRouteCap = 64;  // widest routing row the router kernel takes

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

SessionBackend::SessionBackend(vk::Instance* instance, const Model& model, const SessionBackendOptions& opts)
    : instance_(instance), model_(model), opts_(opts) {}

SessionBackend::~SessionBackend() {
    // the forward pass (its buffers) before the device that owns their memory
    vkf_.reset();
    device_.reset();
}

Result<std::unique_ptr<SessionBackend>> SessionBackend::create(vk::Instance* instance, const Model& model,
                                                               const SessionBackendOptions& opts) {
    const uint32_t ctxTrain = model.cfg.context_length ? model.cfg.context_length : 4096;
    SessionBackendOptions o = opts;
    o.nCtx = opts.nCtx ? opts.nCtx : std::min<uint32_t>(ctxTrain, 4096);
    if (o.nCtx > ctxTrain)
        return makeError("context " + std::to_string(o.nCtx) + " exceeds the model's context length " +
                         std::to_string(ctxTrain));
    const ExpertCacheOptions& ec = o.expertCache;
    if (o.cpu && (ec.slots >= 0 || ec.budgetMiB))
        return makeError("the expert cache is a Vulkan feature (the CPU reference reads every expert from host "
                         "memory)");
    std::unique_ptr<SessionBackend> b(new SessionBackend(instance, model, o));
    const uint32_t L = model.cfg.block_count;
    if (o.cpu) {
        b->cpuf_ = std::make_unique<cpu::CpuForward>(model, o.nCtx);
        b->cpuLayers_.resize(L);
        b->cpuf_->setRoutingHook([p = b.get()](const cpu::RoutingEvent& e) {
            p->onCpuRouting(e.layer, e.nTok, e.kMax, e.ids, e.weights, e.counts, e.probs);
        });
    } else {
        if (!instance) return makeError("no Vulkan instance (is a Vulkan driver installed?)");
        MOE_ASSIGN(uint32_t index, instance->chooseDevice(o.device));
        MOE_ASSIGN(b->device_, vk::Device::create(*instance, index));
        MOE_TRY(b->setProfile(o.profile));  // builds the forward pass
    }
    return b;
}

uint32_t SessionBackend::nCtx() const { return opts_.nCtx; }

std::string SessionBackend::name() const {
    return opts_.cpu ? std::string("CPU reference") : "Vulkan (" + device_->caps().name + ")";
}

Status SessionBackend::setProfile(bool on) {
    if (opts_.cpu) {
        opts_.profile = on;
        return {};
    }
    if (vkf_ && on == opts_.profile) return {};
    opts_.profile = on;
    vkf_.reset();  // free the old weights, KV cache and expert slots before uploading again
    MOE_TRY(checkDeviceMemory(*device_, model_, opts_.nCtx));
    ForwardOptions fo;
    fo.nCtx = opts_.nCtx;
    fo.maxBatch = opts_.maxBatch;
    fo.profile = on;
    fo.expertCache = opts_.expertCache;
    MOE_ASSIGN(vkf_, VkForward::create(*device_, model_, fo));
    if (!routing_.empty()) MOE_TRY(vkf_->setRouting(routing_));
    return {};
}

Status SessionBackend::setRouting(const std::vector<cpu::RouterParams>& layers) {
    const ModelConfig& c = model_.cfg;
    if (layers.size() != c.block_count)
        return makeError("routing: " + std::to_string(layers.size()) +
                         " layers of router parameters for a model with " + std::to_string(c.block_count));
    if (cpuf_) {
        // the same checks as the Vulkan path (VkForward::setRouting) so both reject the same input
        for (size_t il = 0; il < layers.size(); ++il) {
            const cpu::RouterParams& p = layers[il];
            const bool sizesOk = (p.mask.empty() || p.mask.size() == c.expert_count) &&
                                 (p.logitScale.empty() || p.logitScale.size() == c.expert_count) &&
                                 (p.selectionBias.empty() || p.selectionBias.size() == c.expert_count);
            if (p.kMax < 1 || uint32_t(p.kMax) > std::min(c.expert_count, kRouteCap) ||
                (p.selection == cpu::Selection::TopK && (p.k < 1 || p.k > p.kMax)) || !sizesOk)
                return makeError("routing, layer " + std::to_string(il) + ": invalid router parameters");
        }
        for (size_t il = 0; il < layers.size(); ++il) cpuf_->setRouterParams(uint32_t(il), layers[il]);
    } else {
        // written between steps only: the previous step has completed (forward waits on its fence)
        MOE_TRY(vkf_->setRouting(layers));
    }
    routing_ = layers;
    return {};
}

ExpertOffload* SessionBackend::expertCache() { return vkf_ ? vkf_->expertCache() : nullptr; }

const std::vector<std::vector<cache::CacheStats>>* SessionBackend::lastCacheSteps() const {
    return vkf_ && vkf_->expertCache() ? &vkf_->lastCacheSteps() : nullptr;
}

std::string SessionBackend::setupNote() const { return vkf_ ? vkf_->expertCacheNote() : std::string(); }

Status SessionBackend::setCachePolicy(cache::Policy policy, std::vector<std::vector<float>> staticRank) {
    if (policy == cache::Policy::Belady)
        return makeError("belady needs the future accesses: it is the simulator's bound (moescope cache-sim), "
                         "not a live policy");
    if (policy == cache::Policy::Static && staticRank.size() != model_.cfg.block_count)
        return makeError("the static policy needs a hot set per layer, learned from a trace");
    if (ExpertOffload* off = expertCache()) MOE_TRY(off->setPolicy(policy, staticRank));
    opts_.expertCache.policy = policy;
    opts_.expertCache.staticRank = std::move(staticRank);
    return {};
}

void SessionBackend::setPrefetch(bool on) {
    if (ExpertOffload* off = expertCache()) off->setPrefetch(on);
    opts_.expertCache.prefetch = on;
}

void SessionBackend::onCpuRouting(uint32_t layer, uint32_t nTok, int32_t kMax, const int32_t* ids,
                                  const float* weights, const int32_t* counts, const float* probs) {
    const uint32_t NE = model_.cfg.expert_count;
    CpuLayer& l = cpuLayers_.at(layer);
    l.kMax = kMax;
    l.ids.assign(ids, ids + size_t(nTok) * kMax);
    l.weights.assign(weights, weights + size_t(nTok) * kMax);
    l.counts.assign(counts, counts + nTok);
    l.probs.assign(probs, probs + size_t(nTok) * NE);
}

Status SessionBackend::forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) {
    auto t0 = std::chrono::steady_clock::now();
    StepReport rep;
    if (cpuf_) {
        MOE_TRY(cpuf_->forward(tokens, nTok, pos0, logits, allLogits));
        // flatten the per-layer hook calls into the Vulkan record layout
        RoutingRecord& r = cpuRouting_;
        r = RoutingRecord{};
        r.nTok = nTok;
        r.nLayer = uint32_t(cpuLayers_.size());
        r.nExpert = model_.cfg.expert_count;
        for (const auto& l : cpuLayers_) r.kMax = std::max(r.kMax, uint32_t(l.kMax));
        for (const auto& l : cpuLayers_) {
            for (uint32_t t = 0; t < nTok; ++t)
                for (uint32_t j = 0; j < r.kMax; ++j) {
                    const bool in = int32_t(j) < l.kMax && size_t(t) * l.kMax + j < l.ids.size();
                    r.ids.push_back(in ? l.ids[size_t(t) * l.kMax + j] : -1);
                    r.weights.push_back(in ? l.weights[size_t(t) * l.kMax + j] : 0.0f);
                }
            r.counts.insert(r.counts.end(), l.counts.begin(), l.counts.end());
            r.probs.insert(r.probs.end(), l.probs.begin(), l.probs.end());
        }
        rep.routing = &r;
    } else {
        MOE_TRY(vkf_->forward(tokens, nTok, pos0, logits, allLogits));
        rep.routing = &vkf_->lastRouting();
        if (opts_.profile) rep.kernels = aggregate(vkf_->lastKernelTimes());
        if (vkf_->expertCache()) {
            rep.cacheSteps = &vkf_->lastCacheSteps();
            rep.cache = vkf_->expertCache();
        }
    }
    rep.tokens = tokens;
    rep.nTok = nTok;
    rep.pos0 = pos0;
    rep.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (observer_) observer_(rep);
    return {};
}

MemoryByTag SessionBackend::memoryInUse() const {
    if (!device_) return MemoryByTag{};
    return device_->allocator().bytesInUse();
}

}  // namespace moe::rt
