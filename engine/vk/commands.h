// Command recording: typed dispatches with push constants, barriers between dependent
// dispatches, copies, GPU timestamps per dispatch, submit and wait with a fence.
#pragma once
#include <vulkan/vulkan.h>

#include <string>
#include <vector>

#include "core/result.h"
#include "vk/device.h"

namespace moe::vk {

struct KernelTime {
    std::string name;   // shader name (ShaderId) or a label
    double ms = 0;
};

class Commands {
public:
    // timestampCapacity > 0 records a timestamp after every dispatch (when the device supports it).
    explicit Commands(Device& device, uint32_t timestampCapacity = 0);
    ~Commands();
    Commands(const Commands&) = delete;
    Commands& operator=(const Commands&) = delete;

    template <class Push>
    void dispatch(const Pipeline& p, const Push& push, uint32_t gx, uint32_t gy = 1, uint32_t gz = 1) {
        static_assert(sizeof(Push) <= Device::kPushConstantBytes, "push constants exceed 128 bytes");
        dispatchRaw(p, &push, sizeof(Push), gx, gy, gz);
    }
    // The same with descriptor set 0 bound, and set 1 when not null (a pipeline created with
    // texelSet; each set binds a block's texel view).
    template <class Push>
    void dispatch(const Pipeline& p, VkDescriptorSet set, const Push& push, uint32_t gx, uint32_t gy = 1, uint32_t gz = 1,
                  VkDescriptorSet set1 = VK_NULL_HANDLE) {
        static_assert(sizeof(Push) <= Device::kPushConstantBytes, "push constants exceed 128 bytes");
        dispatchRaw(p, &push, sizeof(Push), gx, gy, gz, set, set1);
    }
    void dispatchRaw(const Pipeline& p, const void* push, uint32_t pushBytes, uint32_t gx, uint32_t gy, uint32_t gz,
                     VkDescriptorSet set = VK_NULL_HANDLE, VkDescriptorSet set1 = VK_NULL_HANDLE);
    // Makes every earlier shader/transfer write visible to every later shader/transfer access.
    void barrier();
    // Makes earlier writes visible to the host after the fence (before reading mapped memory).
    void hostBarrier();
    void copy(const Buffer& src, VkDeviceSize srcOff, const Buffer& dst, VkDeviceSize dstOff, VkDeviceSize bytes);
    void fill(const Buffer& dst, VkDeviceSize off, VkDeviceSize bytes, uint32_t value);

    Status submit();          // ends recording and submits
    Status wait(uint64_t timeoutNs = 120'000'000'000ull);  // device lost / hang -> error
    Status submitAndWait() {
        MOE_TRY(submit());
        return wait();
    }
    // Kernel times of the last completed submission (empty without timestamps).
    std::vector<KernelTime> kernelTimes();
    // Records into a fresh command buffer again (after wait()).
    void reset();
    uint32_t dispatchCount() const { return dispatches_; }
    // The command buffer being recorded, for commands this class does not wrap (descriptor-bound
    // pipelines of the roofline); such dispatches get no timestamp and are not counted.
    VkCommandBuffer handle() const { return cmd_; }

private:
    void begin();
    Device& dev_;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
    VkQueryPool queries_ = VK_NULL_HANDLE;
    uint32_t queryCapacity_ = 0, queryCount_ = 0;
    std::vector<std::string> labels_;
    bool recording_ = false, submitted_ = false;
    uint32_t dispatches_ = 0;
};

}  // namespace moe::vk
