// GLFW window + Vulkan swapchain + ImGui backends. One frame in flight: the GUI draws little,
// and on CPU devices (lavapipe) more frames in flight would only compete with inference.
#include "ui/renderer.h"

#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <cstring>

#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_vulkan.h>

namespace moe::ui {

namespace {

std::string vkText(const char* call, VkResult r) { return std::string(call) + " failed (VkResult " + std::to_string(int(r)) + ")"; }

#define GUI_VK(call)                                        \
    do {                                                    \
        VkResult gui_vk_r_ = (call);                        \
        if (gui_vk_r_ != VK_SUCCESS) return makeError(vkText(#call, gui_vk_r_)); \
    } while (0)

void checkImGuiVk(VkResult r) {
    if (r < 0) std::fprintf(stderr, "moescope-gui: ImGui Vulkan backend: VkResult %d\n", int(r));
}

std::string glfwErrorText() {
    const char* d = nullptr;
    glfwGetError(&d);
    return d ? d : "unknown GLFW error";
}

bool isBgra(VkFormat f) { return f == VK_FORMAT_B8G8R8A8_UNORM || f == VK_FORMAT_B8G8R8A8_SRGB; }
bool isRgba(VkFormat f) { return f == VK_FORMAT_R8G8B8A8_UNORM || f == VK_FORMAT_R8G8B8A8_SRGB; }

}  // namespace

Result<std::unique_ptr<Renderer>> Renderer::create(const RendererOptions& opts) {
    std::unique_ptr<Renderer> r(new Renderer());
    if (!glfwVulkanSupported()) return makeError("GLFW found no Vulkan loader (Debian: libvulkan1, mesa-vulkan-drivers)");
    glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
    r->window_ = glfwCreateWindow(opts.width, opts.height, opts.title.c_str(), nullptr, nullptr);
    if (!r->window_) return makeError("cannot create a window: " + glfwErrorText());
    uint32_t n = 0;
    const char** exts = glfwGetRequiredInstanceExtensions(&n);
    if (!exts) return makeError("no Vulkan surface support for this window system: " + glfwErrorText());
    vk::InstanceOptions io;
    io.extraExtensions.assign(exts, exts + n);
    MOE_ASSIGN(r->instance_, vk::Instance::create(io));
    GUI_VK(glfwCreateWindowSurface(r->instance_->handle(), r->window_, nullptr, &r->surface_));
    MOE_TRY(r->createDevice());
    MOE_TRY(r->createSwapchain());

    if (!ImGui_ImplGlfw_InitForVulkan(r->window_, true)) return makeError("ImGui GLFW backend failed to initialise");
    r->imguiGlfw_ = true;
    ImGui_ImplVulkan_InitInfo info{};
    info.Instance = r->instance_->handle();
    info.PhysicalDevice = r->physical_;
    info.Device = r->device_;
    info.QueueFamily = r->queueFamily_;
    info.Queue = r->queue_;
    info.DescriptorPool = r->descriptorPool_;
    info.MinImageCount = r->minImageCount_;
    info.ImageCount = uint32_t(r->images_.size());
    info.MSAASamples = VK_SAMPLE_COUNT_1_BIT;
    info.CheckVkResultFn = checkImGuiVk;
    if (!ImGui_ImplVulkan_Init(&info, r->renderPass_)) return makeError("ImGui Vulkan backend failed to initialise");
    r->imguiVulkan_ = true;
    return r;
}

Status Renderer::createDevice() {
    // the graphics device: any that presents to the window and has a swapchain, GPUs first
    int best = -1, bestScore = -1;
    for (uint32_t i = 0; i < instance_->devices().size(); ++i) {
        VkPhysicalDevice pd = instance_->physicalDevice(i);
        uint32_t ne = 0;
        vkEnumerateDeviceExtensionProperties(pd, nullptr, &ne, nullptr);
        std::vector<VkExtensionProperties> exts(ne);
        vkEnumerateDeviceExtensionProperties(pd, nullptr, &ne, exts.data());
        const bool swap = std::any_of(exts.begin(), exts.end(), [](const VkExtensionProperties& e) {
            return std::strcmp(e.extensionName, VK_KHR_SWAPCHAIN_EXTENSION_NAME) == 0;
        });
        if (!swap) continue;
        uint32_t nq = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
        std::vector<VkQueueFamilyProperties> qs(nq);
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qs.data());
        for (uint32_t q = 0; q < nq; ++q) {
            VkBool32 present = VK_FALSE;
            vkGetPhysicalDeviceSurfaceSupportKHR(pd, q, surface_, &present);
            if (!(qs[q].queueFlags & VK_QUEUE_GRAPHICS_BIT) || !present) continue;
            const auto type = instance_->devices()[i].type;
            const int score = type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU     ? 4
                              : type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 3
                              : type == VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU    ? 2
                                                                               : 1;
            if (score > bestScore) {
                best = int(i), bestScore = score;
                physical_ = pd;
                queueFamily_ = q;
            }
            break;
        }
    }
    if (best < 0) return makeError("no Vulkan device can present to the window");
    deviceName_ = instance_->devices()[size_t(best)].name;

    const float prio = 1.0f;
    VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qi.queueFamilyIndex = queueFamily_;
    qi.queueCount = 1;
    qi.pQueuePriorities = &prio;
    const char* ext = VK_KHR_SWAPCHAIN_EXTENSION_NAME;
    VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    di.enabledExtensionCount = 1;
    di.ppEnabledExtensionNames = &ext;
    GUI_VK(vkCreateDevice(physical_, &di, nullptr, &device_));
    vkGetDeviceQueue(device_, queueFamily_, 0, &queue_);

    // surface format: 8-bit UNORM (ImGui's colours are already in display space)
    uint32_t nf = 0;
    vkGetPhysicalDeviceSurfaceFormatsKHR(physical_, surface_, &nf, nullptr);
    std::vector<VkSurfaceFormatKHR> formats(nf);
    vkGetPhysicalDeviceSurfaceFormatsKHR(physical_, surface_, &nf, formats.data());
    if (formats.empty()) return makeError("the window surface reports no formats");
    format_ = formats[0];
    for (VkFormat want : {VK_FORMAT_B8G8R8A8_UNORM, VK_FORMAT_R8G8B8A8_UNORM})
        if (auto it = std::find_if(formats.begin(), formats.end(), [&](auto& f) { return f.format == want; });
            it != formats.end()) {
            format_ = *it;
            break;
        }

    VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 16};
    VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pi.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
    pi.maxSets = 16;
    pi.poolSizeCount = 1;
    pi.pPoolSizes = &ps;
    GUI_VK(vkCreateDescriptorPool(device_, &pi, nullptr, &descriptorPool_));

