// The backend a Session drives: the Vulkan forward pass or the CPU reference, instrumented for
// the GUI. After every forward step it hands over the step's routing (per layer x token), GPU
// kernel times, wall time and the expert cache's telemetry; it takes per-layer router
// parameters (routing::resolve of a policy) on either backend, switches the cache's policy and
// prefetch, and reports device memory use by kind.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "model/model.h"
#include "runtime/backend.h"
#include "runtime/vk_forward.h"
#include "vk/instance.h"

namespace moe::cpu {
class CpuForward;
}

namespace moe::rt {

// GPU time of one shader over a step: the sum over its dispatches.
struct KernelStat {
    std::string name;
    double ms = 0;
    uint32_t calls = 0;
};

// What one forward step did, handed to the observer right after the step completes.
struct StepReport {
    const int32_t* tokens = nullptr;  // (nTok) input tokens, at positions [pos0, pos0 + nTok)
    uint32_t nTok = 0, pos0 = 0;
    double ms = 0;                    // wall time of the step
    const RoutingRecord* routing = nullptr;  // (nLayer, nTok, ...) as in VkForward::lastRouting()
    std::vector<KernelStat> kernels;  // profile on: per shader, most expensive first
    // Expert cache (null without one): its telemetry per cache step (prefill batch or decode
    // token) and layer, and the cache itself (slot occupants, totals) as the step left it.
    const std::vector<std::vector<cache::CacheStats>>* cacheSteps = nullptr;
    const ExpertOffload* cache = nullptr;
};

using MemoryByTag = std::array<uint64_t, size_t(vk::MemoryTag::Count)>;

struct SessionBackendOptions {
    bool cpu = false;      // the CPU reference instead of Vulkan
    int device = -1;       // Vulkan device index (-1: MOESCOPE_DEVICE or the first usable)
    uint32_t nCtx = 0;     // 0: the model's context (at most 4096)
    uint32_t maxBatch = 64;
    bool profile = false;  // GPU timestamps per dispatch
    ExpertCacheOptions expertCache;  // Vulkan only; default: every expert resident when it fits
};

class SessionBackend final : public Backend {
public:
    // instance may be null for the CPU reference. The model and instance must outlive this.
    static Result<std::unique_ptr<SessionBackend>> create(vk::Instance* instance, const Model& model,
                                                          const SessionBackendOptions& opts);
    ~SessionBackend() override;

    Status forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) override;
    uint32_t nCtx() const override;
    std::string name() const override;

    // Called after every successful forward() on the calling (engine) thread.
    void setObserver(std::function<void(const StepReport&)> f) { observer_ = std::move(f); }
    // Router parameters per layer (n_layer entries); applies from the next step and survives a
    // rebuild of the forward pass.
    Status setRouting(const std::vector<cpu::RouterParams>& layers) override;

    ExpertOffload* expertCache() override;
    const std::vector<std::vector<cache::CacheStats>>* lastCacheSteps() const override;
    std::string setupNote() const override;
    // The cache options the forward pass was built with, and the live policy and prefetch
    // switches (kept here so that a rebuild of the forward pass keeps them). Without a cache
    // they are only remembered.
    const ExpertCacheOptions& cacheOptions() const { return opts_.expertCache; }
    Status setCachePolicy(cache::Policy policy, std::vector<std::vector<float>> staticRank);
    void setPrefetch(bool on);

    // Turning profiling on or off rebuilds the Vulkan forward pass (weights re-uploaded, the KV
    // cache and the expert cache emptied: the caller must re-evaluate its context). No-op on the
    // CPU reference.
    Status setProfile(bool on);
    bool profile() const { return opts_.profile; }
    bool isCpu() const { return opts_.cpu; }
    const SessionBackendOptions& options() const { return opts_; }
    // Bytes in use per memory kind (all zero on the CPU reference).
    MemoryByTag memoryInUse() const;

private:
    SessionBackend(vk::Instance* instance, const Model& model, const SessionBackendOptions& opts);
    void onCpuRouting(uint32_t layer, uint32_t nTok, int32_t kMax, const int32_t* ids, const float* weights,
                      const int32_t* counts, const float* probs);

    vk::Instance* instance_;
    const Model& model_;
    SessionBackendOptions opts_;
    std::unique_ptr<vk::Device> device_;
    std::unique_ptr<VkForward> vkf_;
    std::unique_ptr<cpu::CpuForward> cpuf_;
    std::vector<cpu::RouterParams> routing_;  // empty: the model's own routing
    // CPU reference: per-layer routing of the current step, flattened into cpuRouting_ after it
    struct CpuLayer {
        int32_t kMax = 0;
        std::vector<int32_t> ids, counts;
        std::vector<float> weights, probs;
    };
    std::vector<CpuLayer> cpuLayers_;
    RoutingRecord cpuRouting_;
    std::function<void(const StepReport&)> observer_;
};

}  // namespace moe::rt
