// The expert cache on the device: routed-expert weights stay in host memory (the mapped model
// file); each MoE layer has `slots` device slots per projection (gate, up, down), an int32
// slot table per pass that the expert kernels read (expert -> slot, -1 = not in this pass), and
// a host-visible staging buffer the misses and prefetches are copied through. The bookkeeping
// (which expert is where, whom to evict, hits, prefetch accounting) is cache::LayerCache, the
// same code the offline simulator replays.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "model/cost.h"
#include "model/model.h"
#include "trace/expert_cache.h"
#include "vk/commands.h"
#include "vk/device.h"

namespace moe::rt {

struct ExpertCacheOptions {
    int64_t slots = -1;        // slots per MoE layer; -1: automatic (budgetMiB, else all that fit)
    uint64_t budgetMiB = 0;    // total MiB for the slots of all layers (used when slots < 0)
    cache::Policy policy = cache::Policy::LRU;
    bool prefetch = false;     // cross-layer gate prediction, uploads one layer ahead
    std::vector<std::vector<float>> staticRank;  // per layer, per expert (Policy::Static)
};

// The one check of a live cache policy (every backend, with or without a cache): belady exists
// only in the simulator; static needs a hot set per layer.
Status checkLivePolicy(cache::Policy p, const std::vector<std::vector<float>>& staticRank, uint32_t nLayer);

// Resolves the options to a slot count per layer for this device (n_expert means: all resident,
// no cache). `note` receives a one-line explanation when the automatic choice limited it.
// Errors: fewer slots than the model's experts per token, a budget too small for that.
// The note of an automatic choice of `slots` slots per layer (`estimated`: the first estimate,
// when the slots were reduced because they did not fit).
std::string automaticCacheNote(const vk::Device& dev, const Model& model, uint32_t slots, uint32_t estimated = 0);
Result<uint32_t> chooseExpertSlots(const vk::Device& dev, const Model& model, const ExpertCacheOptions& opts,
                                   uint64_t otherDeviceBytes, std::string* note);

class ExpertOffload {
public:
    // maxNeeded: the most distinct experts one step can need in a layer (passes are sized by it).
    static Result<std::unique_ptr<ExpertOffload>> create(vk::Device& dev, const Model& model, uint32_t slots,
                                                         const ExpertCacheOptions& opts, uint32_t maxNeeded);

    uint32_t slots() const { return slots_; }
    uint32_t maxPasses() const { return maxPasses_; }
    bool prefetch() const { return prefetch_; }
    void setPrefetch(bool on) { prefetch_ = on; }
    Status setPolicy(cache::Policy p, const std::vector<std::vector<float>>& staticRank);
    cache::LayerCache& layer(uint32_t il) { return caches_[il]; }
    const cache::LayerCache& layer(uint32_t il) const { return caches_[il]; }
    uint32_t nLayer() const { return uint32_t(caches_.size()); }

    // Device slot buffers of a layer (slot s at s * stride).
    uint64_t gateAddress(uint32_t il) const { return layers_[il].gate.address(); }
    uint64_t upAddress(uint32_t il) const { return layers_[il].up.address(); }
    uint64_t downAddress(uint32_t il) const { return layers_[il].down.address(); }

    // Starts a submission: the staging buffer is reused (the previous submission has completed).
    void beginSubmission() { stagingUsed_ = 0; }
    // Copies the loads' expert weights of layer il from host memory into staging and records the
    // copies into their slots (the caller records a barrier before the kernels read them).
    Status recordLoads(vk::Commands& cmd, uint32_t il, const std::vector<cache::Load>& loads);
    // Writes the slot table of pass `pass` of layer il and returns its device address.
    uint64_t writeTable(uint32_t il, uint32_t pass, const cache::Pass& p);

    uint64_t deviceBytes() const;  // slot buffers

private:
    struct LayerSlots {
        vk::Buffer gate, up, down;
        uint64_t gateStride = 0, upStride = 0, downStride = 0;
    };
    ExpertOffload(vk::Device& dev, const Model& model) : dev_(dev), model_(model) {}
    vk::Device& dev_;
    const Model& model_;
    uint32_t slots_ = 0, maxPasses_ = 1;
    bool prefetch_ = false;
    std::vector<cache::LayerCache> caches_;
    std::vector<LayerSlots> layers_;
    vk::Buffer staging_, tables_;
    uint64_t stagingUsed_ = 0;
};

}  // namespace moe::rt
