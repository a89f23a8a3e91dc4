// The Vulkan forward pass: model weights resident on the device, a KV cache per layer, and
// one command buffer per step (prefill batch or decode token). Logits and the routing record
// are written to host-visible memory and read after the step completes.
#pragma once
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "cpu/router.h"
#include "model/model.h"
#include "runtime/expert_offload.h"
#include "runtime/kernels_moe.h"
#include "trace/routing_record.h"
#include "vk/commands.h"
#include "vk/device.h"

namespace moe::rt {

// One weight tensor on the device.
struct DeviceTensor {
    vk::Buffer buf;
    GgmlType type = GgmlType::F32;
    uint64_t address() const { return buf.address(); }
    explicit operator bool() const { return buf.valid(); }
};

// Every tensor of the plan on the device, found by its view. Weights are uploaded once; 1-D
// tensors (norms, biases, gates) are converted to F32. Without routedExperts the routed-expert
// stacks stay in host memory (the expert cache loads them).
struct DeviceWeights {
    static Result<std::unique_ptr<DeviceWeights>> upload(vk::Device& dev, const Model& model, bool routedExperts = true);
    // The device copy of a tensor of the model's plan; an empty tensor (no buffer, the view's
    // type) for absent optional tensors and host-resident experts.
    const DeviceTensor& operator[](const TensorView& t) const;

private:
    std::unordered_map<const uint8_t*, DeviceTensor> byData_;  // keyed by the view's mapped data
    DeviceTensor none_;
};

// Router configuration of one layer on the device (policies of the routing lab).
struct LayerRouting {
    GpuRouterParams params;
};

struct ForwardOptions {
    uint32_t nCtx = 0;        // 0: model context length (capped at 4096); see contextSize()
    uint32_t maxBatch = 64;   // tokens per prefill dispatch
    bool profile = false;     // GPU timestamps per dispatch
    bool warmUp = true;       // build every pipeline at creation (a 1- and a 2-token step)
    ExpertCacheOptions expertCache;  // default: all experts resident when they fit
};

class VkForward {
public:
    static Result<std::unique_ptr<VkForward>> create(vk::Device& dev, const Model& model, const ForwardOptions& opts);

    // Runs tokens at positions [pos0, pos0 + nTok): prefill in batches of maxBatch, decode when
    // nTok == 1. logits: (nTok, n_vocab) when allLogits, else (n_vocab) of the last token.
    // Errors: those of cpu::checkStep (passing the context length: nothing is truncated).
    Status forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits);

    uint32_t nCtx() const { return nCtx_; }
    const Model& model() const { return model_; }
    vk::Device& device() { return dev_; }
    // Routing of the tokens of the last forward() call (all batches); empty when recording is off.
    const RoutingRecord& lastRouting() const { return routing_; }
    // The shaders always write the routing record to host-visible memory; off skips the host copy
    // into lastRouting() after each step (decode without a routing view). On by default.
    void setRecordRouting(bool on) { recordRouting_ = on; }
    bool recordRouting() const { return recordRouting_; }
    // Per-layer routing policy; applies from the next step. Buffer addresses in it must stay
    // valid while in use (setRouting keeps its own buffers alive).
    std::vector<LayerRouting>& routing() { return layerRouting_; }
    // Router parameters per layer (n_layer entries, e.g. routing::resolve of a policy): mask,
    // forced experts, logit scale and selection bias are uploaded into buffers owned here;
    // applies from the next step. Errors: those of cpu::checkRouting.
    Status setRouting(const std::vector<cpu::RouterParams>& layers);
    // GPU time per kernel of the last step (profile option).
    const std::vector<vk::KernelTime>& lastKernelTimes() const { return kernelTimes_; }
    double lastStepMs() const { return lastStepMs_; }

