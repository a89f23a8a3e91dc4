#version 450
// Elementwise ops over (rows, n) with per-operand row strides; the op is specialization
// constant 1 (ELTWISE_* in push_dense.h), folded at pipeline creation. bStride == 0
// broadcasts one row of b over all rows (mulRows). A grid-stride loop covers any size.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push_dense.h"

layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint OP = ELTWISE_ADD;
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC { EltwisePush p; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };

void main() {
    Floats A = Floats(p.a);
    Floats B = Floats(p.b);
    Floats O = Floats(p.o);
    const uint total = p.rows * p.n;
    const uint stride = gl_NumWorkGroups.x * WG;
    for (uint idx = gl_GlobalInvocationID.x; idx < total; idx += stride) {
        const uint r = idx / p.n, i = idx % p.n;
        const float a = A.v[r * p.aStride + i];
        float y;
        if (OP == ELTWISE_COPY) {
            y = a;
        } else if (OP == ELTWISE_SCALE) {
            y = a * p.s;
        } else {
            const float b = B.v[r * p.bStride + i];
            if (OP == ELTWISE_ADD) y = a + b;
            else if (OP == ELTWISE_MUL) y = a * b;
            else if (OP == ELTWISE_SWIGLU) y = a / (1.0 + exp(-a)) * b;
            else y = a + p.s * b;  // ELTWISE_ADD_SCALED
        }
        O.v[r * p.oStride + i] = y;
    }
}
