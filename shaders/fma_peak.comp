#version 450
// Arithmetic peak: CHAINS independent vec4 fused multiply-add chains per invocation (enough to
// hide FMA latency without spilling registers), no memory traffic.
// FLOPs = invocations x iters x CHAINS x 8.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push_roofline.h"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint CHAINS = 8;  // independent vec4 accumulators, 1..8
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC { FmaPeakPush p; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };

void main() {
    const float x = float(gl_GlobalInvocationID.x & 1023u) * 1e-3;
    vec4 a[8];
    [[unroll]] for (uint j = 0; j < 8; ++j) a[j] = vec4(x + float(j), x - float(j), x * 0.5, x + 0.25);
    const vec4 m = vec4(p.mul), c = vec4(p.add);
    for (uint i = 0; i < p.iters; ++i) {
        [[unroll]] for (uint j = 0; j < 8; ++j)
            if (j < CHAINS) a[j] = fma(a[j], m, c);
    }
    vec4 s = vec4(0);
    [[unroll]] for (uint j = 0; j < 8; ++j)
        if (j < CHAINS) s += a[j];
    const float sum = s.x + s.y + s.z + s.w;
    if (sum == p.never) Floats(p.sink).v[0] = sum;
}
