// Block sub-allocator: first-fit free lists per block, dedicated blocks for large requests.
#include "vk/memory.h"

#include <algorithm>
#include <cstdio>

#include "vk/check.h"

namespace moe::vk {

namespace {

// Bytes reserved by every Allocator of the process, per physical device (by UUID: each
// Instance has its own handles) and heap. A Session builds a new model's Device beside the old
// one; both draw on the same heap.
struct HeapCounts {
    std::mutex mutex;
    std::map<std::pair<std::array<uint8_t, VK_UUID_SIZE>, uint32_t>, uint64_t> bytes;
};
// Never destroyed: a Device that outlives static destruction (a global in a test, a GUI torn
// down from atexit) still updates it when its allocator goes.
HeapCounts& heapCounts() {
    static HeapCounts* h = new HeapCounts;
    return *h;
}

std::string formatBytes(uint64_t b) {
    char s[32];
    if (b < (1ull << 20)) std::snprintf(s, sizeof s, "%llu KiB", (unsigned long long)((b + 1023) >> 10));
    else if (b < (10ull << 20)) std::snprintf(s, sizeof s, "%.1f MiB", double(b) / (1 << 20));
    else std::snprintf(s, sizeof s, "%llu MiB", (unsigned long long)((b + (1ull << 20) - 1) >> 20));
    return s;
}

}  // namespace

uint64_t deviceBytesInProcess() {
    HeapCounts& hc = heapCounts();
    std::lock_guard<std::mutex> lock(hc.mutex);
    uint64_t sum = 0;
    for (const auto& [key, bytes] : hc.bytes) sum += bytes;
    return sum;
}

const char* memoryTagName(MemoryTag t) {
    switch (t) {
        case MemoryTag::Weights: return "weights";
        case MemoryTag::ExpertSlots: return "expert slots";
        case MemoryTag::KvCache: return "KV cache";
        case MemoryTag::Scratch: return "scratch";
        case MemoryTag::Staging: return "staging";
        default: return "other";
    }
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
    if (this != &o) {
        release();
        alloc_ = std::exchange(o.alloc_, nullptr);
        block_ = o.block_;
        buffer_ = std::exchange(o.buffer_, VK_NULL_HANDLE);
        offset_ = o.offset_;
        size_ = std::exchange(o.size_, 0);
        address_ = std::exchange(o.address_, 0);
        mapped_ = std::exchange(o.mapped_, nullptr);
        tag_ = o.tag_;
    }
    return *this;
}

void Buffer::release() {
    if (alloc_) alloc_->free(block_, offset_, size_, tag_);
    alloc_ = nullptr;
    buffer_ = VK_NULL_HANDLE;
    mapped_ = nullptr;
    size_ = 0;
    address_ = 0;
}

Allocator::Allocator(VkDevice device, VkPhysicalDevice pd, const DeviceCaps& caps, VkDescriptorSetLayout texelSetLayout)
    : device_(device), caps_(caps), texelSetLayout_(texelSetLayout) {
    vkGetPhysicalDeviceMemoryProperties(pd, &memProps_);
    int dev = memoryType(MemoryKind::Device);
    deviceHostVisible_ = dev >= 0 && (memProps_.memoryTypes[dev].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
                         (memProps_.memoryTypes[dev].propertyFlags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    blockSize_ = std::min<VkDeviceSize>(64ull << 20, caps.maxMemoryAllocationSize ? caps.maxMemoryAllocationSize : (64ull << 20));
    alignment_ = std::max<VkDeviceSize>(256, caps.minStorageBufferOffsetAlignment);
    VkPhysicalDeviceIDProperties id{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
    VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    props.pNext = &id;
    vkGetPhysicalDeviceProperties2(pd, &props);
    std::copy(std::begin(id.deviceUUID), std::end(id.deviceUUID), deviceUuid_.begin());
}

Allocator::~Allocator() {
    for (auto& b : blocks_)
        if (b) destroyBlock(*b);
}

void Allocator::destroyBlock(Block& b) {
    if (b.pool) vkDestroyDescriptorPool(device_, b.pool, nullptr);  // frees b.set
    if (b.view) vkDestroyBufferView(device_, b.view, nullptr);
    if (b.mapped) vkUnmapMemory(device_, b.memory);
    if (b.buffer) vkDestroyBuffer(device_, b.buffer, nullptr);
    if (b.memory) {
        vkFreeMemory(device_, b.memory, nullptr);
        HeapCounts& hc = heapCounts();
        std::lock_guard<std::mutex> lock(hc.mutex);
        hc.bytes[{deviceUuid_, b.heap}] -= b.reserved;
    }
    b = Block{};
}

uint32_t Allocator::heapOf(MemoryKind kind) const {
    int type = memoryType(kind);
    return type < 0 ? 0 : memProps_.memoryTypes[type].heapIndex;
}

uint64_t Allocator::heapAvailableLocked(uint32_t heap) const {
    uint64_t size = memProps_.memoryHeaps[heap].size;
    if (heapLimit_) size = std::min(size, heapLimit_);
    HeapCounts& hc = heapCounts();
    std::lock_guard<std::mutex> lock(hc.mutex);
    auto it = hc.bytes.find({deviceUuid_, heap});
    const uint64_t used = it == hc.bytes.end() ? 0 : it->second;
    return used < size ? size - used : 0;
}

uint64_t Allocator::heapAvailable(MemoryKind kind) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return heapAvailableLocked(heapOf(kind));
}

uint64_t Allocator::heapSize(MemoryKind kind) const {
    std::lock_guard<std::mutex> lock(mutex_);
    uint64_t size = memProps_.memoryHeaps[heapOf(kind)].size;
    return heapLimit_ ? std::min(size, heapLimit_) : size;
}

void Allocator::setHeapLimit(uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    heapLimit_ = bytes;
}

void Allocator::failAllocationsAfter(int64_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    failCountdown_ = n < 0 ? -1 : n;
}

void Allocator::trim() {
    std::lock_guard<std::mutex> lock(mutex_);
    trimLocked();
}

void Allocator::trimLocked() {
    for (auto& b : blocks_)
        if (b && b->used == 0) {
            destroyBlock(*b);
            b.reset();
        }
}

int Allocator::memoryType(MemoryKind kind) const {
    VkMemoryPropertyFlags want = 0, prefer = 0;
    switch (kind) {
        case MemoryKind::Device: want = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT; break;
        case MemoryKind::Upload: want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT; break;
        case MemoryKind::Readback:
            want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
            prefer = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
            break;
    }
    int best = -1;
    for (uint32_t i = 0; i < memProps_.memoryTypeCount; ++i) {
        auto f = memProps_.memoryTypes[i].propertyFlags;
        if ((f & want) != want) continue;
        if (best < 0) best = int(i);
        if (prefer && (f & prefer) == prefer) return int(i);
        if (kind == MemoryKind::Device && (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)) {
            // unified memory: a host-visible device-local type saves staging copies
            if ((f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)) return int(i);
        }
    }
    if (best < 0 && kind == MemoryKind::Device) return memoryType(MemoryKind::Upload);
    return best;
}

Status Allocator::createTexelView(Block& b) {
    const VkDeviceSize texels = std::min<VkDeviceSize>(b.size / 16, caps_.maxTexelBufferElements);
    VkBufferViewCreateInfo vi{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
    vi.buffer = b.buffer;
    vi.format = VK_FORMAT_R32G32B32A32_UINT;
    vi.offset = 0;
    vi.range = texels * 16;
    VkResult r = vkCreateBufferView(device_, &vi, nullptr, &b.view);
    if (r != VK_SUCCESS) return makeError(vkErrorText("vkCreateBufferView", r));
    VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 1};
    VkDescriptorPoolCreateInfo dp{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dp.maxSets = 1;
    dp.poolSizeCount = 1;
    dp.pPoolSizes = &ps;
    r = vkCreateDescriptorPool(device_, &dp, nullptr, &b.pool);
    if (r != VK_SUCCESS) return makeError(vkErrorText("vkCreateDescriptorPool", r));
    VkDescriptorSetAllocateInfo sa{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    sa.descriptorPool = b.pool;
    sa.descriptorSetCount = 1;
    sa.pSetLayouts = &texelSetLayout_;
    r = vkAllocateDescriptorSets(device_, &sa, &b.set);
    if (r != VK_SUCCESS) return makeError(vkErrorText("vkAllocateDescriptorSets", r));
    VkWriteDescriptorSet w{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    w.dstSet = b.set;
    w.dstBinding = 0;
    w.descriptorCount = 1;
    w.descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
    w.pTexelBufferView = &b.view;
    vkUpdateDescriptorSets(device_, 1, &w, 0, nullptr);
    b.viewCoversBlock = texels * 16 >= b.size;
    return {};
}

TexelWindow Allocator::texelWindow(uint64_t address) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& b : blocks_)
        if (b && b->texel && b->viewCoversBlock && address >= b->address && address < b->address + b->size)
            return {b->set, b->address};
    return {};
}

Result<uint32_t> Allocator::newBlock(VkDeviceSize size, MemoryKind kind, bool dedicated, bool texel, const char* what) {
    const std::string forWhat = what ? what : "a buffer";
    int type = memoryType(kind);
    if (type < 0) return makeError("no suitable Vulkan memory type for " + forWhat);
    if (caps_.maxMemoryAllocationSize && size > caps_.maxMemoryAllocationSize)
        return makeError("out of device memory: " + forWhat + " needs one allocation of " + formatBytes(size) +
                         "; the device allows at most " + formatBytes(caps_.maxMemoryAllocationSize) + " per allocation");
    const uint32_t heap = memProps_.memoryTypes[type].heapIndex;
    auto outOfMemory = [&](const std::string& why) {
        uint64_t heapBytes = memProps_.memoryHeaps[heap].size;
        if (heapLimit_) heapBytes = std::min(heapBytes, heapLimit_);
        return makeError("out of device memory: " + forWhat + " needs " + formatBytes(size) + ", " +
                         formatBytes(heapAvailableLocked(heap)) + " of the device's " + formatBytes(heapBytes) +
                         " are free" + why);
    };
    if (size > heapAvailableLocked(heap)) return outOfMemory("");
    auto b = std::make_unique<Block>();
    b->size = size;
    b->kind = kind;
    b->dedicated = dedicated;
    b->texel = texel;
    b->heap = heap;

    VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = size;
    bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
               VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT;
    if (texel) bi.usage |= VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT;
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkResult r = vkCreateBuffer(device_, &bi, nullptr, &b->buffer);
    if (r != VK_SUCCESS) return makeError(vkErrorText("vkCreateBuffer", r) + " for " + forWhat);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(device_, b->buffer, &req);
    if (!(req.memoryTypeBits & (1u << type))) {
        destroyBlock(*b);
        return makeError("buffer cannot live in the chosen memory type");
    }
    if (req.size > heapAvailableLocked(heap)) {
        destroyBlock(*b);
        return outOfMemory("");
    }
    VkMemoryAllocateFlagsInfo flags{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO};
    flags.flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT;
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ai.pNext = &flags;
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = uint32_t(type);
    if (failCountdown_ == 0) {
        r = VK_ERROR_OUT_OF_DEVICE_MEMORY;  // injected (tests)
    } else {
        if (failCountdown_ > 0) --failCountdown_;
        r = vkAllocateMemory(device_, &ai, nullptr, &b->memory);
    }
    if (r != VK_SUCCESS) {
        destroyBlock(*b);
        if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
            return outOfMemory(std::string(" (the driver refused: ") + resultName(r) + ")");
        return makeError(vkErrorText("vkAllocateMemory", r) + " for " + forWhat);
    }
    b->reserved = req.size;
    {
        HeapCounts& hc = heapCounts();
        std::lock_guard<std::mutex> lock(hc.mutex);
        hc.bytes[{deviceUuid_, heap}] += req.size;
    }
    VK_CHECK(vkBindBufferMemory(device_, b->buffer, b->memory, 0));
    if (memProps_.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
        void* p = nullptr;
        r = vkMapMemory(device_, b->memory, 0, VK_WHOLE_SIZE, 0, &p);
        if (r != VK_SUCCESS) {
            destroyBlock(*b);
            return makeError(vkErrorText("vkMapMemory", r));
        }
        b->mapped = static_cast<uint8_t*>(p);
    }
    VkBufferDeviceAddressInfo addr{VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO};
    addr.buffer = b->buffer;
    b->address = vkGetBufferDeviceAddress(device_, &addr);
    if (texel)
        if (Status st = createTexelView(*b); !st.ok()) {
            destroyBlock(*b);
            return makeError(st.message() + " for " + forWhat);
        }
    b->freeList[0] = size;
    for (uint32_t i = 0; i < blocks_.size(); ++i)
        if (!blocks_[i]) {
            blocks_[i] = std::move(b);
            return i;
        }
    blocks_.push_back(std::move(b));
    return uint32_t(blocks_.size() - 1);
}

Result<Buffer> Allocator::allocate(VkDeviceSize size, MemoryKind kind, MemoryTag tag, const char* what) {
    if (size == 0) size = 4;
    size = (size + alignment_ - 1) / alignment_ * alignment_;
    const bool texel = texelSetLayout_ && kind == MemoryKind::Device &&
                       tag != MemoryTag::Staging && tag != MemoryTag::Other;
    std::lock_guard<std::mutex> lock(mutex_);
    auto take = [&](uint32_t bi, VkDeviceSize off) {
        Block& b = *blocks_[bi];
        auto it = b.freeList.find(off);
        VkDeviceSize fsize = it->second;
        b.freeList.erase(it);
        if (fsize > size) b.freeList[off + size] = fsize - size;
        b.used += size;
        inUse_[size_t(tag)] += size;
        Buffer buf;
        buf.alloc_ = this;
        buf.block_ = bi;
        buf.buffer_ = b.buffer;
        buf.offset_ = off;
        buf.size_ = size;
        buf.address_ = b.address + off;
        buf.mapped_ = b.mapped ? b.mapped + off : nullptr;
        buf.tag_ = tag;
        return buf;
    };
    if (size <= blockSize_ / 2) {
        for (uint32_t bi = 0; bi < blocks_.size(); ++bi) {
            auto& b = blocks_[bi];
            if (!b || b->dedicated || b->kind != kind || b->texel != texel) continue;
            for (auto& [off, fs] : b->freeList)
                if (fs >= size) return take(bi, off);
        }
        auto nb = newBlock(blockSize_, kind, false, texel, what);
        if (!nb.ok()) {
            trimLocked();  // empty blocks (of any kind) may hold the memory
            nb = newBlock(blockSize_, kind, false, texel, what);
        }
        if (nb.ok()) return take(nb.value(), 0);
        // no room for a whole block: the request alone may still fit
    }
    auto nb = newBlock(size, kind, true, texel, what);
    if (!nb.ok()) {
        trimLocked();
        nb = newBlock(size, kind, true, texel, what);
    }
    if (!nb.ok()) return nb.error();
    return take(nb.value(), 0);
}

void Allocator::free(uint32_t bi, VkDeviceSize offset, VkDeviceSize size, MemoryTag tag) {
    std::lock_guard<std::mutex> lock(mutex_);
    Block& b = *blocks_[bi];
    inUse_[size_t(tag)] -= size;
    b.used -= size;
    auto it = b.freeList.emplace(offset, size).first;
    // merge with the next and previous free ranges
    auto next = std::next(it);
    if (next != b.freeList.end() && it->first + it->second == next->first) {
        it->second += next->second;
        b.freeList.erase(next);
    }
    if (it != b.freeList.begin()) {
        auto prev = std::prev(it);
        if (prev->first + prev->second == it->first) {
            prev->second += it->second;
            b.freeList.erase(it);
        }
    }
    if (b.dedicated && b.used == 0) {
        destroyBlock(b);
        blocks_[bi].reset();
    }
}

std::array<uint64_t, size_t(MemoryTag::Count)> Allocator::bytesInUse() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return inUse_;
}

uint64_t Allocator::bytesReserved() const {
    std::lock_guard<std::mutex> lock(mutex_);
    uint64_t s = 0;
    for (auto& b : blocks_)
        if (b) s += b->size;
    return s;
}

uint32_t Allocator::blockCount() const {
    std::lock_guard<std::mutex> lock(mutex_);
    uint32_t n = 0;
    for (auto& b : blocks_) n += b ? 1 : 0;
    return n;
}

}  // namespace moe::vk
