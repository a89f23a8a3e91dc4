// Decoders of the 256-value super-block types besides Q4_K / Q6_K (included by dequant.glsl, which
// selects them by WTYPE): 10 Q2_K, 11 Q3_K, 13 Q5_K, 23 IQ4_XS, 34 TQ1_0, 35 TQ2_0.
// extLoad4(row, c, q) is the load4 contract of dequant.glsl (values 4q .. 4q + 3 of 32-value chunk
// c, sub-block c % 8 of super-block c / 8); extLoad16(row, c, h, v) (texel views only) the load16
// one, reading each run of bytes it needs from the two texels holding it (texelPair, any offset).
// The float operations are the CPU reference's (engine/cpu/quant_kquant.cpp, quant_ternary.cpp)
// in the same order.
//
// Block layouts (bytes); value i of the super-block, chunk cc = i / 32, l = i % 32:
//   Q2_K   84: u8 scales[16]; u8 qs[64] at 16; f16 d at 80; f16 dmin at 82
//              q = (qs[32 (cc / 4) + l] >> 2 (cc % 4)) & 3, k = i / 16: v = (d * (scales[k] & 15)) * q -
//              (dmin * (scales[k] >> 4))
//   Q3_K  110: u8 hmask[32]; u8 qs[64] at 32; u8 scales[12] at 96; f16 d at 108
//              q as Q2_K minus 4 unless bit cc of hmask[l]; 6-bit scales s[k] (see the CPU
//              reference): v = (d * (s[k] - 32)) * q
//   Q5_K  176: f16 d; f16 dmin; u8 scales[12] at 4 (Q4_K's packing); u8 qh[32] at 16; u8 qs[128]
//              at 48: q = nibble (cc & 1) of qs[32 (cc / 2) + l] + 16 * bit cc of qh[l]
//   IQ4_XS 136: f16 d; u16 scales_h at 2; u8 scales_l[4] at 4; u8 qs[128] at 8 (IQ4_NL codes,
//              16 bytes per sub-block); v = (d * (ls - 32)) * iq4nl_values[code]
//   TQ1_0  54: u8 qs[48]; u8 qh[4] at 48; f16 d at 52: base-3 digits (see the CPU reference)
//   TQ2_0  66: u8 qs[64]; f16 d at 64: q = (qs[32 (cc / 4) + l] >> 2 (cc % 4)) & 3, v = (q - 1) * d
#ifndef DEQUANT_KQUANT_GLSL
#define DEQUANT_KQUANT_GLSL

#if WTYPE == 10
#define EXT_BLOCK_BYTES 84u
#elif WTYPE == 11
#define EXT_BLOCK_BYTES 110u
#elif WTYPE == 13
#define EXT_BLOCK_BYTES 176u
#elif WTYPE == 23
#define EXT_BLOCK_BYTES 136u
#elif WTYPE == 34
#define EXT_BLOCK_BYTES 54u
#elif WTYPE == 35
#define EXT_BLOCK_BYTES 66u
#endif
#define EXT_BLOCK_VALUES 256u
#if WTYPE == 23
#include "iq_tables.glsl"
#endif

