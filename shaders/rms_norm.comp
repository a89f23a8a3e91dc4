#version 450
// RMSNorm: y[t, i] = x[t, i] * (1 / sqrt(mean_i(x[t, :]²) + eps)) * w[i]   (w == 0: no weight).
//   x: (nTok, n) row stride xStride; y: (nTok, n) row stride yStride, may alias x.
// One workgroup per row (rows beyond the dispatch are strided by gl_NumWorkGroups.x).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push_dense.h"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC { RmsNormPush p; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };

#include "reduce.glsl"

void main() {
    const uint tid = gl_LocalInvocationID.x;
    Floats X = Floats(p.x);
    Floats Y = Floats(p.y);
    Floats W = Floats(p.w);
    const bool hasWeight = p.w != 0ul;
    for (uint row = gl_WorkGroupID.x; row < p.nTok; row += gl_NumWorkGroups.x) {
        const uint xo = row * p.xStride;
        const uint yo = row * p.yStride;
        float ss = 0.0;
        for (uint i = tid; i < p.n; i += WG) {
            float v = X.v[xo + i];
            ss += v * v;
        }
        ss = wgSum(ss);
        const float s = 1.0 / sqrt(ss / float(p.n) + p.eps);
        // every thread has read its x values above (wgSum barriers), so in-place is safe
        for (uint i = tid; i < p.n; i += WG) {
            float v = X.v[xo + i] * s;
            Y.v[yo + i] = hasWeight ? v * W.v[i] : v;
        }
    }
}