    VkAttachmentDescription att{};
    att.format = format_.format;
    att.samples = VK_SAMPLE_COUNT_1_BIT;
    att.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
    att.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
    att.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
    att.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
    att.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    att.finalLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
    VkSubpassDescription sub{};
    sub.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
    sub.colorAttachmentCount = 1;
    sub.pColorAttachments = &ref;
    VkSubpassDependency deps[2]{};
    deps[0].srcSubpass = VK_SUBPASS_EXTERNAL;  // wait for the acquire before writing
    deps[0].dstSubpass = 0;
    deps[0].srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    deps[0].dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    deps[0].dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    deps[1].srcSubpass = 0;  // chains with the screenshot copy's barrier
    deps[1].dstSubpass = VK_SUBPASS_EXTERNAL;
    deps[1].srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    deps[1].srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    deps[1].dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    VkRenderPassCreateInfo rp{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
    rp.attachmentCount = 1;
    rp.pAttachments = &att;
    rp.subpassCount = 1;
    rp.pSubpasses = &sub;
    rp.dependencyCount = 2;
    rp.pDependencies = deps;
    GUI_VK(vkCreateRenderPass(device_, &rp, nullptr, &renderPass_));

    VkCommandPoolCreateInfo cp{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    cp.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    cp.queueFamilyIndex = queueFamily_;
    GUI_VK(vkCreateCommandPool(device_, &cp, nullptr, &pool_));
    VkCommandBufferAllocateInfo ca{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ca.commandPool = pool_;
    ca.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ca.commandBufferCount = 1;
    GUI_VK(vkAllocateCommandBuffers(device_, &ca, &cmd_));
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    fi.flags = VK_FENCE_CREATE_SIGNALED_BIT;
    GUI_VK(vkCreateFence(device_, &fi, nullptr, &fence_));
    VkSemaphoreCreateInfo si{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    GUI_VK(vkCreateSemaphore(device_, &si, nullptr, &acquired_));
    return {};
}

Status Renderer::createSwapchain() {
    VkSurfaceCapabilitiesKHR caps{};
    GUI_VK(vkGetPhysicalDeviceSurfaceCapabilitiesKHR(physical_, surface_, &caps));
    int fw = 0, fh = 0;
    glfwGetFramebufferSize(window_, &fw, &fh);
    VkExtent2D ext = caps.currentExtent;
    if (ext.width == UINT32_MAX) {
        ext.width = std::clamp(uint32_t(fw), caps.minImageExtent.width, caps.maxImageExtent.width);
        ext.height = std::clamp(uint32_t(fh), caps.minImageExtent.height, caps.maxImageExtent.height);
    }
    if (ext.width == 0 || ext.height == 0) {  // minimised: try again later
        rebuild_ = true;
        return {};
    }
    vkDeviceWaitIdle(device_);
    const uint32_t oldMin = minImageCount_;
    minImageCount_ = std::max(2u, caps.minImageCount + 1);
    if (caps.maxImageCount) minImageCount_ = std::min(minImageCount_, caps.maxImageCount);
    canCopy_ = (caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_SRC_BIT) != 0;
    VkSwapchainCreateInfoKHR ci{VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR};
    ci.surface = surface_;
    ci.minImageCount = minImageCount_;
    ci.imageFormat = format_.format;
    ci.imageColorSpace = format_.colorSpace;
    ci.imageExtent = ext;
    ci.imageArrayLayers = 1;
    ci.imageUsage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | (canCopy_ ? VK_IMAGE_USAGE_TRANSFER_SRC_BIT : 0);
    ci.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
    ci.preTransform = caps.currentTransform;
    ci.compositeAlpha = VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR;
    for (auto a : {VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR, VK_COMPOSITE_ALPHA_INHERIT_BIT_KHR,
                   VK_COMPOSITE_ALPHA_PRE_MULTIPLIED_BIT_KHR, VK_COMPOSITE_ALPHA_POST_MULTIPLIED_BIT_KHR})
        if (caps.supportedCompositeAlpha & a) {
            ci.compositeAlpha = a;
            break;
        }
    ci.presentMode = VK_PRESENT_MODE_FIFO_KHR;  // always available; paces the GUI to the display
    ci.clipped = VK_TRUE;
    VkSwapchainKHR old = swapchain_;
    ci.oldSwapchain = old;
    VkSwapchainKHR fresh = VK_NULL_HANDLE;
    GUI_VK(vkCreateSwapchainKHR(device_, &ci, nullptr, &fresh));
    destroySwapchain();
    swapchain_ = fresh;
    extent_ = ext;

    uint32_t n = 0;
    vkGetSwapchainImagesKHR(device_, swapchain_, &n, nullptr);
    images_.resize(n);
    vkGetSwapchainImagesKHR(device_, swapchain_, &n, images_.data());
    for (VkImage img : images_) {
        VkImageViewCreateInfo vi{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        vi.image = img;
        vi.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vi.format = format_.format;
        vi.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        VkImageView view = VK_NULL_HANDLE;
        GUI_VK(vkCreateImageView(device_, &vi, nullptr, &view));
        views_.push_back(view);
        VkFramebufferCreateInfo fb{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
        fb.renderPass = renderPass_;
        fb.attachmentCount = 1;
        fb.pAttachments = &view;
        fb.width = ext.width;
        fb.height = ext.height;
        fb.layers = 1;
        VkFramebuffer f = VK_NULL_HANDLE;
        GUI_VK(vkCreateFramebuffer(device_, &fb, nullptr, &f));
        framebuffers_.push_back(f);
        VkSemaphoreCreateInfo si{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
        VkSemaphore s = VK_NULL_HANDLE;
        GUI_VK(vkCreateSemaphore(device_, &si, nullptr, &s));
        renderDone_.push_back(s);
    }
    if (imguiVulkan_ && oldMin != minImageCount_) ImGui_ImplVulkan_SetMinImageCount(minImageCount_);
    return {};
}

// Everything of the current swapchain except the swapchain itself when a new one replaced it.
void Renderer::destroySwapchain() {
    for (auto f : framebuffers_) vkDestroyFramebuffer(device_, f, nullptr);
    for (auto v : views_) vkDestroyImageView(device_, v, nullptr);
    for (auto s : renderDone_) vkDestroySemaphore(device_, s, nullptr);
    framebuffers_.clear();
    views_.clear();
    renderDone_.clear();
    images_.clear();
    if (swapchain_) vkDestroySwapchainKHR(device_, swapchain_, nullptr);
    swapchain_ = VK_NULL_HANDLE;
}

Renderer::~Renderer() {
    if (device_) vkDeviceWaitIdle(device_);
    if (imguiVulkan_) ImGui_ImplVulkan_Shutdown();
    if (imguiGlfw_) ImGui_ImplGlfw_Shutdown();
    if (device_) {
        if (readbackBuf_) vkDestroyBuffer(device_, readbackBuf_, nullptr);
        if (readbackMem_) vkFreeMemory(device_, readbackMem_, nullptr);
        destroySwapchain();
        if (acquired_) vkDestroySemaphore(device_, acquired_, nullptr);
        if (fence_) vkDestroyFence(device_, fence_, nullptr);
        if (pool_) vkDestroyCommandPool(device_, pool_, nullptr);
        if (renderPass_) vkDestroyRenderPass(device_, renderPass_, nullptr);
        if (descriptorPool_) vkDestroyDescriptorPool(device_, descriptorPool_, nullptr);
        vkDestroyDevice(device_, nullptr);
    }
    if (surface_) vkDestroySurfaceKHR(instance_->handle(), surface_, nullptr);
    instance_.reset();
    if (window_) glfwDestroyWindow(window_);
}

Status Renderer::oneShot(const std::function<void(VkCommandBuffer)>& record) {
    GUI_VK(vkWaitForFences(device_, 1, &fence_, VK_TRUE, UINT64_MAX));
    GUI_VK(vkResetFences(device_, 1, &fence_));
    GUI_VK(vkResetCommandBuffer(cmd_, 0));
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    GUI_VK(vkBeginCommandBuffer(cmd_, &bi));
    record(cmd_);
    GUI_VK(vkEndCommandBuffer(cmd_));
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd_;
    GUI_VK(vkQueueSubmit(queue_, 1, &si, fence_));
    GUI_VK(vkWaitForFences(device_, 1, &fence_, VK_TRUE, UINT64_MAX));
    return {};
}

Status Renderer::uploadFonts() {
    bool ok = true;
    MOE_TRY(oneShot([&](VkCommandBuffer c) { ok = ImGui_ImplVulkan_CreateFontsTexture(c); }));
    ImGui_ImplVulkan_DestroyFontUploadObjects();
    if (!ok) return makeError("ImGui could not create the font texture");
    return {};
}

void Renderer::newFrame(bool noMouse) {
    ImGui_ImplVulkan_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    if (noMouse) ImGui::GetIO().MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
    ImGui::NewFrame();
}

Status Renderer::render(ImDrawData* draw, Screenshot* capture) {
    if (rebuild_) {
        rebuild_ = false;
        MOE_TRY(createSwapchain());
        if (rebuild_) return {};  // still minimised
    }
    if (draw->DisplaySize.x <= 0 || draw->DisplaySize.y <= 0) return {};
    GUI_VK(vkWaitForFences(device_, 1, &fence_, VK_TRUE, UINT64_MAX));
    uint32_t idx = 0;
    VkResult r = vkAcquireNextImageKHR(device_, swapchain_, UINT64_MAX, acquired_, VK_NULL_HANDLE, &idx);
    if (r == VK_ERROR_OUT_OF_DATE_KHR) {
        rebuild_ = true;
        return {};
    }
    if (r != VK_SUCCESS && r != VK_SUBOPTIMAL_KHR) return makeError(vkText("vkAcquireNextImageKHR", r));
    const bool copy = capture && canCopy_;
    if (copy) {
        const VkDeviceSize bytes = VkDeviceSize(extent_.width) * extent_.height * 4;
        if (bytes > readbackSize_) {
            if (readbackBuf_) vkDestroyBuffer(device_, readbackBuf_, nullptr);
            if (readbackMem_) vkFreeMemory(device_, readbackMem_, nullptr);
            readbackBuf_ = VK_NULL_HANDLE;
            readbackMem_ = VK_NULL_HANDLE;
            VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
            bi.size = bytes;
            bi.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
            GUI_VK(vkCreateBuffer(device_, &bi, nullptr, &readbackBuf_));
            VkMemoryRequirements req{};
            vkGetBufferMemoryRequirements(device_, readbackBuf_, &req);
            VkPhysicalDeviceMemoryProperties mp{};
            vkGetPhysicalDeviceMemoryProperties(physical_, &mp);
            const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
            int type = -1;
            for (uint32_t i = 0; i < mp.memoryTypeCount && type < 0; ++i)
                if ((req.memoryTypeBits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & want) == want) type = int(i);
            if (type < 0) return makeError("screenshot: no host-visible coherent memory");
            VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
            ai.allocationSize = req.size;
            ai.memoryTypeIndex = uint32_t(type);
            GUI_VK(vkAllocateMemory(device_, &ai, nullptr, &readbackMem_));
            GUI_VK(vkBindBufferMemory(device_, readbackBuf_, readbackMem_, 0));
            readbackSize_ = bytes;
        }
    }
    GUI_VK(vkResetFences(device_, 1, &fence_));
    GUI_VK(vkResetCommandBuffer(cmd_, 0));
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    GUI_VK(vkBeginCommandBuffer(cmd_, &bi));
    VkClearValue clear{};
    clear.color = {{0.09f, 0.09f, 0.11f, 1.0f}};
    VkRenderPassBeginInfo rb{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
    rb.renderPass = renderPass_;
    rb.framebuffer = framebuffers_[idx];
    rb.renderArea.extent = extent_;
    rb.clearValueCount = 1;
    rb.pClearValues = &clear;
    vkCmdBeginRenderPass(cmd_, &rb, VK_SUBPASS_CONTENTS_INLINE);
    ImGui_ImplVulkan_RenderDrawData(draw, cmd_);
    vkCmdEndRenderPass(cmd_);
    if (copy) {
        // present layout -> transfer source, copy into the host buffer, and back for presenting
        VkImageMemoryBarrier ib{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
        ib.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
        ib.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
        ib.oldLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
        ib.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
        ib.srcQueueFamilyIndex = ib.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
        ib.image = images_[idx];
        ib.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0,
                             nullptr, 0, nullptr, 1, &ib);
        VkBufferImageCopy region{};
        region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
        region.imageExtent = {extent_.width, extent_.height, 1};
        vkCmdCopyImageToBuffer(cmd_, images_[idx], VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, readbackBuf_, 1, &region);
        ib.srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
        ib.dstAccessMask = 0;
        ib.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
        ib.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
        VkBufferMemoryBarrier bb{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER};
        bb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        bb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
        bb.srcQueueFamilyIndex = bb.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
        bb.buffer = readbackBuf_;
        bb.size = VK_WHOLE_SIZE;
        vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                             0, 0, nullptr, 1, &bb, 1, &ib);
    }
    GUI_VK(vkEndCommandBuffer(cmd_));
    const VkPipelineStageFlags waitStage = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.waitSemaphoreCount = 1;
    si.pWaitSemaphores = &acquired_;
    si.pWaitDstStageMask = &waitStage;
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd_;
    si.signalSemaphoreCount = 1;
    si.pSignalSemaphores = &renderDone_[idx];
    GUI_VK(vkQueueSubmit(queue_, 1, &si, fence_));
    VkPresentInfoKHR pi{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
    pi.waitSemaphoreCount = 1;
    pi.pWaitSemaphores = &renderDone_[idx];
    pi.swapchainCount = 1;
    pi.pSwapchains = &swapchain_;
    pi.pImageIndices = &idx;
    r = vkQueuePresentKHR(queue_, &pi);
    if (r == VK_ERROR_OUT_OF_DATE_KHR || r == VK_SUBOPTIMAL_KHR) rebuild_ = true;
    else if (r != VK_SUCCESS) return makeError(vkText("vkQueuePresentKHR", r));
    if (copy) MOE_TRY(readback(idx, *capture));
    return {};
}

Status Renderer::readback(uint32_t, Screenshot& out) {
    GUI_VK(vkWaitForFences(device_, 1, &fence_, VK_TRUE, UINT64_MAX));
    const VkFormat f = format_.format;
    if (!isBgra(f) && !isRgba(f)) return makeError("screenshot: swapchain format " + std::to_string(int(f)) + " is not 8-bit RGBA/BGRA");
    void* p = nullptr;
    GUI_VK(vkMapMemory(device_, readbackMem_, 0, VK_WHOLE_SIZE, 0, &p));
    const uint8_t* src = static_cast<const uint8_t*>(p);
    out.width = extent_.width;
    out.height = extent_.height;
    out.rgba.resize(size_t(out.width) * out.height * 4);
    for (size_t i = 0; i < size_t(out.width) * out.height; ++i) {
        const uint8_t* s = src + i * 4;
        uint8_t* d = out.rgba.data() + i * 4;
        d[0] = isBgra(f) ? s[2] : s[0];
        d[1] = s[1];
        d[2] = isBgra(f) ? s[0] : s[2];
        d[3] = 255;  // the window is opaque whatever the alpha channel holds
    }
    vkUnmapMemory(device_, readbackMem_);
    return {};
}

}  // namespace moe::ui
