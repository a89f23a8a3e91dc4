#version 450
// Softmax of each row, in place, max-subtracted: x (rows, n).
// One workgroup per row (rows beyond the dispatch are strided by gl_NumWorkGroups.x).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push_dense.h"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC { SoftmaxPush p; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };

#include "reduce.glsl"

void main() {
    const uint tid = gl_LocalInvocationID.x;
    Floats X = Floats(p.x);
    for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x) {
        const uint o = row * p.n;
        float mx = -3.402823466e38;  // -FLT_MAX: no inf arithmetic needed
        for (uint i = tid; i < p.n; i += WG) mx = max(mx, X.v[o + i]);
        mx = wgMax(mx);
        float sum = 0.0;
        for (uint i = tid; i < p.n; i += WG) {
            float e = exp(X.v[o + i] - mx);
            X.v[o + i] = e;
            sum += e;
        }
        const float inv = 1.0 / wgSum(sum);
        // each thread rescales exactly the elements it wrote
        for (uint i = tid; i < p.n; i += WG) X.v[o + i] *= inv;
    }
}
