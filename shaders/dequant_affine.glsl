// loadQ16(row, c, h, q, ab): the 16 values of load16(row, c, h) as ab.x * q + ab.y, with q the
// block's integer codes (or table values) as floats and ab constant over the 16. load16 is
// ab.x * q + ab.y of it (dequant.glsl); the row kernel (mul_mat_row.comp) takes a dot product as
// ab.x·Σq·x + ab.y·Σx instead, with Σx shared by all its rows: one conversion and one multiply-
// add per weight instead of a scale, an offset and a multiply-add. Included by dequant.glsl before
// load16; defines LOAD_Q16 for the types it covers: Q8_0 and Q4_0 on both read paths, Q4_K, Q5_K,
// Q6_K and IQ4_XS on the texel path (WTEXEL 1).
// Q4_K and Q5_K super-blocks (144 and 176 bytes) are whole texels: when the host knows that the
// weights start at a 16-byte boundary of the view (WALIGN16, runtime/kernels_matmul.cpp), each
// 16-byte field is one texel fetch instead of two and a shuffle.
#ifndef DEQUANT_AFFINE_GLSL
#define DEQUANT_AFFINE_GLSL

#if WTEXEL
layout(constant_id = 3) const uint WALIGN16 = 0u;  // 1: rows and blocks are 16-byte aligned in the view
// the 16 bytes at byte b of p (even), one fetch when aligned
uvec4 bytes16W(WPtr p, uint b) {
    if (WALIGN16 != 0u) return texelFetch(weightTexels, int((p * 4u + b) >> 4));
    return bytes16Any(p, b);
}
#endif

#if WTYPE == 8 || WTYPE == 2 || (WTEXEL && (WTYPE == 12 || WTYPE == 13 || WTYPE == 14 || WTYPE == 23))
#define LOAD_Q16 1
void loadQ16(uint64_t row, uint c, uint h, out vec4 q[4], out vec2 ab) {
    uint s;
#if WTYPE == 8
    WPtr p = wordsAt(row + uint64_t(c) * 34u, s);
    const uvec4 w = bytes16At(p, s + 2u + 16u * h);
    [[unroll]] for (uint j = 0; j < 4u; ++j) q[j] = sbytes4(w[j]);
    ab = vec2(halfAt(p, s), 0.0);
#elif WTYPE == 2
    WPtr p = wordsAt(row + uint64_t(c) * 18u, s);
    const float d = halfAt(p, s);
    const uvec4 w = bytes16At(p, s + 2u) >> (4u * h);
    [[unroll]] for (uint j = 0; j < 4u; ++j) q[j] = unibbles4(w[j]);
    ab = vec2(d, -8.0 * d);
#elif WTYPE == 12
    WPtr p = wordsAt(row + uint64_t(c / 8u) * 144u, s);
    const uint sb = c % 8u;
    const uvec4 hd = bytes16W(p, s);  // d, dmin, 12 scale bytes
    const vec2 dm = unpackHalf2x16(hd.x);
    const uint j4 = 8u * (sb & 3u);
    const uint b0 = (hd.y >> j4) & 255u, b1 = (hd.z >> j4) & 255u, b2 = (hd.w >> j4) & 255u;
    const uint sc = sb < 4u ? b0 & 63u : (b2 & 15u) | ((b0 >> 6) << 4);
    const uint mn = sb < 4u ? b1 & 63u : (b2 >> 4) | ((b1 >> 6) << 4);
    const uvec4 w = bytes16W(p, s + 16u + (sb / 2u) * 32u + 16u * h) >> ((sb & 1u) * 4u);
    [[unroll]] for (uint j = 0; j < 4u; ++j) q[j] = unibbles4(w[j]);
    ab = vec2(dm.x * float(sc), -dm.y * float(mn));
#elif WTYPE == 13
    WPtr p = wordsAt(row + uint64_t(c / 8u) * 176u, s);
    const uint cc = c % 8u;
    const uvec4 hd = bytes16W(p, s);  // d, dmin, scales
    uint sc, mn;
    scaleMinK4(hd.yzw, cc, sc, mn);
    const vec2 dm = unpackHalf2x16(hd.x);
    const uvec4 ql = bytes16W(p, s + 48u + 32u * (cc / 2u) + 16u * h) >> (4u * (cc & 1u));
    const uvec4 qh = bytes16W(p, s + 16u + 16u * h) >> cc;
    [[unroll]] for (uint j = 0; j < 4u; ++j) q[j] = vec4(nibbles4i(ql[j]) + 16 * bits4(qh[j]));
    ab = vec2(dm.x * float(sc), -dm.y * float(mn));
#elif WTYPE == 14
    WPtr p = wordsAt(row + uint64_t(c / 8u) * 210u, s);
    const uint cc = c % 8u;
    const uint hh = cc / 4u, qd = cc % 4u;
    const uvec4 wl = bytes16Any(p, s + hh * 64u + (qd & 1u) * 32u + 16u * h) >> ((qd >= 2u) ? 4u : 0u);
    const uvec4 wh = bytes16Any(p, s + 128u + hh * 32u + 16u * h) >> (qd * 2u);
    uvec4 t0, t1;
    const uint o = texelPair(p, s + 192u, t0, t1);
    const float d = unpackHalf2x16(pairWord(t0, t1, (o + 16u) >> 2) >> (((o + 16u) & 2u) * 8u)).x;
    const float sc = d * float(sbyte(pairByte(t0, t1, o + hh * 8u + qd * 2u + h)));
    [[unroll]] for (uint j = 0; j < 4u; ++j) {
        const uvec4 l = uvec4(wl[j]) >> uvec4(0u, 8u, 16u, 24u), u = uvec4(wh[j]) >> uvec4(0u, 8u, 16u, 24u);
        q[j] = vec4((l & 15u) | ((u & 3u) << 4));
    }
    ab = vec2(sc, -32.0 * sc);
#elif WTYPE == 23
    WPtr p = wordsAt(row + uint64_t(c / 8u) * 136u, s);
    const uint cc = c % 8u;
    uvec4 t0, t1;
    const uint o = texelPair(p, s, t0, t1);  // d, scales_h, scales_l
    const uint w0 = pair4(t0, t1, o), sl = pair4(t0, t1, o + 4u);
    const uint ls = ((sl >> (8u * (cc / 2u) + 4u * (cc & 1u))) & 15u) | (((w0 >> (16u + 2u * cc)) & 3u) << 4);
    const uvec4 w = bytes16Any(p, s + 8u + 16u * cc) >> (4u * h);
    [[unroll]] for (uint j = 0; j < 4u; ++j) q[j] = table4(w[j]);
    ab = vec2(unpackHalf2x16(w0).x * float(int(ls) - 32), 0.0);
#endif
}
#endif

#endif
