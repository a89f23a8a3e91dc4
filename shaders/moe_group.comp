#version 450
// Groups a batch's (token, slot) pairs by expert for the grouped expert product:
// counts[e], offsets[e] (exclusive prefix sum) and entries (token*k + slot), each expert's
// entries in increasing (token, slot) order, matching cpu::groupByExpert. One workgroup.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push_moe.h"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC { MoeGroupPush p; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Ints { int v[]; };

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint n = p.nTok * p.k;
    Ints I = Ints(p.ids);
    Ints G = Ints(p.groups);
    for (uint e = tid; e < p.nExpert; e += WG) {
        int c = 0;
        for (uint i = 0; i < n; ++i) c += I.v[i] == int(e) ? 1 : 0;
        G.v[e] = c;
    }
    memoryBarrierBuffer();
    barrier();
    if (tid == 0u) {
        int off = 0;
        for (uint e = 0; e < p.nExpert; ++e) {
            G.v[p.nExpert + e] = off;
            off += G.v[e];
        }
    }
    memoryBarrierBuffer();
    barrier();
    for (uint e = tid; e < p.nExpert; e += WG) {
        uint o = uint(G.v[p.nExpert + e]);
        for (uint i = 0; i < n; ++i)
            if (I.v[i] == int(e)) G.v[2u * p.nExpert + o++] = int(i);
    }
}
