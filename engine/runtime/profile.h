// GPU time per kernel family of a forward step, from the per-dispatch timestamps of
// VkForward::lastKernelTimes(): the shader name without its weight type and reduction variant
// (mul_mat_sg_q8_0 -> mul_mat), so a profile reads the same on every device and model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "vk/commands.h"

namespace moe::rt {

struct FamilyTime {
    std::string family;
    double ms = 0;
    uint32_t dispatches = 0;
};

// "mul_mat_moe_sg_q4_k" -> "mul_mat_moe", "attention_sg" -> "attention", "get_rows_f16" -> "get_rows".
std::string kernelFamily(const std::string& shaderName);
// Families in decreasing time; ties keep the order of first appearance.
std::vector<FamilyTime> timeByFamily(const std::vector<vk::KernelTime>& times);

}  // namespace moe::rt
