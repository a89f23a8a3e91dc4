// A forward pass the generation loop can drive: the Vulkan runtime or the CPU reference, made by
// one factory. Everything a caller can change between steps (routing policy, expert-cache
// policy and prefetch, profiling) goes through this interface, checked once, on both backends.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "cpu/router.h"
#include "model/model.h"
#include "runtime/expert_offload.h"
#include "trace/routing_record.h"
#include "vk/commands.h"
#include "vk/memory.h"

namespace moe::vk {
class Device;
class Instance;
}

namespace moe::rt {

using MemoryByTag = std::array<uint64_t, size_t(vk::MemoryTag::Count)>;

struct BackendOptions {
    bool cpu = false;        // the CPU reference instead of Vulkan
    int device = -1;         // Vulkan device index (-1: MOESCOPE_DEVICE or the first usable)
    uint32_t nCtx = 0;       // 0: model context (capped at 4096); see contextSize()
    uint32_t maxBatch = 64;
    bool validation = false; // an instance of its own with the validation layer (no shared instance)
    bool profile = false;    // GPU timestamps per dispatch
    ExpertCacheOptions expertCache;  // Vulkan only; default: every expert resident when it fits
};

class Backend {
public:
    virtual ~Backend() = default;
    // Evaluates tokens at positions [pos0, pos0 + nTok). logits: (nTok, n_vocab) when allLogits,
    // else the last token's (n_vocab). Errors: those of cpu::checkStep.
    virtual Status forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) = 0;
    virtual uint32_t nCtx() const = 0;
    virtual std::string name() const = 0;
    virtual bool isCpu() const { return false; }
    // The options as built, with the live changes since (cache policy, prefetch, profile).
    virtual const BackendOptions& options() const { return opts_; }
    const Model& model() const { return model_; }

    // Router parameters per layer (n_layer entries, e.g. routing::resolve of a policy), checked
    // by cpu::checkRouting; apply from the next forward() and survive a rebuild (setProfile).
    virtual Status setRouting(const std::vector<cpu::RouterParams>& layers) {
        return makeError(name() + ": routing policies are not supported by this backend");
    }
    // Routing of the last forward() call, the same record on every backend (ids, weights, counts,
    // probs per layer x token); null when recording is off.
    virtual const RoutingRecord* lastRouting() const { return nullptr; }
    // Routing records cost a host copy per step; on by default.
    virtual void setRecordRouting(bool on) {}

    // The expert cache (Vulkan with fewer slots than experts); null when every expert is resident.
    virtual ExpertOffload* expertCache() { return nullptr; }
    // Its telemetry for the last forward(): per cache step, per layer; null without a cache.
    virtual const std::vector<std::vector<cache::CacheStats>>* lastCacheSteps() const { return nullptr; }
    // The live cache policy and prefetch (checked by checkLivePolicy; without a cache only
    // remembered, so that a rebuild keeps them).
    virtual Status setCachePolicy(cache::Policy policy, std::vector<std::vector<float>> staticRank);
    virtual void setPrefetch(bool on);
    // Profiling on or off; on Vulkan this rebuilds the forward pass (weights re-uploaded, the KV
    // cache and the expert cache emptied: the caller must re-evaluate its context).
    virtual Status setProfile(bool on) {
        opts_.profile = on;
        return {};
    }
    // GPU time per dispatch of the last step (profile on); null on the CPU reference.
    virtual const std::vector<vk::KernelTime>* lastKernelTimes() const { return nullptr; }
    // A note for the user about how the backend was set up (e.g. the automatic cache budget).
    virtual std::string setupNote() const { return {}; }
    // Device bytes in use per memory kind (all zero on the CPU reference).
    virtual MemoryByTag memoryInUse() const { return MemoryByTag{}; }

protected:
    // Wrappers (the session's, tests') pass the wrapped backend's model and options.
    Backend(const Model& m, const BackendOptions& o) : model_(m), opts_(o) {}
    const Model& model_;
    BackendOptions opts_;  // as built, with the live changes since
};

// The expert-cache options a backend takes: none of them (prefetch included) on the CPU
// reference; a live policy as checkLivePolicy says, belady never. The one check of the CLI, the
// GUI's flags and createBackend.
Status checkCacheOptions(bool cpu, const ExpertCacheOptions& ec);

// Creates the backend for a loaded model (the model must outlive it). Vulkan uses `instance`
// when given (it must outlive the backend), else an instance of its own.
Result<std::unique_ptr<Backend>> createBackend(const Model& model, const BackendOptions& opts,
                                               vk::Instance* instance = nullptr);

// Device memory the Vulkan forward pass of a model needs for its weights except the routed
// experts (whose slots the expert cache sizes to what is left) and its KV cache (activations and
// routing buffers come on top: a few MiB for small batches).
struct DeviceMemoryNeed {
    uint64_t weights = 0, kvCache = 0;
    uint64_t total() const { return weights + kvCache; }
};
DeviceMemoryNeed deviceMemoryNeed(const Model& model, uint32_t nCtx);
// Checked before anything is uploaded: "out of device memory: the model needs 2300 MiB (weights
// 2100 MiB, KV cache 200 MiB for 4096 tokens), 1900 MiB of the device's 2048 MiB are free"; when the
// weights alone would fit, it says to try a smaller context.
Status checkDeviceMemory(vk::Device& dev, const Model& model, uint32_t nCtx);

}  // namespace moe::rt
