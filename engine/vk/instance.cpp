// Instance creation, debug messenger, device enumeration and capability probing.
#include "vk/instance.h"

#include <cstdlib>
#include <cstring>

#include "vk/check.h"

namespace moe::vk {

bool envFlag(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0;
}

namespace {
std::atomic<uint32_t> gProcessMessages{0};
}

uint32_t validationMessagesInProcess() { return gProcessMessages.load(); }

void ValidationLog::add(std::string msg) {
    count.fetch_add(1);
    gProcessMessages.fetch_add(1);
    std::lock_guard<std::mutex> lock(mutex);
    if (messages.size() < 16) messages.push_back(std::move(msg));
}

std::vector<std::string> ValidationLog::take() {
    std::lock_guard<std::mutex> lock(mutex);
    return std::exchange(messages, {});
}

static VKAPI_ATTR VkBool32 VKAPI_CALL debugCallback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                    VkDebugUtilsMessageTypeFlagsEXT,
                                                    const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
    auto* log = static_cast<ValidationLog*>(user);
    std::string msg = data && data->pMessage ? data->pMessage : "(no message)";
    std::fprintf(stderr, "[vulkan validation] %s\n", msg.c_str());
    if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) log->add(std::move(msg));
    return VK_FALSE;
}

static bool hasLayer(const char* name) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, nullptr);
    std::vector<VkLayerProperties> layers(n);
    vkEnumerateInstanceLayerProperties(&n, layers.data());
    for (auto& l : layers)
        if (std::strcmp(l.layerName, name) == 0) return true;
    return false;
}

static std::vector<VkExtensionProperties> instanceExtensions() {
    uint32_t n = 0;
    vkEnumerateInstanceExtensionProperties(nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> ext(n);
    vkEnumerateInstanceExtensionProperties(nullptr, &n, ext.data());
    return ext;
}

Result<std::unique_ptr<Instance>> Instance::create(const InstanceOptions& opts) {
    std::unique_ptr<Instance> inst(new Instance());
    const bool validation = opts.validation || envFlag("MOESCOPE_VALIDATION");
    const bool syncValidation = opts.syncValidation || envFlag("MOESCOPE_SYNC_VALIDATION");

    uint32_t loaderVersion = VK_API_VERSION_1_0;
    vkEnumerateInstanceVersion(&loaderVersion);
    if (loaderVersion < VK_API_VERSION_1_2)
        return makeError("the Vulkan loader supports only " + formatVersion(loaderVersion) + "; moescope needs Vulkan 1.2");

    auto avail = instanceExtensions();
    auto has = [&](const char* n) {
        for (auto& e : avail)
            if (std::strcmp(e.extensionName, n) == 0) return true;
        return false;
    };
    std::vector<const char*> exts = opts.extraExtensions;
    std::vector<const char*> layers;
    VkInstanceCreateFlags flags = 0;
    if (has(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        exts.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
        flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
        inst->portability_ = true;
    }
    if (has(VK_KHR_GET_PHYSICAL_DEVICE_PROPERTIES_2_EXTENSION_NAME))
        exts.push_back(VK_KHR_GET_PHYSICAL_DEVICE_PROPERTIES_2_EXTENSION_NAME);
    if (validation) {
        if (!hasLayer("VK_LAYER_KHRONOS_validation"))
            return makeError("validation was requested but VK_LAYER_KHRONOS_validation is not installed (Debian: vulkan-validationlayers)");
        if (!has(VK_EXT_DEBUG_UTILS_EXTENSION_NAME))
            return makeError("validation was requested but VK_EXT_debug_utils is not available");
        layers.push_back("VK_LAYER_KHRONOS_validation");
        exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    }

    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "moescope";
    app.pEngineName = "moescope";
    app.apiVersion = VK_API_VERSION_1_3 <= loaderVersion ? VK_API_VERSION_1_3 : VK_API_VERSION_1_2;

    VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                      VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    dbg.pfnUserCallback = debugCallback;
    dbg.pUserData = &inst->log_;

    VkValidationFeatureEnableEXT syncEnable = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
    VkValidationFeaturesEXT vfeat{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
    vfeat.enabledValidationFeatureCount = 1;
    vfeat.pEnabledValidationFeatures = &syncEnable;
    if (validation && syncValidation) dbg.pNext = &vfeat;

    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.flags = flags;
    ci.pApplicationInfo = &app;
    ci.enabledLayerCount = uint32_t(layers.size());
    ci.ppEnabledLayerNames = layers.data();
    ci.enabledExtensionCount = uint32_t(exts.size());
    ci.ppEnabledExtensionNames = exts.data();
    if (validation) ci.pNext = &dbg;
    VkResult r = vkCreateInstance(&ci, nullptr, &inst->instance_);
    if (r != VK_SUCCESS) return makeError(vkErrorText("vkCreateInstance", r) + " (is a Vulkan driver installed? Debian: mesa-vulkan-drivers)");

    if (validation) {
        auto fn = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(inst->instance_, "vkCreateDebugUtilsMessengerEXT"));
        dbg.pNext = nullptr;
        if (fn) VK_CHECK(fn(inst->instance_, &dbg, nullptr, &inst->messenger_));
    }

    uint32_t n = 0;
    vkEnumeratePhysicalDevices(inst->instance_, &n, nullptr);
    inst->physical_.resize(n);
    vkEnumeratePhysicalDevices(inst->instance_, &n, inst->physical_.data());
    for (uint32_t i = 0; i < n; ++i) inst->caps_.push_back(probeCaps(inst->physical_[i], i));
    if (n == 0) return makeError("no Vulkan device found (install a driver; Debian: mesa-vulkan-drivers for lavapipe)");
    return inst;
}

Instance::~Instance() {
    if (messenger_) {
        auto fn = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
        if (fn) fn(instance_, messenger_, nullptr);
    }
    if (instance_) vkDestroyInstance(instance_, nullptr);
}

Result<uint32_t> Instance::chooseDevice(int requested) const {
    const uint32_t n = uint32_t(caps_.size());
    if (requested < 0) {
        if (const char* env = std::getenv("MOESCOPE_DEVICE"); env && *env) {
            char* end = nullptr;
            long v = std::strtol(env, &end, 10);
            if (*end != 0 || v < 0) return makeError(std::string("MOESCOPE_DEVICE='") + env + "' is not a device index");
            requested = int(v);
        }
    }
    if (requested >= 0) {
        if (uint32_t(requested) >= n)
            return makeError("device " + std::to_string(requested) + " does not exist (" + std::to_string(n) +
                             " device(s); see 'moescope devices')");
        auto missing = caps_[requested].missingRequirements();
        if (!missing.empty()) return makeError("device " + std::to_string(requested) + " (" + caps_[requested].name + ") lacks " + missing);
        return uint32_t(requested);
    }
    // Prefer a GPU; otherwise the first usable device (lavapipe reports type CPU).
    for (VkPhysicalDeviceType want : {VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU,
                                      VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU, VK_PHYSICAL_DEVICE_TYPE_CPU,
                                      VK_PHYSICAL_DEVICE_TYPE_OTHER})
        for (auto& c : caps_)
            if (c.type == want && c.missingRequirements().empty()) return c.index;
    return makeError("no usable Vulkan device: " + caps_[0].name + " lacks " + caps_[0].missingRequirements());
}

}  // namespace moe::vk
