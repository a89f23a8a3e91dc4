// Device memory: a sub-allocator over large blocks (Debian has no VMA). Each block is one
// VkDeviceMemory with one VkBuffer spanning it; a Buffer is a range of a block and is addressed
// by its device address (shaders use buffer references, so no maxStorageBufferRange limit).
// Device blocks of weights, expert slots, KV cache and activations (every tag but staging and
// other) can also carry an RGBA32UI uniform texel buffer view over the whole block with a
// descriptor set (binding 0) that binds it: the texel read path of the product and attention
// kernels on CPU-type devices (kernels_matmul.cpp, kernels_dense.cpp). A view's range is the
// whole block, so synchronization validation sees a dispatch that binds it read the block: a
// transfer write into such a block (a fill or copy) must be separated from those dispatches by
// barriers on both sides.
// What the process reserves is counted per memory heap against the heap's size (drivers such as
// lavapipe do not refuse allocations past it), so running out is a clean, early error.
#pragma once
#include <vulkan/vulkan.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"
#include "vk/caps.h"

namespace moe::vk {

enum class MemoryKind { Device, Upload, Readback };
// What the memory holds, for the memory-use report (GUI performance panel, bench).
enum class MemoryTag { Weights, ExpertSlots, KvCache, Scratch, Staging, Other, Count };
const char* memoryTagName(MemoryTag t);
// True for the messages of running out of device memory (the allocator's and the checks before
// a model is uploaded): the one error a caller can cure by freeing memory and trying again.
inline bool isOutOfDeviceMemory(const std::string& message) {
    return message.find("out of device memory") != std::string::npos;
}

class Allocator;

// The texel view holding a device address: `set` binds it, byte i of the view is at device
// address base + i. set is VK_NULL_HANDLE when the address has no view covering its block.
struct TexelWindow {
    VkDescriptorSet set = VK_NULL_HANDLE;
    uint64_t base = 0;
};

// Device memory reserved by every Allocator of the process, all heaps and devices together.
uint64_t deviceBytesInProcess();

class Buffer {
public:
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    Buffer(Buffer&& o) noexcept { *this = std::move(o); }
    Buffer& operator=(Buffer&& o) noexcept;
    ~Buffer() { release(); }

    bool valid() const { return alloc_ != nullptr; }
    VkBuffer handle() const { return buffer_; }
    VkDeviceSize offset() const { return offset_; }   // within handle()
    VkDeviceSize size() const { return size_; }
    uint64_t address() const { return address_; }      // device address of byte 0
    uint8_t* mapped() const { return mapped_; }        // non-null when host-visible
    template <class T> T* as() const { return reinterpret_cast<T*>(mapped_); }
    void release();

private:
    friend class Allocator;
    Allocator* alloc_ = nullptr;
    uint32_t block_ = 0;
    VkBuffer buffer_ = VK_NULL_HANDLE;
    VkDeviceSize offset_ = 0, size_ = 0;
    uint64_t address_ = 0;
    uint8_t* mapped_ = nullptr;
    MemoryTag tag_ = MemoryTag::Other;
};

class Allocator {
public:
    // texelSetLayout (one uniform texel buffer at binding 0), when not null, gives every Device
    // block of weights, expert slots, KV cache or scratch a texel view and a descriptor set of
    // that layout.
    Allocator(VkDevice device, VkPhysicalDevice pd, const DeviceCaps& caps,
              VkDescriptorSetLayout texelSetLayout = VK_NULL_HANDLE);
    ~Allocator();
    Allocator(const Allocator&) = delete;
    Allocator& operator=(const Allocator&) = delete;

    // Out of memory is a user-causable error: returned, never fatal. The message names `what`,
    // the size and the memory left ("out of device memory: KV cache needs 1024 MiB, 310 MiB of
    // the device's 2048 MiB are free"). Before failing, empty blocks are released and it retries.
    Result<Buffer> allocate(VkDeviceSize size, MemoryKind kind, MemoryTag tag, const char* what = nullptr);
    // True when Device memory is also host-visible (unified memory: lavapipe, many iGPUs):
    // weights can then be written in place without a staging copy.
    bool deviceIsHostVisible() const { return deviceHostVisible_; }

    std::array<uint64_t, size_t(MemoryTag::Count)> bytesInUse() const;
    uint64_t bytesReserved() const;  // all blocks
    uint32_t blockCount() const;
    // Bytes of the heap behind `kind` not reserved by any allocator of this process (on this
    // physical device), within the limit below; and the heap's size (or the limit).
    uint64_t heapAvailable(MemoryKind kind) const;
    uint64_t heapSize(MemoryKind kind) const;
    // Releases blocks with nothing allocated in them (the memory goes back to the driver).
    void trim();
    // The texel view of the block holding `address` when the view covers that whole block.
    TexelWindow texelWindow(uint64_t address) const;

    // Testing hooks. setHeapLimit: the heaps are treated as at most `bytes` large (0: their real
    // size), a smaller device. failAllocationsAfter: after n more vkAllocateMemory calls, every
    // further one fails with VK_ERROR_OUT_OF_DEVICE_MEMORY as a driver does when it runs out
    // (-1: off again).
    void setHeapLimit(uint64_t bytes);
    void failAllocationsAfter(int64_t n);

private:
    friend class Buffer;
    struct Block {
        VkDeviceMemory memory = VK_NULL_HANDLE;
        VkBuffer buffer = VK_NULL_HANDLE;
        VkDeviceSize size = 0;
        uint64_t address = 0;
        uint8_t* mapped = nullptr;
        MemoryKind kind = MemoryKind::Device;
        bool dedicated = false;
        bool texel = false;  // with a texel view (see the file comment)
        VkBufferView view = VK_NULL_HANDLE;
        VkDescriptorPool pool = VK_NULL_HANDLE;
        VkDescriptorSet set = VK_NULL_HANDLE;
        bool viewCoversBlock = false;
        uint32_t heap = 0;
        VkDeviceSize reserved = 0;  // allocationSize, counted against the heap
        std::map<VkDeviceSize, VkDeviceSize> freeList;  // offset -> size
        VkDeviceSize used = 0;
    };
    void free(uint32_t block, VkDeviceSize offset, VkDeviceSize size, MemoryTag tag);
    Result<uint32_t> newBlock(VkDeviceSize size, MemoryKind kind, bool dedicated, bool texel, const char* what);
    Status createTexelView(Block& b);
    int memoryType(MemoryKind kind) const;
    void destroyBlock(Block& b);
    void trimLocked();
    uint32_t heapOf(MemoryKind kind) const;
    uint64_t heapAvailableLocked(uint32_t heap) const;

    VkDevice device_;
    DeviceCaps caps_;
    VkDescriptorSetLayout texelSetLayout_ = VK_NULL_HANDLE;
    VkPhysicalDeviceMemoryProperties memProps_{};
    bool deviceHostVisible_ = false;
    VkDeviceSize blockSize_ = 0;
    VkDeviceSize alignment_ = 256;
    std::array<uint8_t, VK_UUID_SIZE> deviceUuid_{};  // the process-wide heap count's key
    uint64_t heapLimit_ = 0;
    int64_t failCountdown_ = -1;  // failAllocationsAfter; -1: off
    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<Block>> blocks_;  // null entries are freed dedicated blocks
    std::array<uint64_t, size_t(MemoryTag::Count)> inUse_{};
};

}  // namespace moe::vk
