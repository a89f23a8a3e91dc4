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
    for (uint i = 0; i < 32u; ++i) v[i] = (base + i < cols) ? uintBitsToFloat(p.w[base + i]) : 0.0;
#elif WTYPE == 1 || WTYPE == 30
    // F16 / BF16: rows may start at any even byte; read words from the aligned address
    uint64_t start = row + uint64_t(c) * 64u;
    uint64_t aligned = start & ~uint64_t(3);
    uint shift = uint(start - aligned);  // 0 or 2
    Words p = Words(aligned);
    uint base = c * 32u;
    for (uint i = 0; i < 32u; ++i) {
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
    // Q8_0 block: d (f16), 32 x int8
    uint64_t blk = row + uint64_t(c) * 34u;
    uint64_t aligned = blk & ~uint64_t(3);
    uint s = uint(blk - aligned);
    Words p = Words(aligned);
    float d = halfAt(p, s);
    for (uint i = 0; i < 32u; ++i) v[i] = d * float(sbyte(byteAt(p, s + 2u + i)));
#elif WTYPE == 2
    // Q4_0 block: d (f16), 16 bytes of nibbles: low nibbles are values 0..15, high 16..31
    uint64_t blk = row + uint64_t(c) * 18u;
    uint64_t aligned = blk & ~uint64_t(3);
    uint s = uint(blk - aligned);
    Words p = Words(aligned);
    float d = halfAt(p, s);
    for (uint i = 0; i < 16u; ++i) {
        uint q = byteAt(p, s + 2u + i);
        v[i] = d * (float(q & 15u) - 8.0);
        v[i + 16u] = d * (float(q >> 4) - 8.0);
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
    bool high = (sb & 1u) != 0u;
    for (uint i = 0; i < 32u; ++i) {
        uint q = byteAt(p, qoff + i);
        v[i] = dl * float(high ? (q >> 4) : (q & 15u)) - ml;
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
    for (uint i = 0; i < 32u; ++i) {
        uint ql = byteAt(p, qlOff + i);
        uint lo = (qd >= 2u) ? (ql >> 4) : (ql & 15u);
        uint hi = (byteAt(p, qhOff + i) >> (qd * 2u)) & 3u;
        int q = int(lo | (hi << 4)) - 32;
        v[i] = (i < 16u ? sc0 : sc1) * float(q);
    }
#else
#error "unsupported WTYPE"
#endif
}
