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
    // buffers and the forward pass before the device that owns their memory
    masks_.clear();
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
    b->policies_.assign(L, RoutingPolicy{});
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
    masks_.clear();
    vkf_.reset();  // free the old weights and KV cache before uploading again
    MOE_TRY(checkDeviceMemory(*device_, model_, opts_.nCtx));
    ForwardOptions fo;
    fo.nCtx = opts_.nCtx;
    fo.maxBatch = opts_.maxBatch;
    fo.profile = on;
    MOE_ASSIGN(vkf_, VkForward::create(*device_, model_, fo));
    if (!policies_.empty()) MOE_TRY(applyRouting());
    return {};
}

Status SessionBackend::setRouting(const std::vector<RoutingPolicy>& policies) {
    const uint32_t L = model_.cfg.block_count;
    if (policies.empty()) {
        policies_.assign(L, RoutingPolicy{});
    } else {
        policies_.resize(L);
        for (uint32_t il = 0; il < L; ++il) policies_[il] = policies[std::min<size_t>(il, policies.size() - 1)];
    }
    return applyRouting();
}

Status SessionBackend::applyRouting() {
    const ModelConfig& c = model_.cfg;
    const uint32_t NE = c.expert_count, L = c.block_count;
    const uint32_t cap = std::min(NE, kRouteCap);
    for (uint32_t il = 0; il < L; ++il) {
        const RoutingPolicy& pol = policies_[il];
        const uint32_t k = std::clamp<uint32_t>(pol.kind == RoutingPolicy::Kind::Model ? c.expert_used_count : pol.k, 1, cap);
        const bool topP = pol.kind == RoutingPolicy::Kind::TopP;
        const bool masked = std::any_of(pol.mask.begin(), pol.mask.end(), [](uint8_t m) { return m != 0; });
        if (cpuf_) {
            cpu::RouterParams rp = cpuf_->defaultRouterParams();
            rp.selection = topP ? cpu::Selection::TopP : cpu::Selection::TopK;
            rp.k = int(k);
            rp.kMax = int(k);
            rp.topP = pol.p;
            rp.mask.clear();
            if (masked) {
                rp.mask.assign(NE, 0);
                std::copy_n(pol.mask.begin(), std::min<size_t>(NE, pol.mask.size()), rp.mask.begin());
            }
            cpuf_->setRouterParams(il, std::move(rp));
            continue;
        }
        GpuRouterParams& rp = vkf_->routing()[il].params;
        rp = GpuRouterParams{};
        rp.normalize = c.expert_weights_norm;
        rp.topP = topP;
        rp.k = k;
        rp.kMax = k;
        rp.p = pol.p;
        rp.mask = 0;
        if (masked) {
            if (masks_.size() < L) masks_.resize(L);
            if (!masks_[il].valid()) {
                MOE_ASSIGN(masks_[il], device_->allocate(uint64_t(NE) * 4, vk::MemoryKind::Upload, vk::MemoryTag::Other,
                                                         "routing mask"));
            }
            // written between steps only: the previous step has completed (forward waits on its fence)
            int32_t* m = masks_[il].as<int32_t>();
            for (uint32_t e = 0; e < NE; ++e) m[e] = e < pol.mask.size() && pol.mask[e] ? 1 : 0;
            rp.mask = masks_[il].address();
        }
    }
    return {};
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
