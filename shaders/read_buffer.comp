#version 450
// Memory read bandwidth: every element of a large buffer is loaded exactly once, in one of the
// READ_* orders of push_roofline.h (specialization constant 1); the host tries several orders,
// word sizes, workgroup sizes and (READ_TEXEL) a uniform texel buffer instead of buffer device
// addresses, and keeps the fastest. Four loads per iteration keep several in flight.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push_roofline.h"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint ORDER = READ_GRID_STRIDE;
layout(constant_id = 2) const uint WIDE = 0;  // 1: 32-byte elements of 64-bit words (not with READ_TEXEL)
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC { ReadBufferPush p; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Uints { uint v[]; };

#if READ_TEXEL
// RGBA32UI view of the buffer (descriptor set 0, binding 0): 16 bytes per texel fetch
layout(set = 0, binding = 0) uniform usamplerBuffer texels;
#define ELEM uvec4
#define LOAD(i) texelFetch(texels, int(i))
#else
layout(buffer_reference, std430, buffer_reference_align = 16) readonly buffer Vec4s { uvec4 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 32) readonly buffer Wide4s { u64vec4 v[]; };
#define ELEM u64vec4
#define LOAD(i) (WIDE == 1 ? Wide4s(p.src).v[i] : u64vec4(Vec4s(p.src).v[i]))
#endif

void main() {
    const uint n = WIDE == 1 ? p.n16 / 2 : p.n16;  // elements
    uint first, end, step;
    if (ORDER == READ_GRID_STRIDE) {
        first = gl_GlobalInvocationID.x;
        end = n;
        step = gl_NumWorkGroups.x * WG;
    } else if (ORDER == READ_WORKGROUP_BLOCK) {
        first = gl_WorkGroupID.x * p.block + gl_LocalInvocationID.x;
        end = min((gl_WorkGroupID.x + 1) * p.block, n);
        step = WG;
    } else if (ORDER == READ_INVOCATION_BLOCK) {
        first = gl_GlobalInvocationID.x * p.block;
        end = min(first + p.block, n);
        step = 1;
    } else {
        first = gl_WorkGroupID.x * p.block;
        end = min(first + p.block, n);
        step = 1;
    }
    ELEM acc = ELEM(0);
    uint i = first;
    for (; i + 3 * step < end; i += 4 * step) {
        acc ^= LOAD(i);
        acc ^= LOAD(i + step);
        acc ^= LOAD(i + 2 * step);
        acc ^= LOAD(i + 3 * step);
    }
    for (; i < end; i += step) acc ^= LOAD(i);
    const ELEM h = acc ^ acc.yzwx;
    const uint sum = uint(h.x ^ h.z) ^ uint(uint64_t(h.x ^ h.z) >> 32);
    if (sum == p.never) Uints(p.sink).v[0] = sum;
}
