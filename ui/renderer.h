// The GUI's window and Vulkan renderer: a GLFW window, its own Vulkan instance and graphics
// device (separate from the engine's), a swapchain, and Dear ImGui's GLFW and Vulkan backends.
// A frame can be read back from the swapchain image for screenshots.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "vk/instance.h"

struct GLFWwindow;
struct ImDrawData;

namespace moe::ui {

// A frame read back from the swapchain: tightly packed RGBA8, top row first.
struct Screenshot {
    uint32_t width = 0, height = 0;
    std::vector<uint8_t> rgba;
};

struct RendererOptions {
    int width = 1280, height = 800;
    std::string title = "moescope";
};

class Renderer {
public:
    // Needs glfwInit() done and a current ImGui context; initialises both ImGui backends.
    static Result<std::unique_ptr<Renderer>> create(const RendererOptions& opts);
    ~Renderer();
    Renderer(const Renderer&) = delete;
    Renderer& operator=(const Renderer&) = delete;

    GLFWwindow* window() const { return window_; }
    // Uploads ImGui's font atlas (after fonts are added).
    Status uploadFonts();
    // Starts an ImGui frame (backends first). noMouse: as if the pointer were outside the
    // window (unattended runs: no hover highlight or tooltip in screenshots).
    void newFrame(bool noMouse = false);
    // Renders and presents the frame; with `capture`, also reads the image back into it.
    // A window being resized or minimised skips the frame (capture stays empty).
    Status render(ImDrawData* draw, Screenshot* capture = nullptr);
    std::string deviceName() const { return deviceName_; }
    uint32_t validationMessages() const { return instance_ ? instance_->validationMessageCount() : 0; }

private:
    Renderer() = default;
    Status createDevice();
    Status createSwapchain();
    void destroySwapchain();
    Status readback(uint32_t image, Screenshot& out);
    Status oneShot(const std::function<void(VkCommandBuffer)>& record);

    GLFWwindow* window_ = nullptr;
    std::unique_ptr<vk::Instance> instance_;
    VkSurfaceKHR surface_ = VK_NULL_HANDLE;
    VkPhysicalDevice physical_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    uint32_t queueFamily_ = 0;
    VkQueue queue_ = VK_NULL_HANDLE;
    VkDescriptorPool descriptorPool_ = VK_NULL_HANDLE;
    VkRenderPass renderPass_ = VK_NULL_HANDLE;
    VkSurfaceFormatKHR format_{};
    VkSwapchainKHR swapchain_ = VK_NULL_HANDLE;
    VkExtent2D extent_{};
    uint32_t minImageCount_ = 2;
    bool canCopy_ = false;  // swapchain images allow transfer-src (screenshots)
    std::vector<VkImage> images_;
    std::vector<VkImageView> views_;
    std::vector<VkFramebuffer> framebuffers_;
    std::vector<VkSemaphore> renderDone_;  // per swapchain image: free again once it is re-acquired
    VkSemaphore acquired_ = VK_NULL_HANDLE;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;  // one frame in flight
    VkBuffer readbackBuf_ = VK_NULL_HANDLE;
    VkDeviceMemory readbackMem_ = VK_NULL_HANDLE;
    VkDeviceSize readbackSize_ = 0;
    bool imguiVulkan_ = false, imguiGlfw_ = false;
    bool rebuild_ = false;
    std::string deviceName_;
};

}  // namespace moe::ui
