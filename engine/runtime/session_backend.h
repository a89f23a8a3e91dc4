// The backend a Session drives: a Backend of createBackend, instrumented for the GUI. After every
// forward step it hands over the step's routing (per layer x token), GPU kernel times, wall
// time and the expert cache's telemetry.
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
#include "vk/instance.h"

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

// The backend a Session drives: any Backend of createBackend, with an observer that sees every
// step (its routing, GPU kernel times, wall time and the expert cache's telemetry). Everything
// else is the wrapped backend's.
class SessionBackend final : public Backend {
public:
    // instance may be null for the CPU reference. The model and instance must outlive this.
    static Result<std::unique_ptr<SessionBackend>> create(vk::Instance* instance, const Model& model,
                                                          const BackendOptions& opts);

    Status forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) override;
    uint32_t nCtx() const override { return inner_->nCtx(); }
    std::string name() const override { return inner_->name(); }
    bool isCpu() const override { return inner_->isCpu(); }

    // Called after every successful forward() on the calling (engine) thread.
    void setObserver(std::function<void(const StepReport&)> f) { observer_ = std::move(f); }

    Status setRouting(const std::vector<cpu::RouterParams>& layers) override { return inner_->setRouting(layers); }
    const RoutingRecord* lastRouting() const override { return inner_->lastRouting(); }
    void setRecordRouting(bool on) override { inner_->setRecordRouting(on); }
    ExpertOffload* expertCache() override { return inner_->expertCache(); }
    const std::vector<std::vector<cache::CacheStats>>* lastCacheSteps() const override {
        return inner_->lastCacheSteps();
    }
    Status setProfile(bool on) override { return inner_->setProfile(on); }
    const std::vector<vk::KernelTime>* lastKernelTimes() const override { return inner_->lastKernelTimes(); }
    std::string setupNote() const override { return inner_->setupNote(); }
    MemoryByTag memoryInUse() const override { return inner_->memoryInUse(); }

    Status setCachePolicy(cache::Policy policy, std::vector<std::vector<float>> staticRank) override {
        return inner_->setCachePolicy(policy, std::move(staticRank));
    }
    void setPrefetch(bool on) override { inner_->setPrefetch(on); }
    const BackendOptions& options() const override { return inner_->options(); }
    const ExpertCacheOptions& cacheOptions() const { return options().expertCache; }
    bool profile() const { return options().profile; }

private:
    SessionBackend(const Model& model, std::unique_ptr<Backend> inner)
        : Backend(model, inner->options()), inner_(std::move(inner)) {}
    std::unique_ptr<Backend> inner_;
    std::function<void(const StepReport&)> observer_;
};

}  // namespace moe::rt
