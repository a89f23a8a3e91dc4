// Backend factory: the Vulkan runtime (instance + device + VkForward) or the CPU reference.
#include "runtime/backend.h"

#include "cpu/forward.h"
#include "runtime/vk_forward.h"
#include "vk/instance.h"

namespace moe::rt {

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
};

class CpuBackend final : public Backend {
public:
    CpuBackend(const Model& m, uint32_t nCtx) : fwd(m, nCtx), n(nCtx) {}
    cpu::CpuForward fwd;
    uint32_t n;
    Status forward(const int32_t* tokens, uint32_t nTok, uint32_t pos0, float* logits, bool allLogits) override {
        return fwd.forward(tokens, nTok, pos0, logits, allLogits);
    }
    uint32_t nCtx() const override { return n; }
    std::string name() const override { return "CPU reference"; }
};

}  // namespace

Result<std::unique_ptr<Backend>> createBackend(const Model& model, const BackendOptions& opts) {
    const uint32_t ctxTrain = model.cfg.context_length ? model.cfg.context_length : 4096;
    uint32_t nCtx = opts.nCtx ? opts.nCtx : std::min<uint32_t>(ctxTrain, 4096);
    if (nCtx > ctxTrain)
        return makeError("context " + std::to_string(nCtx) + " exceeds the model's context length " + std::to_string(ctxTrain));
    if (opts.cpu) return std::unique_ptr<Backend>(new CpuBackend(model, nCtx));
    auto b = std::make_unique<VulkanBackend>();
    vk::InstanceOptions io;
    io.validation = opts.validation;
    MOE_ASSIGN(b->instance, vk::Instance::create(io));
    MOE_ASSIGN(uint32_t index, b->instance->chooseDevice(opts.device));
    MOE_ASSIGN(b->device, vk::Device::create(*b->instance, index));
    ForwardOptions fo;
    fo.nCtx = nCtx;
    fo.maxBatch = opts.maxBatch;
    fo.profile = opts.profile;
    MOE_ASSIGN(b->fwd, VkForward::create(*b->device, model, fo));
    return std::unique_ptr<Backend>(std::move(b));
}

}  // namespace moe::rt