// the 2-bit fields at bit 0 of each byte of w, as integers
ivec4 crumbs4(uint w) { return ivec4(w & 3u, (w >> 8) & 3u, (w >> 16) & 3u, (w >> 24) & 3u); }
ivec4 bits4(uint w) { return ivec4(w & 1u, (w >> 8) & 1u, (w >> 16) & 1u, (w >> 24) & 1u); }
ivec4 nibbles4i(uint w) { return ivec4(w & 15u, (w >> 8) & 15u, (w >> 16) & 15u, (w >> 24) & 15u); }
#if WTYPE == 23
#define TABLE iq4nl_values
#include "table4.glsl"
#endif
#if WTYPE == 34
// digit n (0..4) of the base-3 fraction in each byte of w, as integers
ivec4 trits4(uint w, uint n) {
    const uint m = n < 2u ? (n == 0u ? 1u : 3u) : n == 2u ? 9u : n == 3u ? 27u : 81u;
    const uvec4 b = uvec4(w & 255u, (w >> 8) & 255u, (w >> 16) & 255u, w >> 24);
    return ivec4((((b * m) & 255u) * 3u) >> 8);
}
#endif
#if WTYPE == 13
// Q4_K's 6-bit scale and min of sub-block sb from the 12 scale bytes as 3 words
void scaleMinK4(uvec3 w, uint sb, out uint sc, out uint mn) {
    const uint j = sb & 3u;
    const uint b0 = (w.x >> (8u * j)) & 255u, b1 = (w.y >> (8u * j)) & 255u, b2 = (w.z >> (8u * j)) & 255u;
    if (sb < 4u) {
        sc = b0 & 63u;
        mn = b1 & 63u;
    } else {
        sc = (b2 & 15u) | ((b0 >> 6) << 4);
        mn = (b2 >> 4) | ((b1 >> 6) << 4);
    }
}
#endif
#if WTYPE == 11
// Q3_K's 6-bit scale k (0..15), minus 32, from the 12 scale bytes as 3 words
int scaleQ3(uvec3 w, uint k) {
    const uint a = k & 7u, b = 8u + (k & 3u);
    const uint lo = ((a < 4u ? w.x : w.y) >> (8u * (a & 3u) + 4u * (k >> 3))) & 15u;
    const uint hi = (w.z >> (8u * (b & 3u) + 2u * (k >> 2))) & 3u;
    return int(lo | (hi << 4)) - 32;
}
#endif

vec4 extLoad4(uint64_t row, uint c, uint q) {
    uint s;
    WPtr p = wordsAt(row + uint64_t(c / 8u) * uint64_t(EXT_BLOCK_BYTES), s);
    const uint cc = c % 8u;
#if WTYPE == 10
    const uint w = word4At(p, s + 16u + 32u * (cc / 4u) + 4u * q) >> (2u * (cc % 4u));
    const uint sc = byteAt(p, s + 2u * cc + (q >= 4u ? 1u : 0u));
    const vec2 dm = unpackHalf2x16(word4At(p, s + 80u));
    const float dl = dm.x * float(sc & 15u), ml = dm.y * float(sc >> 4);
    return dl * vec4(crumbs4(w)) - ml;
#elif WTYPE == 11
    const uint w = word4At(p, s + 32u + 32u * (cc / 4u) + 4u * q) >> (2u * (cc % 4u));
    const uint hm = word4At(p, s + 4u * q) >> cc;
    const uvec3 sw = uvec3(word4At(p, s + 96u), word4At(p, s + 100u), word4At(p, s + 104u));
    const float dl = halfAt(p, s + 108u) * float(scaleQ3(sw, 2u * cc + (q >= 4u ? 1u : 0u)));
    return dl * vec4(crumbs4(w) - 4 + 4 * bits4(hm));
#elif WTYPE == 13
    const vec2 dm = unpackHalf2x16(word4At(p, s));
    uint sc, mn;
    scaleMinK4(uvec3(word4At(p, s + 4u), word4At(p, s + 8u), word4At(p, s + 12u)), cc, sc, mn);
    const uint ql = word4At(p, s + 48u + 32u * (cc / 2u) + 4u * q) >> (4u * (cc & 1u));
    const uint qh = word4At(p, s + 16u + 4u * q) >> cc;
    return (dm.x * float(sc)) * vec4(nibbles4i(ql) + 16 * bits4(qh)) - dm.y * float(mn);
#elif WTYPE == 23
    const uint w0 = word4At(p, s);  // d, scales_h
    const uint ls = ((byteAt(p, s + 4u + cc / 2u) >> (4u * (cc & 1u))) & 15u) | (((w0 >> (16u + 2u * cc)) & 3u) << 4);
    const float dl = unpackHalf2x16(w0).x * float(int(ls) - 32);
    return dl * table4(word4At(p, s + 8u + 16u * cc + 4u * (q & 3u)) >> (q >= 4u ? 4u : 0u));
#elif WTYPE == 34
    const float d = halfAt(p, s + 52u);
    uint off, n;
    if (cc < 5u) {
        off = 4u * q;
        n = cc;
    } else if (cc < 7u || q < 4u) {
        off = 32u + 4u * (q & 3u);
        n = 2u * (cc - 5u) + (q >= 4u ? 1u : 0u);
    } else {
        off = 48u;
        n = q - 4u;
    }
    return vec4(trits4(word4At(p, s + off), n) - 1) * d;
#elif WTYPE == 35
    const uint w = word4At(p, s + 32u * (cc / 4u) + 4u * q) >> (2u * (cc % 4u));
    return vec4(crumbs4(w) - 1) * halfAt(p, s + 64u);
#endif
}

