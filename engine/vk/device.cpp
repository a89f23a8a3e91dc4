// Logical device creation with the features the engine uses, pipelines, simple transfers.
#include "vk/device.h"

#include <cstdlib>
#include <cstring>

#include "vk/check.h"
#include "vk/commands.h"

namespace moe::vk {

Result<std::unique_ptr<Device>> Device::create(Instance& instance, uint32_t index) {
    if (index >= instance.devices().size()) return makeError("device " + std::to_string(index) + " does not exist");
    std::unique_ptr<Device> d(new Device());
    d->instance_ = &instance;
    d->physical_ = instance.physicalDevice(index);
    d->caps_ = instance.devices()[index];
    const DeviceCaps& c = d->caps_;
    if (auto m = c.missingRequirements(); !m.empty())
        return makeError("device " + std::to_string(index) + " (" + c.name + ") lacks " + m);

    float prio = 1.0f;
    VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qi.queueFamilyIndex = c.computeQueueFamily;
    qi.queueCount = 1;
    qi.pQueuePriorities = &prio;

    VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan13Features f13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    f2.pNext = &f11;
    f11.pNext = &f12;
    f2.features.shaderInt64 = VK_TRUE;
    f11.storageBuffer16BitAccess = c.storageBuffer16;
    f12.storageBuffer8BitAccess = c.storageBuffer8;
    f12.shaderFloat16 = c.shaderFloat16;
    f12.shaderInt8 = c.shaderInt8;
    f12.bufferDeviceAddress = VK_TRUE;
    f12.scalarBlockLayout = VK_TRUE;
    f12.hostQueryReset = VK_FALSE;
    if (c.subgroupSizeControl) {
        f12.pNext = &f13;
        f13.subgroupSizeControl = VK_TRUE;
        f13.computeFullSubgroups = VK_TRUE;
    }

    std::vector<const char*> exts;
    if (c.portabilitySubset) exts.push_back("VK_KHR_portability_subset");

    VkDeviceCreateInfo ci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    ci.pNext = &f2;
    ci.queueCreateInfoCount = 1;
    ci.pQueueCreateInfos = &qi;
    ci.enabledExtensionCount = uint32_t(exts.size());
    ci.ppEnabledExtensionNames = exts.data();
    VkResult r = vkCreateDevice(d->physical_, &ci, nullptr, &d->device_);
    if (r != VK_SUCCESS) return makeError(vkErrorText("vkCreateDevice", r) + " on " + c.name);
    vkGetDeviceQueue(d->device_, c.computeQueueFamily, 0, &d->queue_);

    VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pi.queueFamilyIndex = c.computeQueueFamily;
    VK_CHECK(vkCreateCommandPool(d->device_, &pi, nullptr, &d->pool_));

    VkPushConstantRange pcr{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushConstantBytes};
    VkPipelineLayoutCreateInfo li{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    li.pushConstantRangeCount = 1;
    li.pPushConstantRanges = &pcr;
    VK_CHECK(vkCreatePipelineLayout(d->device_, &li, nullptr, &d->layout_));
    const char* mode = std::getenv("MOESCOPE_WEIGHT_READ");
    const bool forceBda = mode && std::strcmp(mode, "bda") == 0;
    const bool forceTexel = mode && std::strcmp(mode, "texel") == 0;
    if (c.texelWeightsCapable() && !forceBda && (forceTexel || c.prefersTexelWeights())) {
        VkDescriptorSetLayoutBinding b{0, VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
        VkDescriptorSetLayoutCreateInfo sl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
        sl.bindingCount = 1;
        sl.pBindings = &b;
        VK_CHECK(vkCreateDescriptorSetLayout(d->device_, &sl, nullptr, &d->texelSetLayout_));
        // set 0: the weights' block, set 1: the activations' block (mul_mat_row.comp)
        const VkDescriptorSetLayout sets[2] = {d->texelSetLayout_, d->texelSetLayout_};
        li.setLayoutCount = 2;
        li.pSetLayouts = sets;
        VK_CHECK(vkCreatePipelineLayout(d->device_, &li, nullptr, &d->texelLayout_));
        d->texelWeights_ = true;
    }
    VkPipelineCacheCreateInfo pcci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    VK_CHECK(vkCreatePipelineCache(d->device_, &pcci, nullptr, &d->cache_));

    d->allocator_ = std::make_unique<Allocator>(d->device_, d->physical_, c, d->texelSetLayout_);
    return d;
}

Device::~Device() {
    if (!device_) return;
    vkDeviceWaitIdle(device_);
    pipelines_.clear();
    tables_.clear();
    allocator_.reset();
    if (cache_) vkDestroyPipelineCache(device_, cache_, nullptr);
    if (layout_) vkDestroyPipelineLayout(device_, layout_, nullptr);
    if (texelLayout_) vkDestroyPipelineLayout(device_, texelLayout_, nullptr);
    if (texelSetLayout_) vkDestroyDescriptorSetLayout(device_, texelSetLayout_, nullptr);
    if (pool_) vkDestroyCommandPool(device_, pool_, nullptr);
    vkDestroyDevice(device_, nullptr);
}

VkCommandBuffer Device::takeCommandBuffer() {
    {
        std::lock_guard<std::mutex> lock(spareMutex_);
        if (!spareCommandBuffers_.empty()) {
            VkCommandBuffer cmd = spareCommandBuffers_.back();
            spareCommandBuffers_.pop_back();
            return cmd;
        }
    }
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VK_CHECK(vkAllocateCommandBuffers(device_, &ai, &cmd));
    return cmd;
}

void Device::recycleCommandBuffer(VkCommandBuffer cmd) {
    // not pending (the caller waited on its fence); reset is valid while recording or executable
    VK_CHECK(vkResetCommandBuffer(cmd, 0));
    std::lock_guard<std::mutex> lock(spareMutex_);
    spareCommandBuffers_.push_back(cmd);
}

Result<const Pipeline*> Device::pipeline(ShaderId id, const SpecConstants& spec, bool texelSet) {
    if (texelSet && !texelLayout_) return makeError("texel weight reads are not enabled on this device");
    auto key = std::make_tuple(static_cast<uint32_t>(id), spec, texelSet);
    if (auto it = pipelines_.find(key); it != pipelines_.end()) return static_cast<const Pipeline*>(it->second.get());
    const ShaderBlob& blob = shaderBlob(id);
    VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mi.codeSize = blob.bytes;
    mi.pCode = blob.words;
    VkShaderModule module;
    VkResult r = vkCreateShaderModule(device_, &mi, nullptr, &module);
    if (r != VK_SUCCESS) return makeError(vkErrorText("vkCreateShaderModule", r) + " for " + blob.name);

    std::vector<VkSpecializationMapEntry> entries(spec.values.size());
    for (uint32_t i = 0; i < entries.size(); ++i) entries[i] = {i, i * 4, 4};
    VkSpecializationInfo si{uint32_t(entries.size()), entries.data(), spec.values.size() * 4, spec.values.data()};

    VkComputePipelineCreateInfo pci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    pci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
    pci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    pci.stage.module = module;
    pci.stage.pName = "main";
    pci.stage.pSpecializationInfo = spec.values.empty() ? nullptr : &si;
    const VkPipelineLayout layout = texelSet ? texelLayout_ : layout_;
    pci.layout = layout;
    VkPipeline p;
    r = vkCreateComputePipelines(device_, cache_, 1, &pci, nullptr, &p);
    vkDestroyShaderModule(device_, module, nullptr);
    if (r != VK_SUCCESS) return makeError(vkErrorText("vkCreateComputePipelines", r) + " for " + blob.name);
    auto& slot = pipelines_[key];
    slot = std::make_unique<Pipeline>(device_, p, id, layout);
    return static_cast<const Pipeline*>(slot.get());
}

Status Device::upload(const Buffer& dst, VkDeviceSize dstOffset, const void* src, VkDeviceSize bytes) {
    if (dstOffset + bytes > dst.size()) return makeError("upload past the end of a buffer");
    if (dst.mapped()) {
        std::memcpy(dst.mapped() + dstOffset, src, bytes);
        return {};
    }
    // Staged in chunks so a multi-GiB tensor does not need a multi-GiB staging buffer.
    const VkDeviceSize chunk = std::min<VkDeviceSize>(bytes, 64ull << 20);
    MOE_ASSIGN(Buffer staging, allocate(chunk, MemoryKind::Upload, MemoryTag::Staging, "upload staging"));
    for (VkDeviceSize done = 0; done < bytes; done += chunk) {
        VkDeviceSize n = std::min(chunk, bytes - done);
        std::memcpy(staging.mapped(), static_cast<const uint8_t*>(src) + done, n);
        Commands cmd(*this);
        cmd.copy(staging, 0, dst, dstOffset + done, n);
        MOE_TRY(cmd.submitAndWait());
    }
    return {};
}

Result<uint64_t> Device::constantTable(uint32_t key, const void* data, size_t bytes) {
    std::lock_guard<std::mutex> lock(tablesMutex_);
    if (auto it = tables_.find(key); it != tables_.end()) return it->second.address();
    MOE_ASSIGN(Buffer b, allocate(bytes, MemoryKind::Device, MemoryTag::Other, "constant table"));
    MOE_TRY(upload(b, 0, data, bytes));
    const uint64_t address = b.address();
    tables_.emplace(key, std::move(b));
    return address;
}

Status Device::download(const Buffer& src, VkDeviceSize srcOffset, void* dst, VkDeviceSize bytes) {
    if (srcOffset + bytes > src.size()) return makeError("download past the end of a buffer");
    if (src.mapped()) {
        std::memcpy(dst, src.mapped() + srcOffset, bytes);
        return {};
    }
    const VkDeviceSize chunk = std::min<VkDeviceSize>(bytes, 64ull << 20);
    MOE_ASSIGN(Buffer staging, allocate(chunk, MemoryKind::Readback, MemoryTag::Staging, "download staging"));
    for (VkDeviceSize done = 0; done < bytes; done += chunk) {
        VkDeviceSize n = std::min(chunk, bytes - done);
        Commands cmd(*this);
        cmd.copy(src, srcOffset + done, staging, 0, n);
        cmd.hostBarrier();
        MOE_TRY(cmd.submitAndWait());
        std::memcpy(static_cast<uint8_t*>(dst) + done, staging.mapped(), n);
    }
    return {};
}

Status Device::waitIdle() {
    VkResult r = vkDeviceWaitIdle(device_);
    if (r != VK_SUCCESS) return makeError(vkErrorText("vkDeviceWaitIdle", r));
    return {};
}

}  // namespace moe::vk
