// Logical device: the compute queue, a command pool, the memory allocator and the pipeline
// cache. Owns everything created on it and outlives all of it (destroyed last).
#pragma once
#include <vulkan/vulkan.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/result.h"
#include "shader_ids.h"
#include "vk/caps.h"
#include "vk/instance.h"
#include "vk/memory.h"

namespace moe::vk {

class Pipeline;

// Commands recorded and submitted on a device since its creation (every vk::Commands adds to
// them): the profile of `moescope bench` reads the difference across one forward step.
struct RecordCounts {
    uint64_t dispatches = 0;
    uint64_t barriers = 0;   // Commands::barrier() and hostBarrier()
    uint64_t transfers = 0;  // Commands::copy() and fill()
    uint64_t submits = 0;
};

// Specialization constants: constant_id i gets values[i]. By convention constant_id 0 is the
// workgroup size (local_size_x_id = 0).
struct SpecConstants {
    std::vector<uint32_t> values;
    bool operator<(const SpecConstants& o) const { return values < o.values; }
};

class Device {
public:
    static Result<std::unique_ptr<Device>> create(Instance& instance, uint32_t index);
    ~Device();
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    VkDevice handle() const { return device_; }
    VkPhysicalDevice physical() const { return physical_; }
    VkQueue queue() const { return queue_; }
    VkCommandPool commandPool() const { return pool_; }
    const DeviceCaps& caps() const { return caps_; }
    Allocator& allocator() { return *allocator_; }
    const Allocator& allocator() const { return *allocator_; }
    Instance& instance() { return *instance_; }

    // Pipelines are created on first use and cached for the device's lifetime. texelSet: the
    // pipeline reads descriptor sets 0 and 1 = one uniform texel buffer each (blocks' views, see
    // memory.h; set 1 is bound only by the kernels that read it).
    Result<const Pipeline*> pipeline(ShaderId id, const SpecConstants& spec = {}, bool texelSet = false);
    VkPipelineLayout pipelineLayout() const { return layout_; }

    // Product and prefill attention kernels read through the blocks' texel views when true
    // (kernels_matmul.cpp, kernels_dense.cpp). The views exist when the caps prefer that path
    // (CPU-type devices) or MOESCOPE_WEIGHT_READ=texel forces it; MOESCOPE_WEIGHT_READ=bda keeps
    // device addresses. Tests switch at run time.
    bool texelWeights() const { return texelWeights_ && texelSetLayout_; }
    void setTexelWeights(bool on) { texelWeights_ = on; }

    Result<Buffer> allocate(VkDeviceSize size, MemoryKind kind, MemoryTag tag, const char* what = nullptr) {
        return allocator_->allocate(size, kind, tag, what);
    }

    // Copies host bytes into a buffer: directly when mapped, else through a staging buffer.
    Status upload(const Buffer& dst, VkDeviceSize dstOffset, const void* src, VkDeviceSize bytes);
    Status download(const Buffer& src, VkDeviceSize srcOffset, void* dst, VkDeviceSize bytes);
    Status waitIdle();

    // A read-only table kept for the device's lifetime (the IQ grids of the decoders): the device
    // address of table `key`, made from `bytes` bytes at `data` on the first call for that key
    // (an upload, so not while a submitted command buffer could read it; later calls return the
    // same address and ignore data).
    Result<uint64_t> constantTable(uint32_t key, const void* data, size_t bytes);

    static constexpr uint32_t kPushConstantBytes = 128;

    RecordCounts recordCounts() const {
        return {counts_.dispatches.load(std::memory_order_relaxed), counts_.barriers.load(std::memory_order_relaxed),
                counts_.transfers.load(std::memory_order_relaxed), counts_.submits.load(std::memory_order_relaxed)};
    }

private:
    friend class Commands;
    Device() = default;
    // Command buffers of finished vk::Commands are reset and reused by the next ones: one
    // allocated and freed per step costs the driver a call and grows the validation layer's
    // synchronization state by ~3 KB each time (Vulkan-ValidationLayers 1.3.239), a leak in long runs.
    VkCommandBuffer takeCommandBuffer();
    void recycleCommandBuffer(VkCommandBuffer cmd);
    Instance* instance_ = nullptr;
    VkPhysicalDevice physical_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkDescriptorSetLayout texelSetLayout_ = VK_NULL_HANDLE;
    VkPipelineLayout texelLayout_ = VK_NULL_HANDLE;  // 2 x texelSetLayout_ + the push constants
    bool texelWeights_ = false;
    VkPipelineCache cache_ = VK_NULL_HANDLE;
    DeviceCaps caps_;
    std::unique_ptr<Allocator> allocator_;
    std::map<std::tuple<uint32_t, SpecConstants, bool>, std::unique_ptr<Pipeline>> pipelines_;
    std::mutex tablesMutex_;
    std::map<uint32_t, Buffer> tables_;  // constantTable(), released before the allocator
    std::mutex spareMutex_;
    std::vector<VkCommandBuffer> spareCommandBuffers_;  // reset, freed with the pool
    struct {
        std::atomic<uint64_t> dispatches{0}, barriers{0}, transfers{0}, submits{0};
    } counts_;
};

class Pipeline {
public:
    Pipeline(VkDevice dev, VkPipeline p, ShaderId id, VkPipelineLayout layout)
        : device_(dev), pipeline_(p), id_(id), layout_(layout) {}
    ~Pipeline() { if (pipeline_) vkDestroyPipeline(device_, pipeline_, nullptr); }
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;
    VkPipeline handle() const { return pipeline_; }
    ShaderId id() const { return id_; }
    VkPipelineLayout layout() const { return layout_; }

private:
    VkDevice device_;
    VkPipeline pipeline_;
    ShaderId id_;
    VkPipelineLayout layout_;
};

}  // namespace moe::vk
