// The expert cache's device side: slot buffers, slot tables, staging copies.
#include "runtime/expert_offload.h"

#include "model/cost.h"

#include <algorithm>
#include <cstring>

namespace moe::rt {

namespace {

uint64_t stride(const TensorView& t) { return t.ne[1] * t.rowBytes(); }  // one expert's matrix

uint64_t mib(uint64_t b) { return b >> 20; }

}  // namespace

namespace {

uint64_t slotBytes(const Model& model) {  // one slot in every layer
    uint64_t b = 0;
    for (const LayerPlan& l : model.plan.layers)
        if (const MoeBlock* m = l.moe()) b += expertBytes(*m);
    return b;
}

}  // namespace

Result<uint32_t> chooseExpertSlots(const vk::Device& dev, const Model& model, const ExpertCacheOptions& opts,
                                   uint64_t otherDeviceBytes, std::string* note) {
    const ModelConfig& c = model.cfg;
    const uint32_t NE = c.expert_count, k = std::max<uint32_t>(1, c.expert_used_count);
    const uint64_t perSlot = slotBytes(model);
    if (opts.slots >= 0) {
        if (opts.slots < int64_t(k))
            return makeError("expert cache: " + std::to_string(opts.slots) + " slots per layer is fewer than the " +
                             std::to_string(k) + " experts each token uses");
        return uint32_t(std::min<int64_t>(opts.slots, NE));
    }
    if (opts.budgetMiB) {
        const uint64_t s = perSlot ? (opts.budgetMiB << 20) / perSlot : NE;
        if (s < k)
            return makeError("expert cache: " + std::to_string(opts.budgetMiB) + " MiB holds " + std::to_string(s) +
                             " experts per layer; the model needs at least " + std::to_string(k) + " (" +
                             std::to_string(mib(perSlot * k) + 1) + " MiB)");
        return uint32_t(std::min<uint64_t>(s, NE));
    }
    // automatic: everything when it fits in device-local memory (with a tenth kept free)
    const uint64_t heap = dev.allocator().heapSize(vk::MemoryKind::Device);  // with a test's limit
    const uint64_t usable = heap - heap / 10;
    const uint64_t all = perSlot * NE;
    if (!heap || otherDeviceBytes + all <= usable) return NE;
    const uint64_t room = usable > otherDeviceBytes ? usable - otherDeviceBytes : 0;
    const uint64_t s = perSlot ? room / perSlot : 0;
    if (s < k)
        return makeError("out of device memory: the model needs " + std::to_string(mib(otherDeviceBytes + perSlot * k)) +
                         " MiB (weights other than the routed experts, and the KV cache: " +
                         std::to_string(mib(otherDeviceBytes)) + " MiB; " + std::to_string(k) + " experts per layer: " +
                         std::to_string(mib(perSlot * k)) + " MiB), the device has " + std::to_string(mib(heap)) +
                         " MiB");
    if (note) *note = automaticCacheNote(dev, model, uint32_t(s));
    return uint32_t(s);
}

std::string automaticCacheNote(const vk::Device& dev, const Model& model, uint32_t slots, uint32_t estimated) {
    const ModelConfig& c = model.cfg;
    return "experts do not fit in device memory (" + std::to_string(mib(slotBytes(model) * c.expert_count)) + " MiB of " +
           std::to_string(mib(dev.allocator().heapSize(vk::MemoryKind::Device))) + " MiB): expert cache of " +
           std::to_string(slots) + " of " + std::to_string(c.expert_count) + " experts per layer (" +
           std::to_string(c.block_count) + " layers" +
           (estimated > slots ? "; " + std::to_string(estimated) + " estimated did not fit beside the other buffers" : "") +
           ")";
}

Status checkLivePolicy(cache::Policy p, const std::vector<std::vector<float>>& staticRank, uint32_t nLayer) {
    if (p == cache::Policy::Belady)
        return makeError("expert cache: belady needs the future and exists only in the simulator (cache-sim)");
    if (p == cache::Policy::Static && staticRank.size() != nLayer)
        return makeError("expert cache: the static policy needs a hot set learned from a trace (--cache-static TRACE)");
    return {};
}

Result<std::unique_ptr<ExpertOffload>> ExpertOffload::create(vk::Device& dev, const Model& model, uint32_t slots,
                                                             const ExpertCacheOptions& opts, uint32_t maxNeeded) {
    const ModelConfig& c = model.cfg;
    std::unique_ptr<ExpertOffload> o(new ExpertOffload(dev, model));
    o->slots_ = slots;
    o->prefetch_ = opts.prefetch;
    o->maxPasses_ = std::max<uint32_t>(1, (std::max<uint32_t>(maxNeeded, 1) + slots - 1) / slots);
    MOE_TRY(checkLivePolicy(opts.policy, opts.staticRank, c.block_count));
    uint64_t maxExpert = 0;
    for (uint32_t il = 0; il < c.block_count; ++il) {
        const MoeBlock* m = model.plan.layers[il].moe();
        cache::LayerCacheOptions lo;
        lo.nExpert = c.expert_count;
        lo.slots = slots;
        lo.policy = opts.policy;
        lo.expertBytes = m ? expertBytes(*m) : 0;
        if (opts.policy == cache::Policy::Static) lo.staticRank = opts.staticRank[il];
        MOE_ASSIGN(cache::LayerCache lc, cache::LayerCache::create(lo));
        o->caches_.push_back(std::move(lc));  // a dense layer's cache is never accessed: all zero
        LayerSlots s;
        if (!m) {
            o->layers_.push_back(std::move(s));
            continue;
        }
        const MoeBlock& l = *m;
        s.gateStride = stride(l.gateExps);
        s.upStride = stride(l.upExps);
        s.downStride = stride(l.downExps);
        MOE_ASSIGN(s.gate, dev.allocate(s.gateStride * slots, vk::MemoryKind::Device, vk::MemoryTag::ExpertSlots,
                                        "expert slots (gate)"));
        MOE_ASSIGN(s.up, dev.allocate(s.upStride * slots, vk::MemoryKind::Device, vk::MemoryTag::ExpertSlots,
                                      "expert slots (up)"));
        MOE_ASSIGN(s.down, dev.allocate(s.downStride * slots, vk::MemoryKind::Device, vk::MemoryTag::ExpertSlots,
                                        "expert slots (down)"));
        o->layers_.push_back(std::move(s));
        maxExpert = std::max(maxExpert, lo.expertBytes);
    }
    // one submission loads at most a pass of one layer plus a prefetch of the next
    MOE_ASSIGN(o->staging_, dev.allocate(2 * uint64_t(slots) * maxExpert, vk::MemoryKind::Upload,
                                         vk::MemoryTag::Staging, "expert staging"));
    MOE_ASSIGN(o->tables_, dev.allocate(4ull * c.expert_count * c.block_count * o->maxPasses_, vk::MemoryKind::Upload,
                                        vk::MemoryTag::ExpertSlots, "expert slot tables"));
    return o;
}

Status ExpertOffload::setPolicy(cache::Policy p, const std::vector<std::vector<float>>& staticRank) {
    MOE_TRY(checkLivePolicy(p, staticRank, uint32_t(caches_.size())));
    for (size_t il = 0; il < caches_.size(); ++il)
        MOE_TRY(caches_[il].setPolicy(p, p == cache::Policy::Static ? staticRank[il] : std::vector<float>{}));
    return {};
}

Status ExpertOffload::recordLoads(vk::Commands& cmd, uint32_t il, const std::vector<cache::Load>& loads) {
    const MoeBlock& l = *model_.plan.layers[il].moe();
    const LayerSlots& s = layers_[il];
    struct Part {
        const TensorView* src;
        uint64_t stride;
        const vk::Buffer* dst;
    };
    const Part parts[3] = {{&l.gateExps, s.gateStride, &s.gate}, {&l.upExps, s.upStride, &s.up},
                           {&l.downExps, s.downStride, &s.down}};
    for (const cache::Load& ld : loads) {
        for (const Part& p : parts) {
            if (stagingUsed_ + p.stride > staging_.size())
                return makeError("expert cache: staging buffer overflow (internal error)");
            std::memcpy(static_cast<uint8_t*>(staging_.mapped()) + stagingUsed_,
                        p.src->data + uint64_t(ld.expert) * p.stride, p.stride);
            cmd.copy(staging_, stagingUsed_, *p.dst, uint64_t(ld.slot) * p.stride, p.stride);
            stagingUsed_ += p.stride;
        }
    }
    return {};
}

uint64_t ExpertOffload::writeTable(uint32_t il, uint32_t pass, const cache::Pass& p) {
    const uint32_t NE = model_.cfg.expert_count;
    const uint64_t index = (uint64_t(il) * maxPasses_ + pass) * NE;
    int32_t* t = tables_.as<int32_t>() + index;
    std::fill(t, t + NE, -1);
    for (size_t i = 0; i < p.experts.size(); ++i) t[p.experts[i]] = int32_t(p.slots[i]);
    return tables_.address() + index * 4;
}

uint64_t ExpertOffload::deviceBytes() const {
    uint64_t b = 0;
    for (const LayerSlots& s : layers_) b += s.gate.size() + s.up.size() + s.down.size();
    return b;
}

}  // namespace moe::rt
