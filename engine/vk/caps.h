// DeviceCaps: everything the engine branches on, probed once per physical device.
// Code chooses kernels and sizes from this struct, never from vendor ids.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <vector>

namespace moe::vk {

struct MemoryHeapInfo {
    uint64_t size = 0;
    bool deviceLocal = false;
};

struct DeviceCaps {
    uint32_t index = 0;               // position in vkEnumeratePhysicalDevices
    std::string name;
    std::string driverName, driverInfo;
    VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
    uint32_t vendorId = 0, deviceId = 0;  // reported only; never branched on
    uint32_t apiVersion = 0, driverVersion = 0;

    // features
    bool shaderFloat16 = false;       // fp16 arithmetic in shaders
    bool shaderInt8 = false;
    bool shaderInt64 = false;
    bool storageBuffer16 = false;     // 16-bit storage
    bool storageBuffer8 = false;      // 8-bit storage
    bool bufferDeviceAddress = false; // required: tensors are addressed by pointer
    bool scalarBlockLayout = false;
    bool subgroupSizeControl = false;
    bool portabilitySubset = false;   // MoltenVK

    // subgroups
    uint32_t subgroupSize = 0;
    uint32_t minSubgroupSize = 0, maxSubgroupSize = 0;
    VkSubgroupFeatureFlags subgroupOps = 0;  // supported in compute stage
    bool subgroupArithmetic() const { return subgroupOps & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT; }
    bool subgroupShuffle() const { return subgroupOps & VK_SUBGROUP_FEATURE_SHUFFLE_BIT; }

    // limits
    uint64_t maxStorageBufferRange = 0;
    uint32_t maxTexelBufferElements = 0;  // texels of one buffer view (roofline, texel weight reads)
    uint64_t minTexelBufferOffsetAlignment = 0;
    bool uniformTexelRgba32ui = false;    // RGBA32UI uniform texel buffers (texel weight reads)
    uint64_t maxMemoryAllocationSize = 0;
    uint32_t maxComputeSharedMemorySize = 0;
    uint32_t maxWorkGroupInvocations = 0;
    uint32_t maxWorkGroupSize[3] = {};
    uint32_t maxWorkGroupCount[3] = {};
    uint32_t maxPushConstantsSize = 0;
    uint64_t minStorageBufferOffsetAlignment = 0;
    bool timestamps = false;          // compute queue supports timestamps
    float timestampPeriodNs = 0;
    uint32_t computeQueueFamily = 0;
    std::vector<MemoryHeapInfo> heaps;

    uint64_t deviceLocalBytes() const;
    // Weights read through uniform texel buffer views (texelFetch) instead of device addresses:
    // on CPU-type devices (gallivm) a texel fetch is a vectorized gather while every buffer
    // device address load is a per-lane scalar loop. GPUs keep the address path.
    bool texelWeightsCapable() const { return uniformTexelRgba32ui && maxTexelBufferElements >= (1u << 20); }
    bool prefersTexelWeights() const { return texelWeightsCapable() && type == VK_PHYSICAL_DEVICE_TYPE_CPU; }
    std::string typeName() const;
    // What the engine needs and this device lacks; empty when usable.
    std::string missingRequirements() const;
};

std::string formatVersion(uint32_t v);

}  // namespace moe::vk
