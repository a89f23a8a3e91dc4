// The backend factory: the Vulkan runtime (instance + device + VkForward) or the CPU reference.
#include "runtime/backend.h"

#include <algorithm>

#include "cpu/forward.h"
#include "runtime/vk_forward.h"
#include "vk/instance.h"

namespace moe::rt {

DeviceMemoryNeed deviceMemoryNeed(const Model& model, uint32_t nCtx) {
    DeviceMemoryNeed n;
    // routed experts are left out: the expert cache fits them to what is free (chooseExpertSlots)
    for (const auto& t : model.file.tensors())
        if (t.name.find("_exps.") == std::string::npos) n.weights += t.nBytes;
    n.kvCache = uint64_t(nCtx) * kvBytesPerToken(model.plan);
    return n;
}

Status checkDeviceMemory(vk::Device& dev, const Model& model, uint32_t nCtx) {
    const DeviceMemoryNeed need = deviceMemoryNeed(model, nCtx);
    const uint64_t avail = dev.allocator().heapAvailable(vk::MemoryKind::Device);
    if (need.total() <= avail) return {};
    auto mib = [](uint64_t b) { return std::to_string((b + (1ull << 20) - 1) >> 20) + " MiB"; };
    return makeError("out of device memory: the model needs " + mib(need.total()) + " (weights " + mib(need.weights) +
                     ", KV cache " + mib(need.kvCache) + " for " + std::to_string(nCtx) + " tokens), " + mib(avail) +
                     " of the device's " + mib(dev.allocator().heapSize(vk::MemoryKind::Device)) + " are free" +
                     (need.weights < avail ? " (the weights alone fit: try a smaller context)" : ""));
}

Status Backend::setCachePolicy(cache::Policy policy, std::vector<std::vector<float>> staticRank) {
    MOE_TRY(checkLivePolicy(policy, staticRank, model_.cfg.block_count));
    if (ExpertOffload* off = expertCache()) MOE_TRY(off->setPolicy(policy, staticRank));
    opts_.expertCache.policy = policy;
    opts_.expertCache.staticRank = std::move(staticRank);
    return {};
}

void Backend::setPrefetch(bool on) {
    if (ExpertOffload* off = expertCache()) off->setPrefetch(on);
    opts_.expertCache.prefetch = on;
}

Status checkCacheOptions(bool cpu, const ExpertCacheOptions& ec) {
    if (cpu && (ec.slots >= 0 || ec.budgetMiB || ec.prefetch))
        return makeError("the expert cache is a Vulkan feature (the CPU reference reads every expert from host memory)");
    if (ec.policy == cache::Policy::Belady)
        return makeError("expert cache: belady needs the future and exists only in the simulator (cache-sim)");
    return {};
}

namespace {

class VulkanBackend final : public Backend {
public:
    VulkanBackend(const Model& m, const BackendOptions& o) : Backend(m, o) {}
    std::unique_ptr<vk::Instance> ownInstance;  // null when the caller's instance is used
    std::unique_ptr<vk::Device> device;
    std::unique_ptr<VkForward> fwd;
    std::vector<cpu::RouterParams> routing;     // empty: the model's own routing
    ~VulkanBackend() override {
        fwd.reset();  // buffers before the device, the device before the instance
        device.reset();
    }

    // (Re)builds the forward pass on the device with the current options and routing.
    Status build() {
        fwd.reset();  // free the old weights, KV cache and expert slots before uploading again
        MOE_TRY(checkDeviceMemory(*device, model_, opts_.nCtx));
        ForwardOptions fo;
        fo.nCtx = opts_.nCtx;
        fo.maxBatch = opts_.maxBatch;
        fo.profile = opts_.profile;
        fo.expertCache = opts_.expertCache;
        MOE_ASSIGN(fwd, VkForward::create(*device, model_, fo));
        if (!routing.empty()) MOE_TRY(fwd->setRouting(routing));
        return {};
    }

    Status forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) override {
        return fwd->forward(tokens, nTok, pos0, logits, allLogits);
    }
    uint32_t nCtx() const override { return fwd->nCtx(); }
    std::string name() const override { return "Vulkan (" + device->caps().name + ")"; }
    bool isCpu() const override { return false; }
    Status setRouting(const std::vector<cpu::RouterParams>& layers) override {
        MOE_TRY(fwd->setRouting(layers));
        routing = layers;
        return {};
    }
    const RoutingRecord* lastRouting() const override { return fwd->recordRouting() ? &fwd->lastRouting() : nullptr; }
    void setRecordRouting(bool on) override { fwd->setRecordRouting(on); }
    ExpertOffload* expertCache() override { return fwd->expertCache(); }
    const std::vector<std::vector<cache::CacheStats>>* lastCacheSteps() const override {
        return fwd->expertCache() ? &fwd->lastCacheSteps() : nullptr;
    }
    Status setProfile(bool on) override {
        if (on == opts_.profile) return {};
        opts_.profile = on;
        return build();
    }
    const std::vector<vk::KernelTime>* lastKernelTimes() const override { return &fwd->lastKernelTimes(); }
    std::string setupNote() const override { return fwd->expertCacheNote(); }
    MemoryByTag memoryInUse() const override { return device->allocator().bytesInUse(); }
};

class CpuBackend final : public Backend {
public:
    CpuBackend(const Model& m, const BackendOptions& o) : Backend(m, o), fwd(m, o.nCtx) {}
    cpu::CpuForward fwd;

    Status forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) override {
        return fwd.forward(tokens, nTok, pos0, logits, allLogits);
    }
    uint32_t nCtx() const override { return fwd.nCtx(); }
    std::string name() const override { return "CPU reference"; }
    bool isCpu() const override { return true; }
    Status setRouting(const std::vector<cpu::RouterParams>& layers) override { return fwd.setRouting(layers); }
    const RoutingRecord* lastRouting() const override { return fwd.recordRouting() ? &fwd.lastRouting() : nullptr; }
    void setRecordRouting(bool on) override { fwd.setRecordRouting(on); }
};

}  // namespace

Result<std::unique_ptr<Backend>> createBackend(const Model& model, const BackendOptions& opts, vk::Instance* instance) {
    BackendOptions o = opts;
    MOE_ASSIGN(o.nCtx, contextSize(model.cfg, opts.nCtx));
    MOE_TRY(checkCacheOptions(o.cpu, o.expertCache));
    if (o.cpu) return std::unique_ptr<Backend>(new CpuBackend(model, o));
    auto b = std::make_unique<VulkanBackend>(model, o);
    if (!instance) {
        vk::InstanceOptions io;
        io.validation = o.validation;
        MOE_ASSIGN(b->ownInstance, vk::Instance::create(io));
        instance = b->ownInstance.get();
    }
    MOE_ASSIGN(uint32_t index, instance->chooseDevice(o.device));
    MOE_ASSIGN(b->device, vk::Device::create(*instance, index));
    MOE_TRY(b->build());
    return std::unique_ptr<Backend>(std::move(b));
}

}  // namespace moe::rt