// (Q5_K and IQ4_XS: load16 from loadQ16, dequant_affine.glsl)
#if WTEXEL && (WTYPE == 10 || WTYPE == 11 || WTYPE == 34 || WTYPE == 35)
#define EXT_LOAD16 1
void extLoad16(uint64_t row, uint c, uint h, out vec4 v[4]) {
    uint s;
    WPtr p = wordsAt(row + uint64_t(c / 8u) * uint64_t(EXT_BLOCK_BYTES), s);
    const uint cc = c % 8u;
    uvec4 t0, t1, u0, u1;
#if WTYPE == 10
    const uvec4 w = bytes16Any(p, s + 16u + 32u * (cc / 4u) + 16u * h) >> (2u * (cc % 4u));
    const uint sc = byteAt(p, s + 2u * cc + h);
    const vec2 dm = unpackHalf2x16(word4At(p, s + 80u));
    const float dl = dm.x * float(sc & 15u), ml = dm.y * float(sc >> 4);
    [[unroll]] for (uint j = 0; j < 4u; ++j) v[j] = dl * vec4(crumbs4(w[j])) - ml;
#elif WTYPE == 11
    const uvec4 w = bytes16Any(p, s + 32u + 32u * (cc / 4u) + 16u * h) >> (2u * (cc % 4u));
    const uvec4 hm = bytes16Any(p, s + 16u * h) >> cc;
    const uint o = texelPair(p, s + 96u, t0, t1);  // scales and d: 14 bytes
    const uvec3 sw = uvec3(pair4(t0, t1, o), pair4(t0, t1, o + 4u), pair4(t0, t1, o + 8u));
    const float d = unpackHalf2x16(pair4(t0, t1, o + 12u)).x;
    const float dl = d * float(scaleQ3(sw, 2u * cc + h));
    [[unroll]] for (uint j = 0; j < 4u; ++j) v[j] = dl * vec4(crumbs4(w[j]) - 4 + 4 * bits4(hm[j]));
#elif WTYPE == 34
    const float d = halfAt(p, s + 52u);
    if (cc == 7u && h == 1u) {  // values 240 .. 255: digit j of qh[0..3]
        const uint w = word4At(p, s + 48u);
        [[unroll]] for (uint j = 0; j < 4u; ++j) v[j] = vec4(trits4(w, j) - 1) * d;
    } else {
        const uvec4 w = bytes16Any(p, s + (cc < 5u ? 16u * h : 32u));
        const uint n = cc < 5u ? cc : 2u * (cc - 5u) + h;
        [[unroll]] for (uint j = 0; j < 4u; ++j) v[j] = vec4(trits4(w[j], n) - 1) * d;
    }
#elif WTYPE == 35
    const uint o = texelPair(p, s + 32u * (cc / 4u) + 16u * h, t0, t1);
    const uvec4 w = pair16(t0, t1, o) >> (2u * (cc % 4u));
    const float d = halfAt(p, s + 64u);
    [[unroll]] for (uint j = 0; j < 4u; ++j) v[j] = vec4(crumbs4(w[j]) - 1) * d;
#endif
}
#endif

#endif
