// DeviceCaps as text and JSON.
#include "cli/device_report.h"

#include <cstdio>

namespace moe::cli {

std::string bytesText(uint64_t b) {
    char buf[32];
    if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", double(b) / double(1ull << 30));
    else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.0f MiB", double(b) / double(1ull << 20));
    else if (b >= (1ull << 10)) std::snprintf(buf, sizeof buf, "%.0f KiB", double(b) / 1024.0);
    else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
    return buf;
}

std::string subgroupOpsText(VkSubgroupFeatureFlags ops) {
    static const std::pair<VkSubgroupFeatureFlagBits, const char*> names[] = {
        {VK_SUBGROUP_FEATURE_BASIC_BIT, "basic"},
        {VK_SUBGROUP_FEATURE_VOTE_BIT, "vote"},
        {VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic"},
        {VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot"},
        {VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle"},
        {VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, "shuffle_relative"},
        {VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered"},
        {VK_SUBGROUP_FEATURE_QUAD_BIT, "quad"},
    };
    std::string s;
    for (auto [bit, name] : names)
        if (ops & bit) {
            if (!s.empty()) s += ' ';
            s += name;
        }
    return s.empty() ? "none" : s;
}

nlohmann::ordered_json capsJson(const vk::DeviceCaps& c) {
    nlohmann::ordered_json heaps = nlohmann::ordered_json::array();
    for (auto& h : c.heaps) heaps.push_back({{"bytes", h.size}, {"deviceLocal", h.deviceLocal}});
    const std::string missing = c.missingRequirements();
    return {
        {"index", c.index},
        {"name", c.name},
        {"type", c.typeName()},
        {"driverName", c.driverName},
        {"driverInfo", c.driverInfo},
        {"vendorId", c.vendorId},
        {"deviceId", c.deviceId},
        {"apiVersion", vk::formatVersion(c.apiVersion)},
        {"shaderFloat16", c.shaderFloat16},
        {"shaderInt8", c.shaderInt8},
        {"shaderInt64", c.shaderInt64},
        {"storageBuffer8Bit", c.storageBuffer8},
        {"storageBuffer16Bit", c.storageBuffer16},
        {"bufferDeviceAddress", c.bufferDeviceAddress},
        {"scalarBlockLayout", c.scalarBlockLayout},
        {"subgroupSizeControl", c.subgroupSizeControl},
        {"portabilitySubset", c.portabilitySubset},
        {"subgroupSize", c.subgroupSize},
        {"minSubgroupSize", c.minSubgroupSize},
        {"maxSubgroupSize", c.maxSubgroupSize},
        {"subgroupOps", subgroupOpsText(c.subgroupOps)},
        {"maxStorageBufferRange", c.maxStorageBufferRange},
        {"maxMemoryAllocationSize", c.maxMemoryAllocationSize},
        {"maxComputeSharedMemorySize", c.maxComputeSharedMemorySize},
        {"maxWorkGroupInvocations", c.maxWorkGroupInvocations},
        {"maxWorkGroupSize", {c.maxWorkGroupSize[0], c.maxWorkGroupSize[1], c.maxWorkGroupSize[2]}},
        {"maxWorkGroupCount", {c.maxWorkGroupCount[0], c.maxWorkGroupCount[1], c.maxWorkGroupCount[2]}},
        {"maxPushConstantsSize", c.maxPushConstantsSize},
        {"timestamps", c.timestamps},
        {"timestampPeriodNs", c.timestampPeriodNs},
        {"heaps", heaps},
        {"usable", missing.empty()},
        {"missing", missing},
    };
}

std::string capsText(const vk::DeviceCaps& c, const std::string& in) {
    auto yes = [](bool b) { return b ? "yes" : "no"; };
    std::string s;
    char buf[512];
    auto line = [&](const char* key, const std::string& value) {
        std::snprintf(buf, sizeof buf, "%s%-22s %s\n", in.c_str(), key, value.c_str());
        s += buf;
    };
    line("type", c.typeName());
    line("driver", c.driverName + (c.driverInfo.empty() ? "" : " (" + c.driverInfo + ")"));
    line("Vulkan API", vk::formatVersion(c.apiVersion));
    line("fp16 arithmetic", yes(c.shaderFloat16));
    line("int8 / int64", std::string(yes(c.shaderInt8)) + " / " + yes(c.shaderInt64));
    line("8/16-bit storage", std::string(yes(c.storageBuffer8)) + " / " + yes(c.storageBuffer16));
    line("buffer device address", yes(c.bufferDeviceAddress));
    line("scalar block layout", yes(c.scalarBlockLayout));
    std::snprintf(buf, sizeof buf, "%u (min %u, max %u%s)", c.subgroupSize, c.minSubgroupSize, c.maxSubgroupSize,
                  c.subgroupSizeControl ? ", size control" : "");
    line("subgroup size", buf);
    line("subgroup ops", subgroupOpsText(c.subgroupOps));
    line("max storage buffer", bytesText(c.maxStorageBufferRange) + " (larger tensors are addressed by pointer)");
    line("max allocation", bytesText(c.maxMemoryAllocationSize));
    line("shared memory", bytesText(c.maxComputeSharedMemorySize));
    std::snprintf(buf, sizeof buf, "%u invocations, %u x %u x %u", c.maxWorkGroupInvocations, c.maxWorkGroupSize[0],
                  c.maxWorkGroupSize[1], c.maxWorkGroupSize[2]);
    line("max workgroup", buf);
    std::snprintf(buf, sizeof buf, "yes, period %g ns", double(c.timestampPeriodNs));
    line("timestamps", c.timestamps ? std::string(buf) : "no (timing falls back to wall clock)");
    std::string heaps;
    for (size_t i = 0; i < c.heaps.size(); ++i) {
        if (i) heaps += ", ";
        heaps += bytesText(c.heaps[i].size) + (c.heaps[i].deviceLocal ? " device-local" : " host");
    }
    line("memory heaps", heaps);
    const std::string missing = c.missingRequirements();
    line("usable", missing.empty() ? "yes" : "no: lacks " + missing);
    return s;
}

}  // namespace moe::cli
