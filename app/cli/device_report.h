// Descriptions of a Vulkan device's DeviceCaps for the CLI: human-readable lines and JSON
// (shared by `moescope devices` and `moescope selftest --json`).
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "vk/caps.h"

namespace moe::cli {

nlohmann::ordered_json capsJson(const vk::DeviceCaps& c);
// Multi-line, indented description of every probed capability.
std::string capsText(const vk::DeviceCaps& c, const std::string& indent);
std::string subgroupOpsText(VkSubgroupFeatureFlags ops);
std::string bytesText(uint64_t bytes);  // "128 MiB", "7.6 GiB"

}  // namespace moe::cli
