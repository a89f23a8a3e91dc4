// Weight decoding for every engine weight type, 32 values at a time ("chunk").
// Weights are raw GGUF bytes read through 32-bit words (works without 8/16-bit storage).
// WTYPE selects the type at compile time (GGUF type ids):
//   0 F32, 1 F16, 30 BF16, 8 Q8_0, 2 Q4_0, 12 Q4_K, 14 Q6_K.
//   IQ grid types (dequant_iq.glsl): 16 IQ2_XXS, 17 IQ2_XS, 18 IQ3_XXS, 19 IQ1_S, 21 IQ3_S,
//   22 IQ2_S, 29 IQ1_M.
//   32-value blocks (dequant_legacy.glsl): 3 Q4_1, 6 Q5_0, 7 Q5_1, 20 IQ4_NL, 39 MXFP4 (17-byte
//   blocks: rows and blocks may start at any byte offset).
//   Super-blocks (dequant_kquant.glsl): 10 Q2_K, 11 Q3_K, 13 Q5_K, 23 IQ4_XS, 34 TQ1_0, 35 TQ2_0.
// load4(row, c, q) returns 4 values of 32-value chunk c of a row starting at byte `row` of the
// weight space; for F32/F16/BF16 values past `cols` read as 0 (rows of any length). load16(row,
// c, h, cols, v) returns the 16 values of half h of chunk c (the texel path's granularity).
// The weight space is where words are read from, the decoders only see WPtr / WORD / bytes16At:
//   WTEXEL 0: device addresses (buffer references), `row` is a device address;
//   WTEXEL 1: an RGBA32UI uniform texel buffer (descriptor set 0, binding 0; the view of the
//             memory block holding the weights), `row` is a byte offset in that view. A fetch
//             costs about as much as one 4-byte load but returns 16 bytes (CPU devices), so
//             bytes16At reads 16 bytes with two fetches.

#ifndef WTEXEL
#define WTEXEL 0
#endif
#if WTEXEL
layout(set = 0, binding = 0) uniform usamplerBuffer weightTexels;
#define WPtr uint                                            // word index in the view
#define WPTR(a) uint((a) >> 2)                               // from a 4-aligned byte offset
// component j (0..3) of v, by selects (no dynamic indexing of a vector)
uint comp4(uvec4 v, uint j) { return j < 2u ? (j == 0u ? v.x : v.y) : (j == 2u ? v.z : v.w); }
uint texelWord(uint i) { return comp4(texelFetch(weightTexels, int(i >> 2)), i & 3u); }
#define WORD(p, i) texelWord((p) + (i))
#else
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer Words { uint w[]; };
#define WPtr Words
#define WPTR(a) Words(a)
#define WORD(p, i) (p).w[i]
#endif

// byte b (0..255) of a row, b relative to a 4-aligned base
// The words around byte address a: the pointer of its 4-aligned base, s = a's offset in it.
WPtr wordsAt(uint64_t a, out uint s) {
    s = uint(a & 3ul);
    return WPTR(a - uint64_t(s));
}
uint byteAt(WPtr p, uint b) { return (WORD(p, b >> 2) >> ((b & 3u) * 8u)) & 0xffu; }
// half at even byte offset b
float halfAt(WPtr p, uint b) { return unpackHalf2x16(WORD(p, b >> 2) >> ((b & 2u) * 8u)).x; }
int sbyte(uint u) { return int(u << 24) >> 24; }
// the 4 bytes starting at an even byte offset b (one load when 4-aligned, two otherwise)
uint word4At(WPtr p, uint b) {
    uint i = b >> 2;
    if ((b & 2u) == 0u) return WORD(p, i);
    return (WORD(p, i) >> 16) | (WORD(p, i + 1u) << 16);
}
// signed byte m (0..3) of a word
int sb4(uint w, uint m) { return int(w << (24u - 8u * m)) >> 24; }
// the 16 bytes starting at an even byte offset b, as 4 words
uvec4 bytes16At(WPtr p, uint b) {
#if WTEXEL
    const uint byteIdx = p * 4u + b;
    const uint k = byteIdx >> 4, wi = (byteIdx >> 2) & 3u;
    const uvec4 t0 = texelFetch(weightTexels, int(k)), t1 = texelFetch(weightTexels, int(k + 1u));
    uvec4 a = wi < 2u ? (wi == 0u ? t0 : uvec4(t0.yzw, t1.x)) : (wi == 2u ? uvec4(t0.zw, t1.xy) : uvec4(t0.w, t1.xyz));
    if ((b & 2u) == 0u) return a;
    return (a >> 16) | (uvec4(a.yzw, comp4(t1, wi)) << 16);
#else
    const uint i = b >> 2;
    uvec4 a = uvec4(WORD(p, i), WORD(p, i + 1u), WORD(p, i + 2u), WORD(p, i + 3u));
    if ((b & 2u) == 0u) return a;
    return (a >> 16) | (uvec4(a.yzw, WORD(p, i + 4u)) << 16);
#endif
}

