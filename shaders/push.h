// Push-constant structs shared by C++ and GLSL: the one definition of the host/GPU interface.
// Addresses are device addresses (VK_KHR_buffer_device_address). Keep every struct <= 128 bytes.
#ifndef MOE_PUSH_H
#define MOE_PUSH_H
#ifdef MOE_GLSL
#define ADDR uint64_t
#define U32 uint
#define I32 int
#define F32 float
#else
#include <cstdint>
#define ADDR uint64_t
#define U32 uint32_t
#define I32 int32_t
#define F32 float
namespace moe::push {
#endif

struct FillPush {
    ADDR dst;
    U32 n;
    F32 value;
};

#ifndef MOE_GLSL
static_assert(sizeof(FillPush) == 16);
}  // namespace moe::push
#endif
#endif
