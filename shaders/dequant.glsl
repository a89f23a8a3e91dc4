// Weight decoding for every engine weight type, 32 values at a time ("chunk").
// Weights are raw GGUF bytes read through 32-bit words (works without 8/16-bit storage).
// WTYPE selects the type at compile time (GGUF type ids):
//   0 F32, 1 F16, 30 BF16, 8 Q8_0, 2 Q4_0, 12 Q4_K, 14 Q6_K.
// loadChunk(row, c, cols, v) fills v[0..31] with values c*32 .. c*32+31 of a row starting at
// device address `row`; for F32/F16/BF16 values past `cols` read as 0 (rows of any length).

layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer Words { uint w[]; };

// byte b (0..255) of a row, b relative to a 4-aligned base
uint byteAt(Words p, uint b) { return (p.w[b >> 2] >> ((b & 3u) * 8u)) & 0xffu; }
// half at even byte offset b
float halfAt(Words p, uint b) { return unpackHalf2x16(p.w[b >> 2] >> ((b & 2u) * 8u)).x; }
int sbyte(uint u) { return int(u << 24) >> 24; }
// the 4 bytes starting at an even byte offset b (one load when 4-aligned, two otherwise)
uint word4At(Words p, uint b) {
    uint i = b >> 2;
    if ((b & 2u) == 0u) return p.w[i];
    return (p.w[i] >> 16) | (p.w[i + 1u] << 16);
}
// signed byte m (0..3) of a word
int sb4(uint w, uint m) { return int(w << (24u - 8u * m)) >> 24; }

#if WTYPE == 8 || WTYPE == 2
#define BLOCK_VALUES 32u
#elif WTYPE == 12 || WTYPE == 14
#define BLOCK_VALUES 256u
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
#endif

void loadChunk(uint64_t row, uint c, uint cols, out float v[32]) {
#if WTYPE == 0
    // F32: 4-byte aligned
    Words p = Words(row);
    uint base = c * 32u;
    [[unroll]] for (uint i = 0; i < 32u; ++i) v[i] = (base + i < cols) ? uintBitsToFloat(p.w[base + i]) : 0.0;
#elif WTYPE == 1 || WTYPE == 30
    // F16 / BF16: rows may start at any even byte; read words from the aligned address
    uint64_t start = row + uint64_t(c) * 64u;
    uint64_t aligned = start & ~uint64_t(3);
    uint shift = uint(start - aligned);  // 0 or 2
    Words p = Words(aligned);
    uint base = c * 32u;
    [[unroll]] for (uint i = 0; i < 32u; ++i) {
        uint b = shift + i * 2u;
        uint h = (p.w[b >> 2] >> ((b & 2u) * 8u)) & 0xffffu;
#if WTYPE == 1
        float f = unpackHalf2x16(h).x;
#else
        float f = uintBitsToFloat(h << 16);
#endif
        v[i] = (base + i < cols) ? f : 0.0;
    }
#elif WTYPE == 8
    // Q8_0 block: d (f16), 32 x int8 (read as 8 words)
    uint64_t blk = row + uint64_t(c) * 34u;
    uint64_t aligned = blk & ~uint64_t(3);
    uint s = uint(blk - aligned);
    Words p = Words(aligned);
    float d = halfAt(p, s);
    [[unroll]] for (uint j = 0; j < 8u; ++j) {
        uint w = word4At(p, s + 2u + 4u * j);
        [[unroll]] for (uint m = 0; m < 4u; ++m) v[4u * j + m] = d * float(sb4(w, m));
    }
#elif WTYPE == 2
    // Q4_0 block: d (f16), 16 bytes of nibbles: low nibbles are values 0..15, high 16..31
    uint64_t blk = row + uint64_t(c) * 18u;
    uint64_t aligned = blk & ~uint64_t(3);
    uint s = uint(blk - aligned);
    Words p = Words(aligned);
    float d = halfAt(p, s);
    [[unroll]] for (uint j = 0; j < 4u; ++j) {
        uint w = word4At(p, s + 2u + 4u * j);
        [[unroll]] for (uint m = 0; m < 4u; ++m) {
            uint q = (w >> (8u * m)) & 0xffu;
            v[4u * j + m] = d * (float(q & 15u) - 8.0);
            v[4u * j + m + 16u] = d * (float(q >> 4) - 8.0);
        }
    }
#elif WTYPE == 12
    // Q4_K super-block (256): d, dmin (f16), 12 bytes of 6-bit scales/mins, 128 bytes of nibbles.
    // Chunk c covers sub-block sb = c % 8 of super-block c / 8.
    uint64_t blk = row + uint64_t(c / 8u) * 144u;   // 144 = 4 * 36: always 4-aligned from a 4-aligned row
    uint64_t aligned = blk & ~uint64_t(3);
    uint s = uint(blk - aligned);
    Words p = Words(aligned);
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
    float dl = d * float(sc), ml = dmin * float(mn);
    uint qoff = s + 16u + (sb / 2u) * 32u;
    uint shift = (sb & 1u) * 4u;
    [[unroll]] for (uint j = 0; j < 8u; ++j) {
        uint w = word4At(p, qoff + 4u * j);
        [[unroll]] for (uint m = 0; m < 4u; ++m) v[4u * j + m] = dl * float((w >> (8u * m + shift)) & 15u) - ml;
    }
#elif WTYPE == 14
    // Q6_K super-block (256): ql[128], qh[64], int8 scales[16], d (f16).
    // Chunk c: half h = (c%8)/4 (128 values each), quarter qd = c%4.
    uint64_t blk = row + uint64_t(c / 8u) * 210u;
    uint64_t aligned = blk & ~uint64_t(3);
    uint s = uint(blk - aligned);
    Words p = Words(aligned);
    uint cc = c % 8u;
    uint h = cc / 4u, qd = cc % 4u;
    float d = halfAt(p, s + 208u);
    uint qlOff = s + h * 64u + (qd & 1u) * 32u;
    uint qhOff = s + 128u + h * 32u;
    uint scOff = s + 192u + h * 8u + qd * 2u;
    float sc0 = d * float(sbyte(byteAt(p, scOff)));
    float sc1 = d * float(sbyte(byteAt(p, scOff + 1u)));
    uint loShift = (qd >= 2u) ? 4u : 0u;
    [[unroll]] for (uint j = 0; j < 8u; ++j) {
        uint wl = word4At(p, qlOff + 4u * j);
        uint wh = word4At(p, qhOff + 4u * j);
        [[unroll]] for (uint m = 0; m < 4u; ++m) {
            uint lo = (wl >> (8u * m + loShift)) & 15u;
            uint hi = (wh >> (8u * m + qd * 2u)) & 3u;
            v[4u * j + m] = (j < 4u ? sc0 : sc1) * float(int(lo | (hi << 4)) - 32);
        }
    }
#else
#error "unsupported WTYPE"
#endif
}