// the 4 bytes starting at any byte offset b (one load when 4-aligned, two otherwise)
uint wordAnyAt(WPtr p, uint b) {
    const uint i = b >> 2, sh = (b & 3u) * 8u;
    if (sh == 0u) return WORD(p, i);
    return (WORD(p, i) >> sh) | (WORD(p, i + 1u) << (32u - sh));
}
#if WTEXEL
// The two texels holding byte b and the bytes after it; returns b's offset o (0..15) in the
// first, so that bytes b .. b + 31 - o are bytes o .. 31 of t0:t1 (any byte offset).
uint texelPair(WPtr p, uint b, out uvec4 t0, out uvec4 t1) {
    const uint byteIdx = p * 4u + b;
    const int k = int(byteIdx >> 4);
    t0 = texelFetch(weightTexels, k);
    t1 = texelFetch(weightTexels, k + 1);
    return byteIdx & 15u;
}
// word i (0..7) of t0:t1
uint pairWord(uvec4 t0, uvec4 t1, uint i) { return i < 4u ? comp4(t0, i) : comp4(t1, i - 4u); }
// byte o (0..31) of t0:t1
uint pairByte(uvec4 t0, uvec4 t1, uint o) { return (pairWord(t0, t1, o >> 2) >> ((o & 3u) * 8u)) & 255u; }
// the 4 bytes at byte o (0..28) of t0:t1
uint pair4(uvec4 t0, uvec4 t1, uint o) {
    const uint i = o >> 2, sh = (o & 3u) * 8u;
    const uint w = pairWord(t0, t1, i);
    return sh == 0u ? w : (w >> sh) | (pairWord(t0, t1, i + 1u) << (32u - sh));
}
// the 16 bytes at byte o (0..16) of t0:t1
uvec4 pair16(uvec4 t0, uvec4 t1, uint o) {
    const uint i = o >> 2, sh = (o & 3u) * 8u;
    const uvec4 a = i < 2u ? (i == 0u ? t0 : uvec4(t0.yzw, t1.x))
                           : (i == 2u ? uvec4(t0.zw, t1.xy) : (i == 3u ? uvec4(t0.w, t1.xyz) : t1));
    if (sh == 0u) return a;
    return (a >> sh) | (uvec4(a.yzw, comp4(t1, i)) << (32u - sh));
}
// the 16 bytes starting at any byte offset b, with two fetches
uvec4 bytes16Any(WPtr p, uint b) {
    uvec4 t0, t1;
    const uint o = texelPair(p, b, t0, t1);
    return pair16(t0, t1, o);
}
#endif

// the other block types: extLoad4, extLoad16 (EXT_LOAD16), EXT_BLOCK_VALUES, EXT_BLOCK_BYTES
#if WTYPE == 3 || WTYPE == 6 || WTYPE == 7 || WTYPE == 20 || WTYPE == 39
#include "dequant_legacy.glsl"
#elif WTYPE == 10 || WTYPE == 11 || WTYPE == 13 || WTYPE == 23 || WTYPE == 34 || WTYPE == 35
#include "dequant_kquant.glsl"
#endif

// the IQ grid types: iqLoad4, IQ_BLOCK_BYTES (256-value super-blocks)
#if WTYPE == 16 || WTYPE == 17 || WTYPE == 18 || WTYPE == 19 || WTYPE == 21 || WTYPE == 22 || WTYPE == 29
#include "dequant_iq.glsl"
#endif

