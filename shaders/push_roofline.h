// Push-constant structs of the roofline kernels of `moescope bench` (read_buffer, fma_peak),
// shared by C++ (namespace moe::push) and GLSL (included after common.glsl).
// Keep every struct <= 128 bytes.
#ifndef MOE_PUSH_ROOFLINE_H
#define MOE_PUSH_ROOFLINE_H
#ifndef MOE_GLSL
#include <cstdint>
#define PC_ADDR uint64_t
#define PC_U32 uint32_t
#define PC_F32 float
namespace moe::push {
#endif

// Access orders of read_buffer.comp (specialization constant 1).
#define READ_GRID_STRIDE 0u       // element g + i * (all invocations): neighbours read neighbours (GPU-shaped)
#define READ_WORKGROUP_BLOCK 1u   // workgroup w streams its own contiguous block, invocations interleaved
#define READ_INVOCATION_BLOCK 2u  // invocation g streams its own contiguous block (CPU-shaped)
#define READ_UNIFORM_BLOCK 3u     // workgroup w streams its block, every invocation loading the same element

// read_buffer.comp: reads n16 16-byte elements of src once and folds them into a checksum that
// is written to sink[0] only when it equals `never` (it cannot: the host fills src so
// that it does not), which keeps the loads alive without writing memory.
struct ReadBufferPush {
    PC_ADDR src;     // uvec4 (n16)
    PC_ADDR sink;    // uint (1), normally never written
    PC_U32 n16;      // elements of 16 bytes (up to 64 GiB)
    PC_U32 block;    // elements per block (WORKGROUP_BLOCK: per workgroup; INVOCATION_BLOCK: per invocation)
    PC_U32 never;
    PC_U32 pad0;
};

// fma_peak.comp: each invocation runs `iters` rounds of CHAINS independent vec4 fused
// multiply-adds (8 FLOPs each); the result goes to sink only when it equals `never`.
struct FmaPeakPush {
    PC_ADDR sink;    // float (1), normally never written
    PC_U32 iters;
    PC_F32 mul;
    PC_F32 add;
    PC_F32 never;
};

#ifndef MOE_GLSL
static_assert(sizeof(ReadBufferPush) == 32);
static_assert(sizeof(FmaPeakPush) == 24);
}  // namespace moe::push
#undef PC_ADDR
#undef PC_U32
#undef PC_F32
#endif
#endif
