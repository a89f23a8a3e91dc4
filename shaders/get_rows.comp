#version 450
// Embedding lookup: out[i, :] = dequant(table[ids[i], :]).
//   table: (nRows, cols) in WTYPE; ids: int32 (nIds); out: (nIds, cols) f32.
// Workgroup gx = id index, threads stride over 32-value chunks.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// before dequant.glsl: the IQ decoders read p.grids
layout(push_constant) uniform PC { GetRowsPush p; };
#include "dequant.glsl"

layout(constant_id = 0) const uint WG = 32;
layout(local_size_x_id = 0) in;
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer Ints { int v[]; };

void main() {
    uint i0 = gl_WorkGroupID.x;
    int id = Ints(p.ids).v[i0];
    if (id < 0 || uint(id) >= p.nRows) id = 0;  // ids are validated on the host; never read out of bounds
    uint64_t rowAddr = p.table + uint64_t(id) * uint64_t(ROW_BYTES(p.cols));
    Floats O = Floats(p.dst);
    uint nChunks = (p.cols + 31u) / 32u;
    // invocation i handles the 4 values of quarter-word q = i % 8 of chunk i / 8 (as in mul_mat)
    for (uint i = gl_LocalInvocationID.x; i < nChunks * 8u; i += WG) {
        uint c = i / 8u, q = i % 8u;
        vec4 v = load4(rowAddr, c, q, p.cols);
        uint base = c * 32u + 4u * q;
        for (uint j = 0; j < 4u; ++j)
            if (base + j < p.cols) O.v[i0 * p.cols + base + j] = v[j];
    }
}
