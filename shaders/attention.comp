#version 450
// Causal grouped-query attention over a KV cache (layouts in push_dense.h, AttentionPush).
// Workgroup = (head gx, token gy, split gz). Keys are scanned in blocks of WG with an online
// softmax (running max m and sum l; the accumulator is rescaled when the max grows), so any
// context length works with O(WG + headDim) shared memory. Thread j scores key blk + j; the
// output dims are spread over threads (d = tid + j*WG) and accumulate p · v across the block.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push_dense.h"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;
layout(push_constant) uniform PC { AttentionPush p; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Floats { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer RFloats { float v[]; };

#include "reduce.glsl"

#define HEAD_DIM_MAX 576  // kAttentionMaxHeadDim: DeepSeek's latent MQA, 512 + 64
#define NEG_BIG -3.0e38  // "minus infinity" that stays finite through exp() and subtraction
const uint NACC = (HEAD_DIM_MAX + WG - 1u) / WG;  // output dims per thread

shared float qs[HEAD_DIM_MAX];
shared float ps[WG];

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, s = gl_WorkGroupID.z;
    const uint hd = p.headDim, hdv = p.headDimV;
    const uint kvHead = h / (p.nHead / p.nHeadKv);
    const uint kvOff = kvHead * hd, vOff = kvHead * hdv;
    const uint nKeys = p.pos0 + t + 1u;  // causal: keys [0, pos0 + t]
    const uint start = s * p.chunk;
    const uint end = p.nSplit == 1u ? nKeys : min(nKeys, start + p.chunk);
    RFloats Q = RFloats(p.q);
    RFloats K = RFloats(p.k);
    RFloats V = RFloats(p.v);

    for (uint d = tid; d < hd; d += WG) qs[d] = Q.v[t * p.qStride + h * hd + d];
    barrier();

    float m = NEG_BIG, l = 0.0;
    float acc[NACC];
    for (uint j = 0; j < NACC; ++j) acc[j] = 0.0;
    for (uint blk = start; blk < end; blk += WG) {
        const uint key = blk + tid;
        float sc = NEG_BIG;
        if (key < end) {
            const uint ko = key * p.kvStride + kvOff;
            float dot = 0.0;
            for (uint d = 0; d < hd; ++d) dot += qs[d] * K.v[ko + d];
            sc = dot * p.kqScale;
        }
        const float mNew = max(m, wgMax(sc));
        const float alpha = exp(m - mNew);
        const float pj = key < end ? exp(sc - mNew) : 0.0;
        ps[tid] = pj;
        l = l * alpha + wgSum(pj);  // wgSum's barrier also publishes ps
        m = mNew;
        const uint cnt = min(WG, end - blk);
        for (uint j = 0; j < NACC; ++j) {
            const uint d = tid + j * WG;
            if (d >= hdv) break;
            float a = acc[j] * alpha;
            uint vo = blk * p.vStride + vOff + d;
            for (uint k = 0; k < cnt; ++k, vo += p.vStride) a += ps[k] * V.v[vo];
            acc[j] = a;
        }
        barrier();  // ps is rewritten by the next block
    }

    if (p.nSplit == 1u) {
        Floats O = Floats(p.o);
        const float inv = 1.0 / l;
        const uint oo = (t * p.nHead + h) * hdv;
        for (uint j = 0; j < NACC; ++j) {
            const uint d = tid + j * WG;
            if (d < hdv) O.v[oo + d] = acc[j] * inv;
        }
    } else {
        // partial for attention_combine.comp: (m, l, acc[headDim]); an empty split leaves l = 0
        Floats S = Floats(p.scratch);
        const uint so = ((t * p.nHead + h) * p.nSplit + s) * (hdv + 2u);
        if (tid == 0u) {
            S.v[so] = m;
            S.v[so + 1u] = l;
        }
        for (uint j = 0; j < NACC; ++j) {
            const uint d = tid + j * WG;
            if (d < hdv) S.v[so + 2u + d] = acc[j];
        }
    }
}
