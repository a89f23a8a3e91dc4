// Vulkan instance: validation layer + debug messenger when asked, portability enumeration
// (MoltenVK) when present, and enumeration of physical devices with their probed DeviceCaps.
#pragma once
#include <vulkan/vulkan.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"
#include "vk/caps.h"

namespace moe::vk {

// Counts validation messages (warnings and errors); tests fail on any.
struct ValidationLog {
    std::atomic<uint32_t> count{0};
    std::mutex mutex;
    std::vector<std::string> messages;  // first few, for the failure report
    void add(std::string msg);
    std::vector<std::string> take();
};

struct InstanceOptions {
    bool validation = false;      // also enabled by MOESCOPE_VALIDATION=1
    bool syncValidation = false;  // synchronization validation (MOESCOPE_SYNC_VALIDATION=1)
    std::vector<const char*> extraExtensions;  // e.g. the GUI's surface extensions
};

class Instance {
public:
    static Result<std::unique_ptr<Instance>> create(const InstanceOptions& opts = {});
    ~Instance();
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    VkInstance handle() const { return instance_; }
    bool validationEnabled() const { return messenger_ != VK_NULL_HANDLE; }
    bool portabilityEnumeration() const { return portability_; }
    ValidationLog& validationLog() { return log_; }
    uint32_t validationMessageCount() const { return log_.count.load(); }

    const std::vector<DeviceCaps>& devices() const { return caps_; }
    VkPhysicalDevice physicalDevice(uint32_t index) const { return physical_[index]; }
    // --device N, else MOESCOPE_DEVICE, else the first discrete/integrated GPU, else device 0.
    Result<uint32_t> chooseDevice(int requested) const;

private:
    Instance() = default;
    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    bool portability_ = false;
    std::vector<VkPhysicalDevice> physical_;
    std::vector<DeviceCaps> caps_;
    ValidationLog log_;
};

DeviceCaps probeCaps(VkPhysicalDevice pd, uint32_t index);
// Validation messages of every Instance of the process so far: tests fail on any, whichever
// instance reported it (the tests' own, a Session's, createBackend's).
uint32_t validationMessagesInProcess();
bool envFlag(const char* name);

}  // namespace moe::vk
