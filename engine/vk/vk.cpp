// Anchor translation unit of the Vulkan module (keeps moescope_gpu non-empty on every build).
namespace moe::vk {}
