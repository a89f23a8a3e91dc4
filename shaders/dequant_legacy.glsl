// Decoders of the 32-value block types besides Q8_0 / Q4_0 (included by dequant.glsl, which
// selects them by WTYPE): 3 Q4_1, 6 Q5_0, 7 Q5_1, 20 IQ4_NL, 39 MXFP4.
// extLoad4(row, c, q) is the load4 contract of dequant.glsl (values 4q .. 4q + 3 of chunk c = block
// c); extLoad16(row, c, h, v) (texel views only) the load16 one, reading the block's bytes from the
// two 16-byte texels that hold them (texelPair): every block of these types fits in two texels
// from its start (Q4_1 20 bytes at a 4-aligned offset, Q5_1 24 at an 8-aligned one, IQ4_NL 18 at
// an even one, MXFP4 17 at any), but Q5_0 (22 bytes at an even offset) may need a third.
// The float operations are the CPU reference's (engine/cpu/quant_legacy.cpp) in the same order.
//
// Block layouts (bytes):
//   Q4_1   20: f16 d; f16 m; u8 qs[16]            v[j] = nib * d + m (low nibbles j, high j + 16)
//   Q5_0   22: f16 d; u32 qh; u8 qs[16]           v = (nib | qh bit j << 4) - 16) * d
//   Q5_1   24: f16 d; f16 m; u32 qh; u8 qs[16]    v = (nib | qh bit j << 4) * d + m
//   IQ4_NL 18: f16 d; u8 qs[16]                   v = d * iq4nl_values[nib]
//   MXFP4  17: u8 e; u8 qs[16]                    v = mxfp4_values[nib] * 2^(e - 128)
#ifndef DEQUANT_LEGACY_GLSL
#define DEQUANT_LEGACY_GLSL

#if WTYPE == 3
#define EXT_BLOCK_BYTES 20u
#elif WTYPE == 6
#define EXT_BLOCK_BYTES 22u
#elif WTYPE == 7
#define EXT_BLOCK_BYTES 24u
#elif WTYPE == 20
#define EXT_BLOCK_BYTES 18u
#elif WTYPE == 39
#define EXT_BLOCK_BYTES 17u
#endif
#define EXT_BLOCK_VALUES 32u
#if WTYPE == 20 || WTYPE == 39
#include "iq_tables.glsl"
#endif

// the 4 nibbles (low halves of the bytes) of a word, as integers
ivec4 lowNibbles4(uint w) { return ivec4(w & 15u, (w >> 8) & 15u, (w >> 16) & 15u, (w >> 24) & 15u); }
// the 4 bytes of a word, as integers
ivec4 bytes4i(uint w) { return ivec4(w & 255u, (w >> 8) & 255u, (w >> 16) & 255u, w >> 24); }
// the 4 bits of hb (bit m: byte m) spread to bit 4 of each byte
uint fifthBits4(uint hb) { return ((hb * 0x00204081u) & 0x01010101u) << 4; }
#if WTYPE == 20
#define TABLE iq4nl_values
#elif WTYPE == 39
#define TABLE mxfp4_values
#endif
#if WTYPE == 20 || WTYPE == 39
#include "table4.glsl"
#endif
#if WTYPE == 39
float e8m0Half(uint e) { return uintBitsToFloat(e < 2u ? 0x00200000u << e : (e - 1u) << 23); }
#endif

