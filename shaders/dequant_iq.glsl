// Decoders of the IQ grid types (included by dequant.glsl, which selects them by WTYPE):
//   16 IQ2_XXS, 17 IQ2_XS, 18 IQ3_XXS, 19 IQ1_S, 21 IQ3_S, 22 IQ2_S, 29 IQ1_M.
// Each is a 256-value super-block; iqLoad4(row, c, q) returns values 4q .. 4q + 3 of its 32-value
// sub-block c % 8 (the load4 contract of dequant.glsl). Those 4 values are one half of an 8-value
// grid group (IQ2_*, IQ1_*: one two-word grid entry, word q & 1) or one one-word grid entry
// (IQ3_*). The float operations are the CPU reference's (engine/cpu/quant_iq.cpp, ggml's) in the
// same order, with no multiply followed by an add, so that the results are bit-exact (get_rows).
// The grids come from a buffer (IQ_GRID below); the IQ2 sign patterns are computed (iqSigns).
//
// Block layouts (bytes):
//   IQ2_XXS  66: f16 d; u32 pairs (a0, a1)[8] at 2: a0 = 4 grid indices, a1 = 4 x 7 sign bits
//                + 4-bit scale in bits 28..31; db = d * (0.5 + s) * 0.25
//   IQ2_XS   74: f16 d; u16 qs[32] at 2 (9-bit grid index, 7-bit sign index); u8 scales[8] at 66
//                (two 4-bit scales per sub-block, one per 16 values)
//   IQ2_S    82: f16 d; u8 qs[32] at 2 (grid index low bits), u8 signs[32] at 34, u8 qh[8] at 66
//                (2 high bits per group), u8 scales[8] at 74
//   IQ3_XXS  98: f16 d; u8 qs[64] at 2 (grid indices, one per 4 values), u32 scales_and_signs[8]
//                at 66 (4 x 7 sign bits, 4-bit scale in bits 28..31); db = d * (0.5 + s) * 0.5
//   IQ3_S   110: f16 d; u8 qs[64] at 2, u8 qh[8] at 66 (bit 8 of each index), u8 signs[32] at 74,
//                u8 scales[4] at 106 (4 bits per sub-block); db = d * (1 + 2s)
//   IQ1_S    50: f16 d; u8 qs[32] at 2; u16 qh[8] at 34 (3 high index bits per group, 3-bit scale
//                in bits 12..14, delta sign in bit 15); v = d * (2s + 1) * (grid ± 0.125)
//   IQ1_M    56: u8 qs[32] at 0; u8 qh[16] at 32 (3 high index bits and a delta sign bit per
//                group); u16 sc[4] at 48: 3-bit scales (per 16 values), f16 d in the top nibbles
#ifndef DEQUANT_IQ_GLSL
#define DEQUANT_IQ_GLSL
#include "iq_grids.h"

// bytes per 256-value super-block
#if WTYPE == 16
#define IQ_BLOCK_BYTES 66u
#elif WTYPE == 17
#define IQ_BLOCK_BYTES 74u
#elif WTYPE == 18
#define IQ_BLOCK_BYTES 98u
#elif WTYPE == 19
#define IQ_BLOCK_BYTES 50u
#elif WTYPE == 21
#define IQ_BLOCK_BYTES 110u
#elif WTYPE == 22
#define IQ_BLOCK_BYTES 82u
#elif WTYPE == 29
#define IQ_BLOCK_BYTES 56u
#endif

// The grid of this type: IQ_GRID(i) is word i of it, read from the grid buffer (iq_grids.h)
// through the device address IQ_GRID_ADDR, a push constant of the kernel (declared before
// dequant.glsl is included; the decoders name no local `p`). Grids as constant arrays cost
// lavapipe a copy of the whole array per dynamic lookup (Mesa 22.3), and a shared-memory copy
// costs every workgroup a fill and a barrier.
#if WTYPE == 16
#define IQ_GRID_BASE IQ_GRID_IQ2XXS
#elif WTYPE == 17
#define IQ_GRID_BASE IQ_GRID_IQ2XS
#elif WTYPE == 22
#define IQ_GRID_BASE IQ_GRID_IQ2S
#elif WTYPE == 18
#define IQ_GRID_BASE IQ_GRID_IQ3XXS
#elif WTYPE == 21
#define IQ_GRID_BASE IQ_GRID_IQ3S
#else  // IQ1_S, IQ1_M
#define IQ_GRID_BASE IQ_GRID_IQ1S
#endif
#ifndef IQ_GRID_ADDR
#define IQ_GRID_ADDR p.grids
#endif
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer IqGridWords { uint w[]; };
#define IQ_GRID(i) IqGridWords(IQ_GRID_ADDR).w[uint(IQ_GRID_BASE) + (i)]

