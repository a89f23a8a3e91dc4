// Command buffer recording and submission.
#include "vk/commands.h"

#include "vk/check.h"

namespace moe::vk {

Commands::Commands(Device& device, uint32_t timestampCapacity) : dev_(device) {
    cmd_ = dev_.takeCommandBuffer();
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_CHECK(vkCreateFence(dev_.handle(), &fi, nullptr, &fence_));
    if (timestampCapacity && dev_.caps().timestamps) {
        queryCapacity_ = timestampCapacity + 1;
        VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
        qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
        qi.queryCount = queryCapacity_;
        VK_CHECK(vkCreateQueryPool(dev_.handle(), &qi, nullptr, &queries_));
    }
    begin();
}

Commands::~Commands() {
    if (submitted_) vkWaitForFences(dev_.handle(), 1, &fence_, VK_TRUE, UINT64_MAX);
    if (queries_) vkDestroyQueryPool(dev_.handle(), queries_, nullptr);
    vkDestroyFence(dev_.handle(), fence_, nullptr);
    dev_.recycleCommandBuffer(cmd_);
}

void Commands::begin() {
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VK_CHECK(vkBeginCommandBuffer(cmd_, &bi));
    recording_ = true;
    queryCount_ = 0;
    labels_.clear();
    dispatches_ = 0;
    if (queries_) {
        vkCmdResetQueryPool(cmd_, queries_, 0, queryCapacity_);
        vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries_, queryCount_++);
    }
}

void Commands::reset() {
    if (submitted_) {
        vkWaitForFences(dev_.handle(), 1, &fence_, VK_TRUE, UINT64_MAX);
        submitted_ = false;
    }
    if (recording_) VK_CHECK(vkEndCommandBuffer(cmd_));
    VK_CHECK(vkResetFences(dev_.handle(), 1, &fence_));
    VK_CHECK(vkResetCommandBuffer(cmd_, 0));
    begin();
}

void Commands::dispatchRaw(const Pipeline& p, const void* push, uint32_t pushBytes, uint32_t gx, uint32_t gy, uint32_t gz,
                           VkDescriptorSet set, VkDescriptorSet set1) {
    vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.handle());
    const VkDescriptorSet sets[2] = {set, set1};
    if (set) vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout(), 0, set1 ? 2 : 1, sets, 0, nullptr);
    vkCmdPushConstants(cmd_, p.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, pushBytes, push);
    vkCmdDispatch(cmd_, gx, gy, gz);
    ++dispatches_;
    dev_.counts_.dispatches.fetch_add(1, std::memory_order_relaxed);
    if (queries_ && queryCount_ < queryCapacity_) {
        vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, queries_, queryCount_++);
        labels_.push_back(shaderBlob(p.id()).name);
    }
}

void Commands::barrier() {
    dev_.counts_.barriers.fetch_add(1, std::memory_order_relaxed);
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                       VK_ACCESS_TRANSFER_WRITE_BIT;
    vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, nullptr, 0,
                         nullptr);
}

void Commands::hostBarrier() {
    dev_.counts_.barriers.fetch_add(1, std::memory_order_relaxed);
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void Commands::copy(const Buffer& src, VkDeviceSize srcOff, const Buffer& dst, VkDeviceSize dstOff, VkDeviceSize bytes) {
    VkBufferCopy region{src.offset() + srcOff, dst.offset() + dstOff, bytes};
    dev_.counts_.transfers.fetch_add(1, std::memory_order_relaxed);
    vkCmdCopyBuffer(cmd_, src.handle(), dst.handle(), 1, &region);
}

void Commands::fill(const Buffer& dst, VkDeviceSize off, VkDeviceSize bytes, uint32_t value) {
    dev_.counts_.transfers.fetch_add(1, std::memory_order_relaxed);
    vkCmdFillBuffer(cmd_, dst.handle(), dst.offset() + off, bytes, value);
}

Status Commands::submit() {
    if (recording_) {
        VK_CHECK(vkEndCommandBuffer(cmd_));
        recording_ = false;
    }
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd_;
    VkResult r = vkQueueSubmit(dev_.queue(), 1, &si, fence_);
    if (r != VK_SUCCESS) return makeError(vkErrorText("vkQueueSubmit", r));
    dev_.counts_.submits.fetch_add(1, std::memory_order_relaxed);
    submitted_ = true;
    return {};
}

Status Commands::wait(uint64_t timeoutNs) {
    if (!submitted_) return {};
    VkResult r = vkWaitForFences(dev_.handle(), 1, &fence_, VK_TRUE, timeoutNs);
    if (r == VK_TIMEOUT) return makeError("the GPU did not finish within " + std::to_string(timeoutNs / 1000000000ull) + " s");
    if (r != VK_SUCCESS) return makeError(vkErrorText("vkWaitForFences", r) + (r == VK_ERROR_DEVICE_LOST ? " (device lost)" : ""));
    submitted_ = false;
    return {};
}

std::vector<KernelTime> Commands::kernelTimes() {
    std::vector<KernelTime> out;
    if (!queries_ || queryCount_ < 2 || submitted_) return out;
    std::vector<uint64_t> ts(queryCount_);
    VkResult r = vkGetQueryPoolResults(dev_.handle(), queries_, 0, queryCount_, ts.size() * 8, ts.data(), 8,
                                       VK_QUERY_RESULT_64_BIT);
    if (r != VK_SUCCESS) return out;
    const double period = dev_.caps().timestampPeriodNs;
    for (uint32_t i = 1; i < queryCount_; ++i)
        out.push_back({labels_[i - 1], double(ts[i] - ts[i - 1]) * period * 1e-6});
    return out;
}

}  // namespace moe::vk