    // The expert cache; null when every expert is resident (no cache).
    ExpertOffload* expertCache() { return offload_.get(); }
    const ExpertOffload* expertCache() const { return offload_.get(); }
    // Why the automatic budget limited the cache (empty when it did not).
    const std::string& expertCacheNote() const { return cacheNote_; }
    // Cache telemetry of the last forward() call: per cache step (prefill batch or decode token),
    // per layer. Empty without the cache.
    const std::vector<std::vector<cache::CacheStats>>& lastCacheSteps() const { return cacheSteps_; }

private:
    VkForward(vk::Device& dev, const Model& model) : dev_(dev), model_(model) {}
    Status allocate(const ForwardOptions& opts);
    Status runBatch(uint32_t nTok, uint32_t pos0, bool allLogits);
    Status runBatchCached(uint32_t nTok, uint32_t pos0, bool allLogits);
    Status submit(vk::Commands& cmd);
    Status recordEmbedding(vk::Commands& cmd, uint32_t nTok);
    Status recordHead(vk::Commands& cmd, uint32_t nTok, bool allLogits);
    // A layer of the plan in three parts, so that the expert cache can learn between them which
    // experts the layer needs: its blocks up to and including the MoE block's router (with the
    // shared expert, the token grouping and, when prefetching, the next layer's predicted
    // experts); the routed experts (one pass of the cache: slot table and slot buffers, or 0 and
    // the resident tensors); the weighted combine into the residual and the blocks after it.
    Status recordLayerHead(vk::Commands& cmd, uint32_t il, uint32_t nTok, uint32_t pos0);
    Status recordExperts(vk::Commands& cmd, uint32_t il, uint32_t nTok, uint64_t slotTable);
    Status recordLayerTail(vk::Commands& cmd, uint32_t il, uint32_t nTok, uint32_t pos0);
    // The blocks of the plan.
    Status recordAttention(vk::Commands& cmd, const AttentionBlock& a, uint32_t il, uint32_t nTok, uint32_t pos0);
    Status recordMla(vk::Commands& cmd, const AttentionBlock& a, uint32_t il, uint32_t nTok, uint32_t pos0);
    Status recordFfn(vk::Commands& cmd, const FfnBlock& f, uint32_t nTok);
    Status recordRouter(vk::Commands& cmd, const MoeBlock& m, uint32_t il, uint32_t nTok);
    // Records the layer heads from layer `from` on through the first MoE layer's (dense layers run
    // whole), or all of them and the lm head; the MoE layer's index, or n_layer.
    Result<uint32_t> recordUntilMoe(vk::Commands& cmd, uint32_t from, uint32_t nTok, uint32_t pos0, bool allLogits);
    Status recordCombine(vk::Commands& cmd, const MoeBlock& m, uint32_t il, uint32_t nTok);
    void copyRouting(uint32_t done, uint32_t n, uint32_t nTok);

    vk::Device& dev_;
    const Model& model_;
    std::unique_ptr<DeviceWeights> w_;
    uint32_t nCtx_ = 0, maxBatch_ = 0;
    uint32_t nPast_ = 0;       // positions the KV cache holds
    uint32_t cacheSlots_ = 0;  // expert slots per layer; n_expert: all resident, no cache
    bool profile_ = false;
    std::vector<LayerRouting> layerRouting_;
    std::vector<vk::Buffer> routerBufs_;  // mask/forced/scale/bias arrays of setRouting(), host-visible
    bool recordRouting_ = true;

    // activations (maxBatch rows)
    vk::Buffer x_, xn_, q_, attnOut_;
    vk::Buffer routerLogits_, groups_;
    vk::Buffer gate_, up_, act_, down_;
    vk::Buffer shGate_, shUp_, shAct_, shOut_, shG_;
    vk::Buffer attnScratch_;
    std::vector<vk::Buffer> kCache_, vCache_;  // per layer with attention: (nCtx, n_head_kv, head_dim)
                                               // MLA: kCache_ (nCtx, kv_lora_rank + rope) only
    // MLA (latent attention, absorbed): q_lora activations, q's nope part per head, the MQA query
    // [q·wkB | q_rope] per head, the values per head; identity ids (slot j = head j) and their
    // grouping for the per-head products; legacy files' wkB, transposed to F32 at upload
    vk::Buffer mlaA_, mlaNope_, mlaQ_, mlaV_, mlaIds_, mlaGroups_;
    uint32_t mlaHeads_ = 0;
    bool hasDenseLayer_ = false;  // a layer without an MoE block: its routing rows are zeroed per step
    std::vector<DeviceTensor> mlaKb_;  // per layer: (n_head, kv_lora_rank, nope) F32 or empty
    // host-visible
    vk::Buffer tokens_, positions_, logits_;
    vk::Buffer rIds_, rWeights_, rCounts_, rProbs_;  // (nLayer, maxBatch, ...)
    RoutingRecord routing_;
    std::vector<vk::KernelTime> kernelTimes_;
    double lastStepMs_ = 0;

    // expert cache (null: all experts resident) and the cross-layer prediction of prefetch
    std::unique_ptr<ExpertOffload> offload_;
    std::string cacheNote_;
    std::vector<std::vector<cache::CacheStats>> cacheSteps_;
    vk::Buffer xp_, predLogits_, predWeights_, predCounts_;
    vk::Buffer rPred_;  // host-visible (nLayer, maxBatch, KC): experts predicted for each layer
};

}  // namespace moe::rt