vec4 extLoad4(uint64_t row, uint c, uint q) {
    uint s;
    WPtr p = wordsAt(row + uint64_t(c) * uint64_t(EXT_BLOCK_BYTES), s);
    const uint sh = q >= 4u ? 4u : 0u;  // high nibbles: values 16 .. 31
#if WTYPE == 3
    const vec2 dm = unpackHalf2x16(word4At(p, s));
    const uint w = word4At(p, s + 4u + 4u * (q & 3u)) >> sh;
    return vec4(lowNibbles4(w)) * dm.x + dm.y;
#elif WTYPE == 6
    const float d = halfAt(p, s);
    const uint qh = word4At(p, s + 2u);
    const uint w = ((word4At(p, s + 6u + 4u * (q & 3u)) >> sh) & 0x0f0f0f0fu) | fifthBits4((qh >> (4u * q)) & 15u);
    return vec4(bytes4i(w) - 16) * d;
#elif WTYPE == 7
    const vec2 dm = unpackHalf2x16(word4At(p, s));
    const uint qh = word4At(p, s + 4u);
    const uint w = ((word4At(p, s + 8u + 4u * (q & 3u)) >> sh) & 0x0f0f0f0fu) | fifthBits4((qh >> (4u * q)) & 15u);
    return vec4(bytes4i(w)) * dm.x + dm.y;
#elif WTYPE == 20
    const float d = halfAt(p, s);
    return d * table4(word4At(p, s + 2u + 4u * (q & 3u)) >> sh);
#elif WTYPE == 39
    const float d = e8m0Half(byteAt(p, s));
    return table4(wordAnyAt(p, s + 1u + 4u * (q & 3u)) >> sh) * d;
#endif
}

#if WTEXEL
#define EXT_LOAD16 1
void extLoad16(uint64_t row, uint c, uint h, out vec4 v[4]) {
    uint s;
    WPtr p = wordsAt(row + uint64_t(c) * uint64_t(EXT_BLOCK_BYTES), s);
    uvec4 t0, t1;
    const uint o = texelPair(p, s, t0, t1);  // the block starts at byte o of t0:t1
    const uint sh = 4u * h;
#if WTYPE == 3
    const vec2 dm = unpackHalf2x16(pair4(t0, t1, o));
    const uvec4 w = pair16(t0, t1, o + 4u) >> sh;
    [[unroll]] for (uint j = 0; j < 4u; ++j) v[j] = vec4(lowNibbles4(w[j])) * dm.x + dm.y;
#elif WTYPE == 6
    const float d = unpackHalf2x16(pair4(t0, t1, o)).x;
    const uint qh = pair4(t0, t1, o + 2u) >> (16u * h);
    // qs at o + 6 <= 20: from t0:t1 when o <= 10, else from t1:t2
    uvec4 w;
    if (o + 6u <= 16u) {
        w = pair16(t0, t1, o + 6u);
    } else {
        const uvec4 t2 = texelFetch(weightTexels, int(((p * 4u + s) >> 4) + 2u));
        w = pair16(t1, t2, o + 6u - 16u);
    }
    w >>= sh;
    [[unroll]] for (uint j = 0; j < 4u; ++j) {
        const uint b = (w[j] & 0x0f0f0f0fu) | fifthBits4((qh >> (4u * j)) & 15u);
        v[j] = vec4(bytes4i(b) - 16) * d;
    }
#elif WTYPE == 7
    const vec2 dm = unpackHalf2x16(pair4(t0, t1, o));
    const uint qh = pair4(t0, t1, o + 4u) >> (16u * h);
    const uvec4 w = pair16(t0, t1, o + 8u) >> sh;
    [[unroll]] for (uint j = 0; j < 4u; ++j) {
        const uint b = (w[j] & 0x0f0f0f0fu) | fifthBits4((qh >> (4u * j)) & 15u);
        v[j] = vec4(bytes4i(b)) * dm.x + dm.y;
    }
#elif WTYPE == 20
    const float d = unpackHalf2x16(pair4(t0, t1, o)).x;
    const uvec4 w = pair16(t0, t1, o + 2u) >> sh;
    [[unroll]] for (uint j = 0; j < 4u; ++j) v[j] = d * table4(w[j]);
#elif WTYPE == 39
    const float d = e8m0Half(pair4(t0, t1, o) & 255u);
    const uvec4 w = pair16(t0, t1, o + 1u) >> sh;
    [[unroll]] for (uint j = 0; j < 4u; ++j) v[j] = table4(w[j]) * d;
#endif
}
#endif

#endif
