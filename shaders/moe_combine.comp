#version 450
// Weighted sum of the experts' outputs per token: dst[t, :] (+)= Σ_j w[t, j] * y[t, j, :].
// Empty slots have weight 0 and zero rows. Optionally adds a (sigmoid-gated) shared expert. gx = element tiles, gy = token.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push_moe.h"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC { MoeCombinePush p; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };

void main() {
    uint i = gl_GlobalInvocationID.x;
    uint t = gl_WorkGroupID.y;
    if (i >= p.n) return;
    Floats Y = Floats(p.y);
    Floats W = Floats(p.weights);
    Floats D = Floats(p.dst);
    float s = 0.0;
    for (uint j = 0; j < p.k; ++j) {
        float w = W.v[t * p.k + j];
        if (w != 0.0) s += w * Y.v[(t * p.k + j) * p.n + i];
    }
    if (p.sharedOut != 0ul) {
        float g = 1.0;
        if (p.sharedGate != 0ul) g = 1.0 / (1.0 + exp(-Floats(p.sharedGate).v[t]));
        s += g * Floats(p.sharedOut).v[t * p.n + i];
    }
    if (p.accumulate != 0u) s += D.v[t * p.n + i];
    D.v[t * p.n + i] = s;
}
