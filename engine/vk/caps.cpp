// Capability probing (features, subgroup properties, limits, heaps) and their descriptions.
#include <cstring>

#include "vk/caps.h"
#include "vk/check.h"
#include "vk/instance.h"

namespace moe::vk {

const char* resultName(VkResult r) {
    switch (r) {
#define C(x) case x: return #x;
        C(VK_SUCCESS) C(VK_NOT_READY) C(VK_TIMEOUT) C(VK_EVENT_SET) C(VK_EVENT_RESET) C(VK_INCOMPLETE)
        C(VK_ERROR_OUT_OF_HOST_MEMORY) C(VK_ERROR_OUT_OF_DEVICE_MEMORY) C(VK_ERROR_INITIALIZATION_FAILED)
        C(VK_ERROR_DEVICE_LOST) C(VK_ERROR_MEMORY_MAP_FAILED) C(VK_ERROR_LAYER_NOT_PRESENT)
        C(VK_ERROR_EXTENSION_NOT_PRESENT) C(VK_ERROR_FEATURE_NOT_PRESENT) C(VK_ERROR_INCOMPATIBLE_DRIVER)
        C(VK_ERROR_TOO_MANY_OBJECTS) C(VK_ERROR_FORMAT_NOT_SUPPORTED) C(VK_ERROR_FRAGMENTED_POOL)
        C(VK_ERROR_UNKNOWN) C(VK_ERROR_OUT_OF_POOL_MEMORY) C(VK_ERROR_INVALID_EXTERNAL_HANDLE)
        C(VK_ERROR_FRAGMENTATION) C(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS) C(VK_ERROR_SURFACE_LOST_KHR)
        C(VK_ERROR_NATIVE_WINDOW_IN_USE_KHR) C(VK_SUBOPTIMAL_KHR) C(VK_ERROR_OUT_OF_DATE_KHR)
#undef C
        default: return "VkResult(unknown)";
    }
}

std::string formatVersion(uint32_t v) {
    return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
           std::to_string(VK_API_VERSION_PATCH(v));
}

uint64_t DeviceCaps::deviceLocalBytes() const {
    uint64_t s = 0;
    for (auto& h : heaps)
        if (h.deviceLocal) s += h.size;
    return s;
}

std::string DeviceCaps::typeName() const {
    switch (type) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
        default: return "other";
    }
}

std::string DeviceCaps::missingRequirements() const {
    std::string m;
    auto add = [&](const char* s) { m += m.empty() ? s : std::string(", ") + s; };
    if (apiVersion < VK_API_VERSION_1_2) add("Vulkan 1.2");
    if (!bufferDeviceAddress) add("bufferDeviceAddress");
    if (!shaderInt64) add("shaderInt64");
    if (!scalarBlockLayout) add("scalarBlockLayout");
    return m;
}

static bool hasDeviceExtension(VkPhysicalDevice pd, const char* name) {
    uint32_t n = 0;
    vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> ext(n);
    vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, ext.data());
    for (auto& e : ext)
        if (std::strcmp(e.extensionName, name) == 0) return true;
    return false;
}

DeviceCaps probeCaps(VkPhysicalDevice pd, uint32_t index) {
    DeviceCaps c;
    c.index = index;

    VkPhysicalDeviceSubgroupProperties sub{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceSubgroupSizeControlProperties subCtl{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
    VkPhysicalDeviceDriverProperties drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    props.pNext = &sub;
    sub.pNext = &drv;
    drv.pNext = &m3;
    VkPhysicalDeviceProperties basic;
    vkGetPhysicalDeviceProperties(pd, &basic);
    const bool v13 = basic.apiVersion >= VK_API_VERSION_1_3;
    if (v13) m3.pNext = &subCtl;
    vkGetPhysicalDeviceProperties2(pd, &props);
    const auto& p = props.properties;
    c.name = p.deviceName;
    c.type = p.deviceType;
    c.vendorId = p.vendorID;
    c.deviceId = p.deviceID;
    c.apiVersion = p.apiVersion;
    c.driverVersion = p.driverVersion;
    c.driverName = drv.driverName;
    c.driverInfo = drv.driverInfo;
    c.subgroupSize = sub.subgroupSize;
    c.subgroupOps = (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) ? sub.supportedOperations : 0;
    c.minSubgroupSize = v13 ? subCtl.minSubgroupSize : sub.subgroupSize;
    c.maxSubgroupSize = v13 ? subCtl.maxSubgroupSize : sub.subgroupSize;
    c.maxStorageBufferRange = p.limits.maxStorageBufferRange;
    c.maxTexelBufferElements = p.limits.maxTexelBufferElements;
    c.minTexelBufferOffsetAlignment = p.limits.minTexelBufferOffsetAlignment;
    VkFormatProperties rgba32{};
    vkGetPhysicalDeviceFormatProperties(pd, VK_FORMAT_R32G32B32A32_UINT, &rgba32);
    c.uniformTexelRgba32ui = (rgba32.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT) != 0;
    c.maxMemoryAllocationSize = m3.maxMemoryAllocationSize;
    c.maxComputeSharedMemorySize = p.limits.maxComputeSharedMemorySize;
    c.maxWorkGroupInvocations = p.limits.maxComputeWorkGroupInvocations;
    for (int i = 0; i < 3; ++i) {
        c.maxWorkGroupSize[i] = p.limits.maxComputeWorkGroupSize[i];
        c.maxWorkGroupCount[i] = p.limits.maxComputeWorkGroupCount[i];
    }
    c.maxPushConstantsSize = p.limits.maxPushConstantsSize;
    c.minStorageBufferOffsetAlignment = p.limits.minStorageBufferOffsetAlignment;
    c.timestampPeriodNs = p.limits.timestampPeriod;

    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
    VkPhysicalDeviceVulkan13Features f13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    f2.pNext = &f11;
    f11.pNext = &f12;
    if (v13) f12.pNext = &f13;
    if (p.apiVersion >= VK_API_VERSION_1_2) {
        vkGetPhysicalDeviceFeatures2(pd, &f2);
        c.shaderFloat16 = f12.shaderFloat16;
        c.shaderInt8 = f12.shaderInt8;
        c.storageBuffer8 = f12.storageBuffer8BitAccess;
        c.storageBuffer16 = f11.storageBuffer16BitAccess;
        c.bufferDeviceAddress = f12.bufferDeviceAddress;
        c.scalarBlockLayout = f12.scalarBlockLayout;
        c.subgroupSizeControl = v13 && f13.subgroupSizeControl && f13.computeFullSubgroups;
    }
    c.shaderInt64 = f2.features.shaderInt64;
    c.portabilitySubset = hasDeviceExtension(pd, "VK_KHR_portability_subset");

    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> qf(nq);
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qf.data());
    // Prefer a compute-capable family; graphics families also support compute.
    for (uint32_t i = 0; i < nq; ++i)
        if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            c.computeQueueFamily = i;
            c.timestamps = qf[i].timestampValidBits > 0 && c.timestampPeriodNs > 0;
            break;
        }

    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
        c.heaps.push_back({mem.memoryHeaps[i].size, (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0});
    return c;
}

}  // namespace moe::vk