// load4(row, c, q): values c*32 + 4q .. c*32 + 4q + 3 (q in 0..7) of a row, so that 8
// consecutive invocations read one 32-value chunk from consecutive addresses (coalesced on
// GPUs, contiguous vector loads on CPU devices). For F32/F16/BF16 values past `cols` read as 0.
vec4 load4(uint64_t row, uint c, uint q, uint cols) {
#if WTYPE == 0
    uint base = c * 32u + 4u * q;
    Words p = Words(row);
    if (base + 4u <= cols)
        return vec4(uintBitsToFloat(p.w[base]), uintBitsToFloat(p.w[base + 1u]), uintBitsToFloat(p.w[base + 2u]),
                    uintBitsToFloat(p.w[base + 3u]));
    vec4 v = vec4(0.0);
    for (uint i = 0; i < 4u; ++i)
        if (base + i < cols) v[i] = uintBitsToFloat(p.w[base + i]);
    return v;
#elif WTYPE == 1 || WTYPE == 30
    uint base = c * 32u + 4u * q;
    uint64_t start = row + uint64_t(base) * 2u;
    uint64_t aligned = start & ~uint64_t(3);
    Words p = Words(aligned);
    uint s = uint(start - aligned);
    uint w0 = word4At(p, s), w1 = word4At(p, s + 4u);
#if WTYPE == 1
    vec4 v = vec4(unpackHalf2x16(w0), unpackHalf2x16(w1));
#else
    vec4 v = vec4(uintBitsToFloat(w0 << 16), uintBitsToFloat(w0 & 0xffff0000u), uintBitsToFloat(w1 << 16),
                  uintBitsToFloat(w1 & 0xffff0000u));
#endif
    if (base + 4u > cols)
        for (uint i = 0; i < 4u; ++i)
            if (base + i >= cols) v[i] = 0.0;
    return v;
#elif WTYPE == 8
    uint64_t blk = row + uint64_t(c) * 34u;
    uint64_t aligned = blk & ~uint64_t(3);
    uint s = uint(blk - aligned);
    Words p = Words(aligned);
    float d = halfAt(p, s);
    uint w = word4At(p, s + 2u + 4u * q);
    return d * vec4(float(sb4(w, 0u)), float(sb4(w, 1u)), float(sb4(w, 2u)), float(sb4(w, 3u)));
#elif WTYPE == 2
    uint64_t blk = row + uint64_t(c) * 18u;
    uint64_t aligned = blk & ~uint64_t(3);
    uint s = uint(blk - aligned);
    Words p = Words(aligned);
    float d = halfAt(p, s);
    uint w = word4At(p, s + 2u + 4u * (q & 3u)) >> (q >= 4u ? 4u : 0u);
    return d * (vec4(float(w & 15u), float((w >> 8) & 15u), float((w >> 16) & 15u), float((w >> 24) & 15u)) - 8.0);
#elif WTYPE == 12
    uint64_t blk = row + uint64_t(c / 8u) * 144u;
    uint64_t aligned = blk & ~uint64_t(3);
    uint s = uint(blk - aligned);
    Words p = Words(aligned);
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
    uint64_t blk = row + uint64_t(c / 8u) * 210u;
    uint64_t aligned = blk & ~uint64_t(3);
    uint s = uint(blk - aligned);
    Words p = Words(aligned);
    uint cc = c % 8u;
    uint h = cc / 4u, qd = cc % 4u;
    float d = halfAt(p, s + 208u);
    uint wl = word4At(p, s + h * 64u + (qd & 1u) * 32u + 4u * q) >> ((qd >= 2u) ? 4u : 0u);
    uint wh = word4At(p, s + 128u + h * 32u + 4u * q) >> (qd * 2u);
    float sc = d * float(sbyte(byteAt(p, s + 192u + h * 8u + qd * 2u + (q >= 4u ? 1u : 0u))));
    ivec4 qv = ivec4(int((wl & 15u) | ((wh & 3u) << 4)), int(((wl >> 8) & 15u) | (((wh >> 8) & 3u) << 4)),
                     int(((wl >> 16) & 15u) | (((wh >> 16) & 3u) << 4)), int(((wl >> 24) & 15u) | (((wh >> 24) & 3u) << 4)));
    return sc * vec4(qv - 32);
#endif
}