#if WTYPE == 8 || WTYPE == 2
#define BLOCK_VALUES 32u
#elif WTYPE == 12 || WTYPE == 14
#define BLOCK_VALUES 256u
#elif defined(IQ_BLOCK_BYTES)
#define BLOCK_VALUES 256u
#elif defined(EXT_BLOCK_BYTES)
#define BLOCK_VALUES EXT_BLOCK_VALUES
#else
#define BLOCK_VALUES 1u
#endif

#if WTYPE == 0
#define ROW_BYTES(cols) ((cols) * 4u)
#elif WTYPE == 1 || WTYPE == 30
#define ROW_BYTES(cols) ((cols) * 2u)
#elif WTYPE == 8
#define ROW_BYTES(cols) ((cols) / 32u * 34u)
#elif WTYPE == 2
#define ROW_BYTES(cols) ((cols) / 32u * 18u)
#elif WTYPE == 12
#define ROW_BYTES(cols) ((cols) / 256u * 144u)
#elif WTYPE == 14
#define ROW_BYTES(cols) ((cols) / 256u * 210u)
#elif defined(IQ_BLOCK_BYTES)
#define ROW_BYTES(cols) ((cols) / 256u * IQ_BLOCK_BYTES)
#elif defined(EXT_BLOCK_BYTES)
#define ROW_BYTES(cols) ((cols) / EXT_BLOCK_VALUES * EXT_BLOCK_BYTES)
#endif

// 4 values of two words of F16 / BF16 (WTYPE 1 / 30), of a Q8_0 word (signed bytes), of a Q4_0
// word of nibbles (minus 8)
vec4 halves4(uint w0, uint w1) {
#if WTYPE == 30
    return vec4(uintBitsToFloat(w0 << 16), uintBitsToFloat(w0 & 0xffff0000u), uintBitsToFloat(w1 << 16),
                uintBitsToFloat(w1 & 0xffff0000u));
#else
    return vec4(unpackHalf2x16(w0), unpackHalf2x16(w1));
#endif
}
vec4 sbytes4(uint w) { return vec4(float(sb4(w, 0u)), float(sb4(w, 1u)), float(sb4(w, 2u)), float(sb4(w, 3u))); }
vec4 unibbles4(uint w) { return vec4(float(w & 15u), float((w >> 8) & 15u), float((w >> 16) & 15u), float((w >> 24) & 15u)); }
vec4 nibbles4(uint w) { return unibbles4(w) - 8.0; }

// loadQ16 (the 16 values of load16 as codes and a shared scale and offset) for the types that
// have it; load16 below is derived from it
#include "dequant_affine.glsl"

