// Backend factory: the Vulkan runtime (instance + device + VkForward) or the CPU reference.
#include "runtime/backend.h"

#include <algorithm>

#include "cpu/forward.h"
#include "runtime/vk_forward.h"
#include "vk/instance.h"

namespace moe::rt {

DeviceMemoryNeed deviceMemoryNeed(const Model& model, uint32_t nCtx) {
    const ModelConfig& c = model.cfg;
    DeviceMemoryNeed n;
    // routed experts are left out: the expert cache fits them to what is free (chooseExpertSlots)
    for (const auto& t : model.file.tensors())
        if (t.name.find("_exps.") == std::string::npos) n.weights += t.nBytes;
    n.kvCache = 2ull * c.block_count * nCtx * c.head_count_kv * c.head_dim * sizeof(float);
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

namespace {

class VulkanBackend final : public Backend {
public:
    std::unique_ptr<vk::Instance> instance;
    std::unique_ptr<vk::Device> device;
    std::unique_ptr<VkForward> fwd;
    ~VulkanBackend() override {
        fwd.reset();    // buffers before the device
        device.reset();
    }
    Status forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) override {
        return fwd->forward(tokens, nTok, pos0, logits, allLogits);
    }
    uint32_t nCtx() const override { return fwd->nCtx(); }
    std::string name() const override { return "Vulkan (" + device->caps().name + ")"; }
    Status setRouting(const std::vector<cpu::RouterParams>& layers) override { return fwd->setRouting(layers); }
    const RoutingRecord* lastRouting() const override { return fwd->recordRouting() ? &fwd->lastRouting() : nullptr; }
    void setRecordRouting(bool on) override { fwd->setRecordRouting(on); }
    ExpertOffload* expertCache() override { return fwd->expertCache(); }
    const std::vector<std::vector<cache::CacheStats>>* lastCacheSteps() const override {
        return fwd->expertCache() ? &fwd->lastCacheSteps() : nullptr;
    }
    std::string setupNote() const override { return fwd->expertCacheNote(); }
};

class CpuBackend final : public Backend {
public:
    CpuBackend(const Model& m, uint32_t nCtx) : fwd(m, nCtx), n(nCtx), layers(m.cfg.block_count) {
        fwd.setRoutingHook([this](const cpu::RoutingEvent& e) {
            if (!record) return;
            Layer& l = layers.at(e.layer);
            l.kMax = uint32_t(e.kMax);
            l.ids.assign(e.ids, e.ids + size_t(e.nTok) * e.kMax);
            l.weights.assign(e.weights, e.weights + size_t(e.nTok) * e.kMax);
            l.counts.assign(e.counts, e.counts + e.nTok);
            l.probs.assign(e.probs, e.probs + size_t(e.nTok) * e.nExpert);
        });
    }
    cpu::CpuForward fwd;
    uint32_t n;
    bool record = true;
    struct Layer {  // the hook's copy of one layer's routing of the current call
        uint32_t kMax = 0;
        std::vector<int32_t> ids, counts;
        std::vector<float> weights, probs;
    };
    std::vector<Layer> layers;
    RoutingRecord rec;

    Status forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) override {
        MOE_TRY(fwd.forward(tokens, nTok, pos0, logits, allLogits));
        if (record) flatten(nTok);
        return {};
    }
    // the per-layer hook copies -> the Vulkan record layout (rows padded to the widest layer)
    void flatten(uint32_t nTok) {
        rec.nTok = nTok;
        rec.nLayer = uint32_t(layers.size());
        rec.nExpert = fwd.model().cfg.expert_count;
        rec.kMax = 0;
        for (const Layer& l : layers) rec.kMax = std::max(rec.kMax, l.kMax);
        rec.ids.assign(size_t(rec.nLayer) * nTok * rec.kMax, -1);
        rec.weights.assign(size_t(rec.nLayer) * nTok * rec.kMax, 0.0f);
        rec.counts.clear();
        rec.probs.clear();
        for (uint32_t il = 0; il < rec.nLayer; ++il) {
            const Layer& l = layers[il];
            for (uint32_t t = 0; t < nTok; ++t)
                for (uint32_t j = 0; j < l.kMax; ++j) {
                    rec.ids[(size_t(il) * nTok + t) * rec.kMax + j] = l.ids[size_t(t) * l.kMax + j];
                    rec.weights[(size_t(il) * nTok + t) * rec.kMax + j] = l.weights[size_t(t) * l.kMax + j];
                }
            rec.counts.insert(rec.counts.end(), l.counts.begin(), l.counts.end());
            rec.probs.insert(rec.probs.end(), l.probs.begin(), l.probs.end());
        }
    }
    uint32_t nCtx() const override { return n; }
    std::string name() const override { return "CPU reference"; }
    Status setRouting(const std::vector<cpu::RouterParams>& ps) override {
        const ModelConfig& c = fwd.model().cfg;
        if (ps.size() != c.block_count)
            return makeError("routing: " + std::to_string(ps.size()) + " layers of router parameters for a model with " +
                             std::to_string(c.block_count));
        for (size_t il = 0; il < ps.size(); ++il) {
            const cpu::RouterParams& p = ps[il];
            const bool sizesOk = (p.mask.empty() || p.mask.size() == c.expert_count) &&
                                 (p.logitScale.empty() || p.logitScale.size() == c.expert_count) &&
                                 (p.selectionBias.empty() || p.selectionBias.size() == c.expert_count);
            if (p.kMax < 1 || (p.selection == cpu::Selection::TopK && (p.k < 1 || p.k > p.kMax)) || !sizesOk)
                return makeError("routing, layer " + std::to_string(il) + ": invalid router parameters");
        }
        for (size_t il = 0; il < ps.size(); ++il) fwd.setRouterParams(uint32_t(il), ps[il]);
        return {};
    }
    const RoutingRecord* lastRouting() const override { return record ? &rec : nullptr; }
    void setRecordRouting(bool on) override { record = on; }
};

}  // namespace

Result<std::unique_ptr<Backend>> createBackend(const Model& model, const BackendOptions& opts) {
    const uint32_t ctxTrain = model.cfg.context_length ? model.cfg.context_length : 4096;
    uint32_t nCtx = opts.nCtx ? opts.nCtx : std::min<uint32_t>(ctxTrain, 4096);
    if (nCtx > ctxTrain)
        return makeError("context " + std::to_string(nCtx) + " exceeds the model's context length " + std::to_string(ctxTrain));
    if (opts.cpu) {
        if (opts.expertCache.slots >= 0 || opts.expertCache.budgetMiB || opts.expertCache.prefetch)
            return makeError("the expert cache is a Vulkan feature (the CPU reference reads every expert from host memory)");
        return std::unique_ptr<Backend>(new CpuBackend(model, nCtx));
    }
    auto b = std::make_unique<VulkanBackend>();
    vk::InstanceOptions io;
    io.validation = opts.validation;
    MOE_ASSIGN(b->instance, vk::Instance::create(io));
    MOE_ASSIGN(uint32_t index, b->instance->chooseDevice(opts.device));
    MOE_ASSIGN(b->device, vk::Device::create(*b->instance, index));
    MOE_TRY(checkDeviceMemory(*b->device, model, nCtx));
    ForwardOptions fo;
    fo.nCtx = nCtx;
    fo.maxBatch = opts.maxBatch;
    fo.profile = opts.profile;
    fo.expertCache = opts.expertCache;
    MOE_ASSIGN(b->fwd, VkForward::create(*b->device, model, fo));
    return std::unique_ptr<Backend>(std::move(b));
}

}  // namespace moe::rt
