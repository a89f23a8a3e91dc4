#version 450
// Second pass of split attention: merges the nSplit partials (m, l, acc[headDimV]) that
// attention.comp wrote to scratch for each (head gx, token gy) into
//   out = Σ_s e^(m_s - M) acc_s / Σ_s e^(m_s - M) l_s,   M = max_s m_s.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push_dense.h"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC { AttentionPush p; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer RFloats { float v[]; };

void main() {
    const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y;
    const uint hd = p.headDimV;
    const uint rec = hd + 2u;  // floats per partial
    const uint base = (t * p.nHead + h) * p.nSplit * rec;
    RFloats S = RFloats(p.scratch);
    float mMax = S.v[base];
    for (uint s = 1u; s < p.nSplit; ++s) mMax = max(mMax, S.v[base + s * rec]);
    float l = 0.0;
    for (uint s = 0u; s < p.nSplit; ++s) l += S.v[base + s * rec + 1u] * exp(S.v[base + s * rec] - mMax);
    const float inv = 1.0 / l;
    Floats O = Floats(p.o);
    const uint oo = (t * p.nHead + h) * hd;
    for (uint d = gl_LocalInvocationID.x; d < hd; d += WG) {
        float a = 0.0;
        for (uint s = 0u; s < p.nSplit; ++s) a += S.v[base + s * rec + 2u + d] * exp(S.v[base + s * rec] - mMax);
        O.v[oo + d] = a * inv;
    }
}