// load4(row, c, q): values c*32 + 4q .. c*32 + 4q + 3 (q in 0..7) of a row, so that 8
// consecutive invocations read one 32-value chunk from consecutive addresses (coalesced on
// GPUs, contiguous vector loads on CPU devices). For F32/F16/BF16 values past `cols` read as 0.
vec4 load4(uint64_t row, uint c, uint q, uint cols) {
#if WTYPE == 0
    uint base = c * 32u + 4u * q;
    WPtr p = WPTR(row);
    if (base + 4u <= cols)
        return vec4(uintBitsToFloat(WORD(p, base)), uintBitsToFloat(WORD(p, base + 1u)),
                    uintBitsToFloat(WORD(p, base + 2u)), uintBitsToFloat(WORD(p, base + 3u)));
    vec4 v = vec4(0.0);
    for (uint i = 0; i < 4u; ++i)
        if (base + i < cols) v[i] = uintBitsToFloat(WORD(p, base + i));
    return v;
#elif WTYPE == 1 || WTYPE == 30
    uint base = c * 32u + 4u * q;
    uint s;
    WPtr p = wordsAt(row + uint64_t(base) * 2u, s);
    vec4 v = halves4(word4At(p, s), word4At(p, s + 4u));
    if (base + 4u > cols)
        for (uint i = 0; i < 4u; ++i)
            if (base + i >= cols) v[i] = 0.0;
    return v;
#elif WTYPE == 8
    uint s;
    WPtr p = wordsAt(row + uint64_t(c) * 34u, s);
    float d = halfAt(p, s);
    uint w = word4At(p, s + 2u + 4u * q);
    return d * sbytes4(w);
#elif WTYPE == 2
    uint s;
    WPtr p = wordsAt(row + uint64_t(c) * 18u, s);
    float d = halfAt(p, s);
    uint w = word4At(p, s + 2u + 4u * (q & 3u)) >> (q >= 4u ? 4u : 0u);
    return d * nibbles4(w);
#elif WTYPE == 12
    uint s;
    WPtr p = wordsAt(row + uint64_t(c / 8u) * 144u, s);
    uint sb = c % 8u;
    float d = halfAt(p, s);
    float dmin = halfAt(p, s + 2u);
    uint sc, mn;
    if (sb < 4u) {
        sc = byteAt(p, s + 4u + sb) & 63u;
        mn = byteAt(p, s + 4u + sb + 4u) & 63u;
    } else {
        sc = (byteAt(p, s + 4u + sb + 4u) & 15u) | ((byteAt(p, s + 4u + sb - 4u) >> 6) << 4);
        mn = (byteAt(p, s + 4u + sb + 4u) >> 4) | ((byteAt(p, s + 4u + sb) >> 6) << 4);
    }
    uint w = word4At(p, s + 16u + (sb / 2u) * 32u + 4u * q) >> ((sb & 1u) * 4u);
    return d * float(sc) * vec4(float(w & 15u), float((w >> 8) & 15u), float((w >> 16) & 15u), float((w >> 24) & 15u)) -
           dmin * float(mn);
#elif WTYPE == 14
    uint s;
    WPtr p = wordsAt(row + uint64_t(c / 8u) * 210u, s);
    uint cc = c % 8u;
    uint h = cc / 4u, qd = cc % 4u;
    float d = halfAt(p, s + 208u);
    uint wl = word4At(p, s + h * 64u + (qd & 1u) * 32u + 4u * q) >> ((qd >= 2u) ? 4u : 0u);
    uint wh = word4At(p, s + 128u + h * 32u + 4u * q) >> (qd * 2u);
    float sc = d * float(sbyte(byteAt(p, s + 192u + h * 8u + qd * 2u + (q >= 4u ? 1u : 0u))));
    ivec4 qv = ivec4(int((wl & 15u) | ((wh & 3u) << 4)), int(((wl >> 8) & 15u) | (((wh >> 8) & 3u) << 4)),
                     int(((wl >> 16) & 15u) | (((wh >> 16) & 3u) << 4)), int(((wl >> 24) & 15u) | (((wh >> 24) & 3u) << 4)));
    return sc * vec4(qv - 32);
#elif defined(IQ_BLOCK_BYTES)
    return iqLoad4(row, c, q);
#elif defined(EXT_BLOCK_BYTES)
    return extLoad4(row, c, q);
#endif
}

// The 16 values c*32 + 16h .. c*32 + 16h + 15 of a row (h 0..1), as 4 vec4.
void load16(uint64_t row, uint c, uint h, uint cols, out vec4 v[4]) {
    const uint base = c * 32u + 16u * h;
#if WTYPE == 0
    if (base + 16u <= cols) {
        WPtr p = WPTR(row);
        [[unroll]] for (uint j = 0; j < 4u; ++j) v[j] = uintBitsToFloat(bytes16At(p, (base + 4u * j) * 4u));
        return;
    }
#elif WTYPE == 1 || WTYPE == 30
    if (base + 16u <= cols) {
        uint s;
        WPtr p = wordsAt(row + uint64_t(base) * 2u, s);
        uvec4 a = bytes16At(p, s), b = bytes16At(p, s + 16u);
        v[0] = halves4(a.x, a.y);
        v[1] = halves4(a.z, a.w);
        v[2] = halves4(b.x, b.y);
        v[3] = halves4(b.z, b.w);
        return;
    }
#elif defined(LOAD_Q16)
    vec4 q[4];
    vec2 ab;
    loadQ16(row, c, h, q, ab);
    [[unroll]] for (uint j = 0; j < 4u; ++j) v[j] = ab.x * q[j] + ab.y;
    return;
#elif defined(IQ_LOAD16)
    iqLoad16(row, c, h, v);
    return;
#elif defined(EXT_LOAD16)
    extLoad16(row, c, h, v);
    return;
#endif
    // the other types, and the tail of F32/F16/BF16 rows
    [[unroll]] for (uint j = 0; j < 4u; ++j) v[j] = load4(row, c, 4u * h + j, cols);
}
