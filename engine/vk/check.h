// VK_CHECK: for Vulkan calls that cannot fail on valid use. A failure is a bug or a broken
// driver, so it names the call, file, line and VkResult and aborts. Everything a user can
// cause (out of memory, device lost, missing feature) is returned as moe::Error instead.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace moe::vk {

const char* resultName(VkResult r);

[[noreturn]] inline void vkCheckFailed(const char* call, const char* file, int line, VkResult r) {
    std::fprintf(stderr, "moescope: fatal Vulkan error: %s returned %s at %s:%d\n", call, resultName(r), file, line);
    std::abort();
}

inline std::string vkErrorText(const char* what, VkResult r) { return std::string(what) + " failed: " + resultName(r); }

}  // namespace moe::vk

#define VK_CHECK(call)                                                         \
    do {                                                                       \
        VkResult vk_check_r_ = (call);                                         \
        if (vk_check_r_ < 0) ::moe::vk::vkCheckFailed(#call, __FILE__, __LINE__, vk_check_r_); \
    } while (0)