// The 8 sign bits of a 7-bit IQ2 sign index (kIq2Signs of engine/cpu/iq_tables.h: bit 7 makes the number
// of set bits even), computed rather than looked up (one table less to copy).
uint iqSigns(uint i) { return i | ((bitCount(i) & 1u) << 7); }

// the 16-bit word at an even byte offset b
uint u16At(WPtr wp, uint b) { return (WORD(wp, b >> 2) >> ((b & 2u) * 8u)) & 0xffffu; }
// the 4 unsigned bytes of a word as floats
vec4 ubytes4(uint w) { return vec4(float(w & 255u), float((w >> 8) & 255u), float((w >> 16) & 255u), float(w >> 24)); }
// ±1 for the low 4 bits of s (bit set: negative)
vec4 signs4(uint s) {
    return vec4((s & 1u) != 0u ? -1.0 : 1.0, (s & 2u) != 0u ? -1.0 : 1.0, (s & 4u) != 0u ? -1.0 : 1.0,
                (s & 8u) != 0u ? -1.0 : 1.0);
}

vec4 iqLoad4(uint64_t row, uint c, uint q) {
    const uint ib = c % 8u;    // sub-block of the super-block
    const uint l = q >> 1;     // 8-value group of the sub-block
    const uint hf = q & 1u;    // its half (4 values)
    uint s;
#if WTYPE == 16
    WPtr wp = wordsAt(row + uint64_t(c / 8u) * 66u, s);
    const float d = halfAt(wp, s);
    const uint gi = byteAt(wp, s + 2u + 8u * ib + l);
    const uint a1 = word4At(wp, s + 6u + 8u * ib);
    const float db = d * (0.5 + float(a1 >> 28)) * 0.25;
    const uint sg = iqSigns((a1 >> (7u * l)) & 127u) >> (4u * hf);
    return db * ubytes4(IQ_GRID(2u * gi + hf)) * signs4(sg);
#elif WTYPE == 17
    WPtr wp = wordsAt(row + uint64_t(c / 8u) * 74u, s);
    const float d = halfAt(wp, s);
    const uint qs = u16At(wp, s + 2u + 8u * ib + 2u * l);
    const float db = d * (0.5 + float((byteAt(wp, s + 66u + ib) >> (4u * (l >> 1))) & 15u)) * 0.25;
    const uint sg = iqSigns(qs >> 9) >> (4u * hf);
    return db * ubytes4(IQ_GRID(2u * (qs & 511u) + hf)) * signs4(sg);
#elif WTYPE == 22
    WPtr wp = wordsAt(row + uint64_t(c / 8u) * 82u, s);
    const float d = halfAt(wp, s);
    const uint gi = byteAt(wp, s + 2u + 4u * ib + l) | ((byteAt(wp, s + 66u + ib) << (8u - 2u * l)) & 0x300u);
    const uint sg = byteAt(wp, s + 34u + 4u * ib + l) >> (4u * hf);
    const float db = d * (0.5 + float((byteAt(wp, s + 74u + ib) >> (4u * (l >> 1))) & 15u)) * 0.25;
    return db * ubytes4(IQ_GRID(2u * gi + hf)) * signs4(sg);
#elif WTYPE == 18
    WPtr wp = wordsAt(row + uint64_t(c / 8u) * 98u, s);
    const float d = halfAt(wp, s);
    const uint gi = byteAt(wp, s + 2u + 8u * ib + q);
    const uint aux = word4At(wp, s + 66u + 4u * ib);
    const float db = d * (0.5 + float(aux >> 28)) * 0.5;
    const uint sg = iqSigns((aux >> (7u * l)) & 127u) >> (4u * hf);
    return db * ubytes4(IQ_GRID(gi)) * signs4(sg);
#elif WTYPE == 21
    WPtr wp = wordsAt(row + uint64_t(c / 8u) * 110u, s);
    const float d = halfAt(wp, s);
    const uint gi = byteAt(wp, s + 2u + 8u * ib + q) | ((byteAt(wp, s + 66u + ib) << (8u - q)) & 256u);
    const uint sg = byteAt(wp, s + 74u + 4u * ib + l) >> (4u * hf);
    const float db = d * float(1u + 2u * ((byteAt(wp, s + 106u + ib / 2u) >> (4u * (ib & 1u))) & 15u));
    return db * ubytes4(IQ_GRID(gi)) * signs4(sg);
#elif WTYPE == 19
    WPtr wp = wordsAt(row + uint64_t(c / 8u) * 50u, s);
    const float d = halfAt(wp, s);
    const uint qh = u16At(wp, s + 34u + 2u * ib);
    const float dl = d * float(2u * ((qh >> 12) & 7u) + 1u);
    const float delta = (qh & 0x8000u) != 0u ? -0.125 : 0.125;
    const uint gi = byteAt(wp, s + 2u + 4u * ib + l) | (((qh >> (3u * l)) & 7u) << 8);
    const uint g = IQ_GRID(2u * gi + hf);
    return dl * (vec4(float(sb4(g, 0u)), float(sb4(g, 1u)), float(sb4(g, 2u)), float(sb4(g, 3u))) + delta);
#elif WTYPE == 29
    WPtr wp = wordsAt(row + uint64_t(c / 8u) * 56u, s);
    const uint sc01 = word4At(wp, s + 48u), sc23 = word4At(wp, s + 52u);  // sc[0] | sc[1] << 16, ...
    const uint dbits = ((sc01 >> 12) & 0xfu) | ((sc01 >> 24) & 0xf0u) | ((sc23 >> 4) & 0xf00u) | ((sc23 >> 16) & 0xf000u);
    const float d = unpackHalf2x16(dbits).x;
    const uint sc = ((ib < 4u ? sc01 : sc23) >> (16u * ((ib / 2u) & 1u))) & 0xffffu;  // sc[ib / 2]
    const float dl = d * float(2u * ((sc >> (6u * (ib & 1u) + 3u * (l >> 1))) & 7u) + 1u);
    const uint qh = byteAt(wp, s + 32u + 2u * ib + (l >> 1)) >> (4u * (l & 1u));  // this group's nibble
    const float delta = (qh & 8u) != 0u ? -0.125 : 0.125;
    const uint gi = byteAt(wp, s + 4u * ib + l) | ((qh & 7u) << 8);
    const uint g = IQ_GRID(2u * gi + hf);
    return dl * (vec4(float(sb4(g, 0u)), float(sb4(g, 1u)), float(sb4(g, 2u)), float(sb4(g, 3u))) + delta);
#else
    return vec4(0.0);
#endif
}

