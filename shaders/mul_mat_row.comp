#version 450
// y = x · Wᵀ with one invocation per output row (NR rows each), both operands read through
// texel views: the product kernel for CPU-type devices (lavapipe). There an invocation is one
// lane of a SIMD vector, a texel fetch is a vector gather, while a buffer or device-address load
// is a per-lane scalar loop, and a subgroup reduction is a loop as well. So every invocation
// sums its own rows over all columns (no reduction), the weights come 16 bytes per fetch
// (load16 of dequant.glsl, set 0) and x 4 floats per fetch (set 1, RGBA32UI view of the
// activations' memory block; every lane fetches the same texel).
//   W: (rows, cols) in WTYPE, row-major; MoE modes (nExpert, rows, cols) as in mul_mat.comp
//   x: (nTok, cols) f32, byte offset p.x in the x view, 16-byte aligned, xStride % 4 == 0,
//      cols % 16 == 0 (the host checks; otherwise it records mul_mat.comp)
//   y: (nTok, rows) f32 at device address p.y, row stride yStride
// MODE 0 dense:   workgroup (gx, gy) = rows [gx*WG*NR, +WG*NR) x tokens [gy*NT, +NT)
// MODE 1 direct:  gy = token*k + slot, expert ids[gy] (NT = 1)
// MODE 2 grouped: gy = expert, gz = tile of NT of its tokens (moe_group.comp)
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#define WTEXEL 1
#include "common.glsl"
// before dequant.glsl: the IQ decoders read p.grids
layout(push_constant) uniform PC { MatMulPush p; };
#include "dequant.glsl"

layout(constant_id = 0) const uint WG = 8;   // invocations per workgroup
layout(constant_id = 1) const uint NR = 2;   // rows per invocation
layout(constant_id = 2) const uint NT = 1;   // tokens per workgroup
layout(local_size_x_id = 0) in;

layout(set = 1, binding = 0) uniform usamplerBuffer xTexels;
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer Ints { int v[]; };
#include "mul_mat_work.glsl"

vec4 x4(uint texel) { return uintBitsToFloat(texelFetch(xTexels, int(texel))); }

void main() {
    const uint lane = gl_LocalInvocationID.x;
    const uint rowGroup = gl_WorkGroupID.x * WG * NR + p.rowBase;
    Floats Y = Floats(p.y);

    uint64_t wbase;
    uint nt;
    uint xrow[NT], yrow[NT];
    bool emptySlot;
    if (!mulMatWork(wbase, nt, xrow, yrow, emptySlot)) {
        for (uint r = 0; emptySlot && r < NR; ++r) {  // MODE 1, expert -1: zero output rows
            const uint row = rowGroup + r * WG + lane;
            if (row < p.rows) Y.v[yrow[0] * p.yStride + row] = 0.0;
        }
        return;
    }

    // rows of this invocation: rowGroup + r*WG + lane (consecutive lanes, consecutive rows);
    // a row past the end reads row 0's weights (in range) and is not stored
    uint64_t wrow[NR];
    for (uint r = 0; r < NR; ++r) {
        const uint row = rowGroup + r * WG + lane;
        wrow[r] = wbase + uint64_t(row < p.rows ? row : 0u) * uint64_t(ROW_BYTES(p.cols));
    }
    float acc[NR][NT];
    for (uint r = 0; r < NR; ++r)
        for (uint t = 0; t < NT; ++t) acc[r][t] = 0.0;

    const uint xBase = uint(p.x >> 4);  // texel of x row 0, column 0
    const uint nHalves = p.cols / 16u;
    for (uint hc = 0; hc < nHalves; ++hc) {
        const uint c = hc >> 1, h = hc & 1u;
        vec4 w[NR][4];
#ifdef LOAD_Q16
        // weights = ab.x * codes + ab.y (dequant_affine.glsl): the scales leave the inner product
        vec2 ab[NR];
        for (uint r = 0; r < NR; ++r) loadQ16(wrow[r], c, h, w[r], ab[r]);
#else
        for (uint r = 0; r < NR; ++r) load16(wrow[r], c, h, p.cols, w[r]);
#endif
        for (uint t = 0; t < NT; ++t) {
            if (t >= nt) break;
            const uint xt = xBase + (xrow[t] * p.xStride + hc * 16u) / 4u;
            const vec4 x0 = x4(xt), x1 = x4(xt + 1u), x2 = x4(xt + 2u), x3 = x4(xt + 3u);
#ifdef LOAD_Q16
            const float xs = dot(x0 + x1 + x2 + x3, vec4(1.0));
            for (uint r = 0; r < NR; ++r)
                acc[r][t] += ab[r].x * (dot(w[r][0], x0) + dot(w[r][1], x1) + dot(w[r][2], x2) + dot(w[r][3], x3)) +
                             ab[r].y * xs;
#else
            for (uint r = 0; r < NR; ++r)
                acc[r][t] += dot(w[r][0], x0) + dot(w[r][1], x1) + dot(w[r][2], x2) + dot(w[r][3], x3);
#endif
        }
    }
    for (uint r = 0; r < NR; ++r) {
        const uint row = rowGroup + r * WG + lane;
        if (row >= p.rows) continue;
        for (uint t = 0; t < NT; ++t) {
            if (t >= nt) break;
            const uint yo = yrow[t] * p.yStride + row;
            Y.v[yo] = (p.flags & FLAG_ACCUMULATE) != 0u ? Y.v[yo] + acc[r][t] : acc[r][t];
        }
    }
}
