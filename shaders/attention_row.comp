#version 450
// Causal grouped-query attention with one invocation per query token: the prefill kernel for
// CPU-type devices (see mul_mat_row.comp for why: there a texel fetch is a vector gather, a
// buffer load and a cross-lane reduction are per-lane loops). Workgroup = (head gx, tile gy of
// WG tokens); each invocation keeps its query and its output row in registers and scans its keys
// once with an online softmax, so no value crosses lanes. Keys and values come through texel
// views of the KV cache blocks (set 0: keys, set 1: values; p.k, p.v are byte offsets in them,
// 16-byte aligned, kvStride % 4 == 0), 4 floats per fetch; every lane fetches the same texel.
// HD (the head size, a multiple of 4) is a specialization constant, so the loops over it unroll.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "push_dense.h"

layout(constant_id = 0) const uint WG = 8;
layout(constant_id = 1) const uint HD = 64;
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC { AttentionPush p; };
layout(set = 0, binding = 0) uniform usamplerBuffer kTexels;
layout(set = 1, binding = 0) uniform usamplerBuffer vTexels;
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer RFloats { float v[]; };

#define NEG_BIG -3.0e38  // "minus infinity" that stays finite through exp() and subtraction
const uint H4 = HD / 4u;

void main() {
    const uint h = gl_WorkGroupID.x;
    const uint tile = gl_WorkGroupID.y * WG;
    const uint t = tile + gl_LocalInvocationID.x;
    const uint tLast = min(tile + WG, p.nTok) - 1u;  // last token of the tile
    const bool live = t < p.nTok;
    const uint tt = live ? t : tLast;              // lanes past the end shadow the last token
    const uint kvOff = (h / (p.nHead / p.nHeadKv)) * HD;

    RFloats Q = RFloats(p.q);
    const uint qo = tt * p.qStride + h * HD;
    vec4 q[H4], acc[H4];
    [[unroll]] for (uint i = 0; i < H4; ++i) {
        q[i] = vec4(Q.v[qo + 4u * i], Q.v[qo + 4u * i + 1u], Q.v[qo + 4u * i + 2u], Q.v[qo + 4u * i + 3u]) * p.kqScale;
        acc[i] = vec4(0.0);
    }
    float m = NEG_BIG, l = 0.0;
    const uint last = p.pos0 + tt;  // causal: this token sees keys [0, last]
    const uint kb = uint(p.k >> 4) + kvOff / 4u, vb = uint(p.v >> 4) + kvOff / 4u, ks = p.kvStride / 4u;
    for (uint key = 0; key <= last; ++key) {
        const uint o = key * ks;
        float s = 0.0;
        [[unroll]] for (uint i = 0; i < H4; ++i) s += dot(q[i], uintBitsToFloat(texelFetch(kTexels, int(kb + o + i))));
        const float mNew = max(m, s);
        const float alpha = exp(m - mNew), pj = exp(s - mNew);
        l = l * alpha + pj;
        m = mNew;
        [[unroll]] for (uint i = 0; i < H4; ++i)
            acc[i] = acc[i] * alpha + pj * uintBitsToFloat(texelFetch(vTexels, int(vb + o + i)));
    }
    if (!live) return;
    Floats O = Floats(p.o);
    const uint oo = (t * p.nHead + h) * HD;
    const float inv = 1.0 / l;
    [[unroll]] for (uint i = 0; i < H4; ++i) {
        const vec4 r = acc[i] * inv;
        O.v[oo + 4u * i] = r.x;
        O.v[oo + 4u * i + 1u] = r.y;
        O.v[oo + 4u * i + 2u] = r.z;
        O.v[oo + 4u * i + 3u] = r.w;
    }
}
