#version 450
// y = x · Wᵀ for weights of any engine type (dequantized here, 32 values at a time).
//   W: (rows, cols) in WTYPE, row-major, rows of ROW_BYTES(cols) bytes
//   x: (nTok, cols) f32, row stride xStride floats;  y: (nTok, rows) f32, row stride yStride
// MODE 0 dense:        workgroup (gx, gy) = rows [gx*NR, +NR) x tokens [gy*NT, +NT)
// MODE 1 moe direct:   workgroup gy = token*k + slot; expert = ids[gy] (-1: zero output row)
// MODE 2 moe grouped:  workgroup gy = expert, gz = tile of that expert's tokens (from moe_group),
//                      so each expert's weights are read once per NT of its tokens
// In the MoE modes W is (nExpert, rows, cols), expert e at byte e*expertStride (or, with the
// expert cache, slots of the cache: expert e at slotTable[e]*expertStride), and
// y is (nTok, k, rows); x rows are tokens, or token*k+slot when FLAG_X_PER_SLOT.
// WTEXEL 1 (modes 0 and 1 with NT = 1): W is read through the texel view of its memory block
// (dequant.glsl), 16 values per invocation (load16), and p.w,
// expertStride are byte offsets in that view; x and y stay device addresses.
// SG_REDUCE 1: the workgroup is exactly one subgroup (fixed subgroup size; chosen from DeviceCaps)
// and dot products are reduced with subgroupAdd, without shared memory or barriers (a barrier
// is costly on CPU-type devices, which run invocations as coroutines).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#if SG_REDUCE
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_basic : require
#endif
#include "common.glsl"
// before dequant.glsl: the IQ decoders read p.grids
layout(push_constant) uniform PC { MatMulPush p; };
#include "dequant.glsl"

layout(constant_id = 0) const uint WG = 32;   // threads per workgroup
layout(constant_id = 1) const uint NR = 1;    // rows per workgroup
layout(constant_id = 2) const uint NT = 1;    // tokens per workgroup (weights reused NT times)
layout(local_size_x_id = 0) in;

layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer Ints { int v[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) readonly buffer Vec4s { vec4 v[]; };
#include "mul_mat_work.glsl"

#if !SG_REDUCE
shared float red[WG];
#endif

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint row0 = gl_WorkGroupID.x * NR + p.rowBase;
    Floats X = Floats(p.x);
    Floats Y = Floats(p.y);

    // which tokens / expert this workgroup serves
    uint64_t wbase;
    uint nt;
    uint xrow[NT], yrow[NT];
    bool emptySlot;
    if (!mulMatWork(wbase, nt, xrow, yrow, emptySlot)) {
        for (uint r = 0; emptySlot && r < NR; ++r)  // MODE 1, expert -1: zero output rows
            if (tid == 0u && row0 + r < p.rows) Y.v[yrow[0] * p.yStride + row0 + r] = 0.0;
        return;
    }

    // 8 consecutive invocations share a 32-value chunk, 4 values each (see load4). The chunk's
    // x values are loaded once per token and reused by the workgroup's NR rows; as one vec4 load
    // when x is 16-byte aligned (every activation buffer of the engine), else as 4 floats.
    const uint nChunks = (p.cols + 31u) / 32u;
    const uint q = tid % 8u;
    const uint cpi = WG / 8u;  // chunks per iteration
    const bool xVec = ((p.x | uint64_t(p.xStride)) & 3ul) == 0ul && (p.x & 15ul) == 0ul;
    Vec4s X4 = Vec4s(p.x);
    uint nr = min(NR, p.rows - min(row0, p.rows));  // uniform across the workgroup
    float acc[NR][NT];
    for (uint r = 0; r < NR; ++r)
        for (uint t = 0; t < NT; ++t) acc[r][t] = 0.0;
#if WTEXEL
    // texel path: each invocation takes 16 consecutive values (half h of a chunk, see load16),
    // so that every texel fetch of 16 bytes is used whole
    for (uint hc = tid; hc < nChunks * 2u; hc += WG) {
        const uint c = hc >> 1, h = hc & 1u;
        const uint base = c * 32u + 16u * h;
        vec4 xv[NT][4];
        for (uint t = 0; t < NT; ++t) {
            if (t >= nt) break;
            uint xo = xrow[t] * p.xStride + base;
            [[unroll]] for (uint j = 0; j < 4u; ++j) {
                if (base + 4u * j + 4u <= p.cols) {
                    uint o = xo + 4u * j;
                    xv[t][j] = xVec ? X4.v[o >> 2] : vec4(X.v[o], X.v[o + 1u], X.v[o + 2u], X.v[o + 3u]);
                } else {
                    xv[t][j] = vec4(0.0);
                    for (uint i = 0; i < 4u; ++i)
                        if (base + 4u * j + i < p.cols) xv[t][j][i] = X.v[xo + 4u * j + i];
                }
            }
        }
        for (uint r = 0; r < NR; ++r) {
            if (r >= nr) break;
            vec4 v[4];
            load16(wbase + uint64_t(row0 + r) * uint64_t(ROW_BYTES(p.cols)), c, h, p.cols, v);
            for (uint t = 0; t < NT; ++t) {
                if (t >= nt) break;
                acc[r][t] += dot(v[0], xv[t][0]) + dot(v[1], xv[t][1]) + dot(v[2], xv[t][2]) + dot(v[3], xv[t][3]);
            }
        }
    }
#else
    for (uint c = tid / 8u; c < nChunks; c += cpi) {
        uint base = c * 32u + 4u * q;
        vec4 xv[NT];
        for (uint t = 0; t < NT; ++t) {
            if (t >= nt) break;
            uint xo = xrow[t] * p.xStride + base;
            if (base + 4u <= p.cols) {
                xv[t] = xVec ? X4.v[xo >> 2] : vec4(X.v[xo], X.v[xo + 1u], X.v[xo + 2u], X.v[xo + 3u]);
            } else {
                xv[t] = vec4(0.0);
                for (uint i = 0; i < 4u; ++i)
                    if (base + i < p.cols) xv[t][i] = X.v[xo + i];
            }
        }
        for (uint r = 0; r < NR; ++r) {
            if (r >= nr) break;
            vec4 v = load4(wbase + uint64_t(row0 + r) * uint64_t(ROW_BYTES(p.cols)), c, q, p.cols);
            for (uint t = 0; t < NT; ++t) {
                if (t >= nt) break;
                acc[r][t] += dot(v, xv[t]);
            }
        }
    }
#endif
    for (uint r = 0; r < NR; ++r) {
        if (r >= nr) break;
        uint row = row0 + r;
        for (uint t = 0; t < NT; ++t) {
            if (t >= nt) break;
#if SG_REDUCE
            float total = subgroupAdd(acc[r][t]);
            if (subgroupElect()) {
                const uint yo = yrow[t] * p.yStride + row;
                Y.v[yo] = (p.flags & FLAG_ACCUMULATE) != 0u ? Y.v[yo] + total : total;
            }
#else
            red[tid] = acc[r][t];
            barrier();
            for (uint s = WG / 2u; s > 0u; s >>= 1) {
                if (tid < s) red[tid] += red[tid + s];
                barrier();
            }
            if (tid == 0u) {
                const uint yo = yrow[t] * p.yStride + row;
                Y.v[yo] = (p.flags & FLAG_ACCUMULATE) != 0u ? Y.v[yo] + red[0] : red[0];
            }
            barrier();
#endif
        }
    }
}
