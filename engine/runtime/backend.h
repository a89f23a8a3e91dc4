// A forward pass the generation loop can drive: the Vulkan runtime or the CPU reference.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "cpu/router.h"
#include "model/model.h"
#include "runtime/expert_offload.h"
#include "runtime/routing_record.h"

namespace moe::vk {
class Device;
}

namespace moe::rt {

class Backend {
public:
    virtual ~Backend() = default;
    // Evaluates tokens at positions [pos0, pos0 + nTok). logits: (nTok, n_vocab) when allLogits,
    // else the last token's (n_vocab). Positions past nCtx() are an error.
    virtual Status forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) = 0;
    virtual uint32_t nCtx() const = 0;
    virtual std::string name() const = 0;

    // Router parameters per layer (n_layer entries, e.g. routing::resolve of a policy); apply
    // from the next forward(). Both backends of createBackend implement it.
    virtual Status setRouting(const std::vector<cpu::RouterParams>& layers) {
        return makeError(name() + ": routing policies are not supported by this backend");
    }
    // Routing of the last forward() call, in the same shape on every backend (ids, weights,
    // counts, probs per layer x token); null when the backend does not record it or recording
    // is off.
    virtual const RoutingRecord* lastRouting() const { return nullptr; }
    // Routing records cost a host copy per step (Vulkan) or a flattening (CPU); on by default.
    virtual void setRecordRouting(bool on) {}

    // The expert cache (Vulkan with fewer slots than experts); null when every expert is resident.
    virtual ExpertOffload* expertCache() { return nullptr; }
    // Its telemetry for the last forward(): per cache step, per layer; null without a cache.
    virtual const std::vector<std::vector<cache::CacheStats>>* lastCacheSteps() const { return nullptr; }
    // A note for the user about how the backend was set up (e.g. the automatic cache budget).
    virtual std::string setupNote() const { return {}; }
};

struct BackendOptions {
    bool cpu = false;        // the CPU reference instead of Vulkan
    int device = -1;         // Vulkan device index (-1: MOESCOPE_DEVICE or the first usable)
    uint32_t nCtx = 0;       // 0: model context (capped at 4096)
    uint32_t maxBatch = 64;
    bool validation = false;
    bool profile = false;
    ExpertCacheOptions expertCache;  // Vulkan only; default: every expert resident when it fits
};

// Creates the backend for a loaded model (the model must outlive it).
Result<std::unique_ptr<Backend>> createBackend(const Model& model, const BackendOptions& opts);

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