// iqLoad16(row, c, h, v): the 16 values 16h .. 16h + 15 of sub-block c % 8 (load16 of
// dequant.glsl): as 4 iqLoad4 with the fields they share (scale, index and sign bytes) read once,
// which matters on the texel path, where every word read is a texel fetch.
#define IQ_LOAD16 1
void iqLoad16(uint64_t row, uint c, uint h, out vec4 v[4]) {
    const uint ib = c % 8u;
    uint s;
#if WTYPE == 16
    WPtr wp = wordsAt(row + uint64_t(c / 8u) * 66u, s);
    const float d = halfAt(wp, s);
    const uint gi2 = u16At(wp, s + 2u + 8u * ib + 2u * h);  // grid indices of groups 2h, 2h + 1
    const uint a1 = word4At(wp, s + 6u + 8u * ib);
    const float db = d * (0.5 + float(a1 >> 28)) * 0.25;
    [[unroll]] for (uint g = 0u; g < 2u; ++g) {
        const uint gi = (gi2 >> (8u * g)) & 255u;
        const uint sg = iqSigns((a1 >> (7u * (2u * h + g))) & 127u);
        v[2u * g] = db * ubytes4(IQ_GRID(2u * gi)) * signs4(sg);
        v[2u * g + 1u] = db * ubytes4(IQ_GRID(2u * gi + 1u)) * signs4(sg >> 4);
    }
#elif WTYPE == 17
    WPtr wp = wordsAt(row + uint64_t(c / 8u) * 74u, s);
    const float d = halfAt(wp, s);
    const uint qs2 = word4At(wp, s + 2u + 8u * ib + 4u * h);  // qs of groups 2h, 2h + 1
    const float db = d * (0.5 + float((byteAt(wp, s + 66u + ib) >> (4u * h)) & 15u)) * 0.25;
    [[unroll]] for (uint g = 0u; g < 2u; ++g) {
        const uint qs = (qs2 >> (16u * g)) & 0xffffu;
        const uint sg = iqSigns(qs >> 9);
        v[2u * g] = db * ubytes4(IQ_GRID(2u * (qs & 511u))) * signs4(sg);
        v[2u * g + 1u] = db * ubytes4(IQ_GRID(2u * (qs & 511u) + 1u)) * signs4(sg >> 4);
    }
#elif WTYPE == 22
    WPtr wp = wordsAt(row + uint64_t(c / 8u) * 82u, s);
    const float d = halfAt(wp, s);
    const uint qs2 = u16At(wp, s + 2u + 4u * ib + 2u * h);
    const uint sg2 = u16At(wp, s + 34u + 4u * ib + 2u * h);
    const uint qh = byteAt(wp, s + 66u + ib);
    const float db = d * (0.5 + float((byteAt(wp, s + 74u + ib) >> (4u * h)) & 15u)) * 0.25;
    [[unroll]] for (uint g = 0u; g < 2u; ++g) {
        const uint l = 2u * h + g;
        const uint gi = ((qs2 >> (8u * g)) & 255u) | ((qh << (8u - 2u * l)) & 0x300u);
        const uint sg = sg2 >> (8u * g);
        v[2u * g] = db * ubytes4(IQ_GRID(2u * gi)) * signs4(sg);
        v[2u * g + 1u] = db * ubytes4(IQ_GRID(2u * gi + 1u)) * signs4(sg >> 4);
    }
#elif WTYPE == 18
    WPtr wp = wordsAt(row + uint64_t(c / 8u) * 98u, s);
    const float d = halfAt(wp, s);
    const uint gi4 = word4At(wp, s + 2u + 8u * ib + 4u * h);  // 4 grid indices
    const uint aux = word4At(wp, s + 66u + 4u * ib);
    const float db = d * (0.5 + float(aux >> 28)) * 0.5;
    [[unroll]] for (uint g = 0u; g < 2u; ++g) {
        const uint sg = iqSigns((aux >> (7u * (2u * h + g))) & 127u);
        v[2u * g] = db * ubytes4(IQ_GRID((gi4 >> (16u * g)) & 255u)) * signs4(sg);
        v[2u * g + 1u] = db * ubytes4(IQ_GRID((gi4 >> (16u * g + 8u)) & 255u)) * signs4(sg >> 4);
    }
#elif WTYPE == 21
    WPtr wp = wordsAt(row + uint64_t(c / 8u) * 110u, s);
    const float d = halfAt(wp, s);
    const uint gi4 = word4At(wp, s + 2u + 8u * ib + 4u * h);
    const uint qh = byteAt(wp, s + 66u + ib) >> (4u * h);  // bit 8 of entries 4h .. 4h + 3
    const uint sg2 = u16At(wp, s + 74u + 4u * ib + 2u * h);
    const float db = d * float(1u + 2u * ((byteAt(wp, s + 106u + ib / 2u) >> (4u * (ib & 1u))) & 15u));
    [[unroll]] for (uint j = 0u; j < 4u; ++j) {
        const uint gi = ((gi4 >> (8u * j)) & 255u) | (((qh >> j) & 1u) << 8);
        v[j] = db * ubytes4(IQ_GRID(gi)) * signs4(sg2 >> (4u * j));
    }
#elif WTYPE == 19
    WPtr wp = wordsAt(row + uint64_t(c / 8u) * 50u, s);
    const float d = halfAt(wp, s);
    const uint qh = u16At(wp, s + 34u + 2u * ib);
    const uint qs2 = u16At(wp, s + 2u + 4u * ib + 2u * h);
    const float dl = d * float(2u * ((qh >> 12) & 7u) + 1u);
    const float delta = (qh & 0x8000u) != 0u ? -0.125 : 0.125;
    [[unroll]] for (uint g = 0u; g < 2u; ++g) {
        const uint gi = ((qs2 >> (8u * g)) & 255u) | (((qh >> (3u * (2u * h + g))) & 7u) << 8);
        [[unroll]] for (uint k = 0u; k < 2u; ++k) {
            const uint w = IQ_GRID(2u * gi + k);
            v[2u * g + k] = dl * (vec4(float(sb4(w, 0u)), float(sb4(w, 1u)), float(sb4(w, 2u)), float(sb4(w, 3u))) + delta);
        }
    }
#elif WTYPE == 29
    WPtr wp = wordsAt(row + uint64_t(c / 8u) * 56u, s);
    const uint sc01 = word4At(wp, s + 48u), sc23 = word4At(wp, s + 52u);
    const uint dbits = ((sc01 >> 12) & 0xfu) | ((sc01 >> 24) & 0xf0u) | ((sc23 >> 4) & 0xf00u) | ((sc23 >> 16) & 0xf000u);
    const float d = unpackHalf2x16(dbits).x;
    const uint sc = ((ib < 4u ? sc01 : sc23) >> (16u * ((ib / 2u) & 1u))) & 0xffffu;
    const float dl = d * float(2u * ((sc >> (6u * (ib & 1u) + 3u * h)) & 7u) + 1u);
    const uint qs2 = u16At(wp, s + 4u * ib + 2u * h);
    const uint qh2 = byteAt(wp, s + 32u + 2u * ib + h);  // nibbles of groups 2h, 2h + 1
    [[unroll]] for (uint g = 0u; g < 2u; ++g) {
        const uint qh = qh2 >> (4u * g);
        const float delta = (qh & 8u) != 0u ? -0.125 : 0.125;
        const uint gi = ((qs2 >> (8u * g)) & 255u) | ((qh & 7u) << 8);
        [[unroll]] for (uint k = 0u; k < 2u; ++k) {
            const uint w = IQ_GRID(2u * gi + k);
            v[2u * g + k] = dl * (vec4(float(sb4(w, 0u)), float(sb4(w, 1u)), float(sb4(w, 2u)), float(sb4(w, 3u))) + delta);
        }
    }
#endif
}

#endif
