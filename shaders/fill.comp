#version 450
// Fills a float buffer with a value: the smallest kernel, used to check the pipeline path.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform PC { FillPush p; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i < p.n) Floats(p.dst).v[i] = p.value;
}
