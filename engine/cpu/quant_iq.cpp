// Decoders of the IQ grid types (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M): groups of
// 8 (or 4) values are indices into the tables of cpu/iq_tables.h, scaled per 32-value sub-block
// and signed bit by bit. Bit exact with ggml: each value is (sub-block step * grid magnitude),
// then negated where its sign bit is set (IQ1: step * (grid value + delta)).
#include "cpu/iq_tables.h"
#include "cpu/quant_internal.h"

namespace moe::cpu::detail {
namespace {

// 8 values of grid entry `idx` times `step`, negated where bit j of `signs` is set
void emit8(const uint32_t* grid, int idx, float step, uint32_t signs, float* y) {
    for (int j = 0; j < 8; ++j) {
        const float v = step * float(gridByte8(grid, idx, j));
        y[j] = (signs >> j) & 1 ? -v : v;
    }
}
void emit4(const uint32_t* grid, int idx, float step, uint32_t signs, float* y) {
    for (int j = 0; j < 4; ++j) {
        const float v = step * float(gridByte4(grid, idx, j));
        y[j] = (signs >> j) & 1 ? -v : v;
    }
}

}  // namespace

// ---- IQ2_XXS: { f16 d; uint8 q[64]; }                                     66 bytes / 256
// Sub-block s (values 32s .. 32s+31) is the 8 bytes q[8s .. 8s+7]: bytes 0..3 are four grid
// indices (kIq2xxsGrid, 8 values each), bytes 4..7 a little-endian word w whose bits 7l .. 7l+6
// are the sign index of group l (kIq2Signs) and bits 28..31 the scale s4:
// step = (d * (0.5 + s4)) * 0.25.
void dequantIQ2_XXS(const uint8_t* b, float* y) {
    const float d = loadF16(b);
    for (int s = 0; s < 8; ++s) {
        const uint8_t* q = b + 2 + 8 * s;
        const uint32_t w = loadU32(q + 4);
        const float step = d * (0.5f + float(w >> 28)) * 0.25f;
        for (int l = 0; l < 4; ++l) emit8(kIq2xxsGrid, q[l], step, kIq2Signs[(w >> (7 * l)) & 127], y + 32 * s + 8 * l);
    }
}

// ---- IQ2_XS: { f16 d; uint16 qs[32]; uint8 scales[8]; }                   74 bytes / 256
// Group g (values 8g .. 8g+7): qs[g] low 9 bits = index into kIq2xsGrid, high 7 bits = sign index.
// Sub-block s: groups 4s, 4s+1 use step (d * (0.5 + (scales[s] & 15))) * 0.25, groups 4s+2, 4s+3
// the high nibble.
void dequantIQ2_XS(const uint8_t* b, float* y) {
    const float d = loadF16(b);
    const uint8_t* scales = b + 66;
    for (int s = 0; s < 8; ++s) {
        const float step0 = d * (0.5f + float(scales[s] & 15)) * 0.25f;
        const float step1 = d * (0.5f + float(scales[s] >> 4)) * 0.25f;
        for (int l = 0; l < 4; ++l) {
            const uint16_t q = loadU16(b + 2 + 2 * (4 * s + l));
            emit8(kIq2xsGrid, q & 511, l < 2 ? step0 : step1, kIq2Signs[q >> 9], y + 32 * s + 8 * l);
        }
    }
}

// ---- IQ2_S: { f16 d; uint8 qs[32]; uint8 signs[32]; uint8 qh[8]; uint8 scales[8]; } 82 / 256
// Group g = 4s + l: index into kIq2sGrid = qs[g] | ((qh[s] >> 2l) & 3) << 8, signs[g] holds
// its 8 sign bits directly (bit j: value j negative). Steps as IQ2_XS.
void dequantIQ2_S(const uint8_t* b, float* y) {
    const float d = loadF16(b);
    const uint8_t* qs = b + 2;
    const uint8_t* signs = b + 34;
    const uint8_t* qh = b + 66;
    const uint8_t* scales = b + 74;
    for (int s = 0; s < 8; ++s) {
        const float step0 = d * (0.5f + float(scales[s] & 15)) * 0.25f;
        const float step1 = d * (0.5f + float(scales[s] >> 4)) * 0.25f;
        for (int l = 0; l < 4; ++l) {
            const int g = 4 * s + l;
            const int idx = qs[g] | ((qh[s] >> (2 * l)) & 3) << 8;
            emit8(kIq2sGrid, idx, l < 2 ? step0 : step1, signs[g], y + 8 * g);
        }
    }
}

// ---- IQ3_XXS: { f16 d; uint8 qs[64]; uint8 ss[32]; }                      98 bytes / 256
// Sub-block s: qs[8s .. 8s+7] are eight indices into kIq3xxsGrid (4 values each); the word w at
// ss[4s] has the sign indices of its four 8-value groups at bits 7l (kIq2Signs; group l covers
// grid entries 2l and 2l+1) and the scale s4 at bits 28..31: step = (d * (0.5 + s4)) * 0.5.
void dequantIQ3_XXS(const uint8_t* b, float* y) {
    const float d = loadF16(b);
    const uint8_t* qs = b + 2;
    for (int s = 0; s < 8; ++s) {
        const uint32_t w = loadU32(b + 66 + 4 * s);
        const float step = d * (0.5f + float(w >> 28)) * 0.5f;
        for (int l = 0; l < 4; ++l) {
            const uint32_t sg = kIq2Signs[(w >> (7 * l)) & 127];
            float* yg = y + 32 * s + 8 * l;
            emit4(kIq3xxsGrid, qs[8 * s + 2 * l], step, sg, yg);
            emit4(kIq3xxsGrid, qs[8 * s + 2 * l + 1], step, sg >> 4, yg + 4);
        }
    }
}

// ---- IQ3_S: { f16 d; uint8 qs[64]; uint8 qh[8]; uint8 signs[32]; uint8 scales[4]; } 110 / 256
// Sub-block s: entry k (0..7) of the 4-value grid kIq3sGrid is qs[8s + k] | ((qh[s] >> k) & 1) << 8;
// signs[4s + l] are the 8 sign bits of group l (entries 2l, 2l+1). Step d * (1 + 2 * sc) with
// sc = scales[s / 2] low nibble for even s, high nibble for odd s.
void dequantIQ3_S(const uint8_t* b, float* y) {
    const float d = loadF16(b);
    const uint8_t* qs = b + 2;
    const uint8_t* qh = b + 66;
    const uint8_t* signs = b + 74;
    const uint8_t* scales = b + 106;
    for (int s = 0; s < 8; ++s) {
        const int sc = (s & 1) ? scales[s / 2] >> 4 : scales[s / 2] & 15;
        const float step = d * float(1 + 2 * sc);
        for (int l = 0; l < 4; ++l) {
            const int k0 = 2 * l, k1 = 2 * l + 1;
            const int i0 = qs[8 * s + k0] | ((qh[s] >> k0) & 1) << 8;
            const int i1 = qs[8 * s + k1] | ((qh[s] >> k1) & 1) << 8;
            float* yg = y + 32 * s + 8 * l;
            emit4(kIq3sGrid, i0, step, signs[4 * s + l], yg);
            emit4(kIq3sGrid, i1, step, uint32_t(signs[4 * s + l]) >> 4, yg + 4);
        }
    }
}

// ---- IQ1_S: { f16 d; uint8 qs[32]; uint16 qh[8]; }                        50 bytes / 256
// Sub-block s: qh[s] bits 3l .. 3l+2 are the high bits of group l's 11-bit index into kIq1sGrid
// (low 8 bits qs[4s + l]), bits 12..14 the scale sc, bit 15 the delta's sign. Value =
// (d * (2 sc + 1)) * (grid value + delta), delta = +-0.125 (the sum rounded first).
void dequantIQ1_S(const uint8_t* b, float* y) {
    const float d = loadF16(b);
    const uint8_t* qs = b + 2;
    for (int s = 0; s < 8; ++s) {
        const uint16_t qh = loadU16(b + 34 + 2 * s);
        const float step = d * float(2 * ((qh >> 12) & 7) + 1);
        const float delta = qh & 0x8000 ? -0.125f : 0.125f;
        for (int l = 0; l < 4; ++l) {
            const int idx = qs[4 * s + l] | ((qh >> (3 * l)) & 7) << 8;
            for (int j = 0; j < 8; ++j)
                y[32 * s + 8 * l + j] = step * (float(int8_t(gridByte8(kIq1sGrid, idx, j))) + delta);
        }
    }
}

// ---- IQ1_M: { uint8 qs[32]; uint8 qh[16]; uint8 scales[8]; }              56 bytes / 256
// scales as four little-endian uint16 sc[0..3]: their top nibbles form the f16 super-scale d
// (sc[0] >> 12 | (sc[1] >> 12) << 4 | (sc[2] >> 12) << 8 | (sc[3] >> 12) << 12); sub-block s has
// two 3-bit scales at bits 6 (s % 2) and 6 (s % 2) + 3 of sc[s / 2], for groups 0-1 and 2-3:
// step = d * (2 sc + 1). Group l (0..3) of sub-block s: qh byte h = qh[2s + l / 2], index =
// qs[4s + l] | ((h >> 4 (l % 2)) & 7) << 8, delta sign bit (h >> (4 (l % 2) + 3)) & 1.
// Value = step * (grid value + delta), delta = +-0.125.
void dequantIQ1_M(const uint8_t* b, float* y) {
    const uint8_t* qs = b;
    const uint8_t* qh = b + 32;
    uint16_t sc[4];
    for (int k = 0; k < 4; ++k) sc[k] = loadU16(b + 48 + 2 * k);
    const uint16_t dh = uint16_t((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
    const float d = fp16ToFloat(dh);
    for (int s = 0; s < 8; ++s) {
        const int sh = 6 * (s % 2);
        const float step0 = d * float(2 * ((sc[s / 2] >> sh) & 7) + 1);
        const float step1 = d * float(2 * ((sc[s / 2] >> (sh + 3)) & 7) + 1);
        for (int l = 0; l < 4; ++l) {
            const int h = qh[2 * s + l / 2] >> (4 * (l % 2));
            const int idx = qs[4 * s + l] | (h & 7) << 8;
            const float delta = h & 8 ? -0.125f : 0.125f;
            const float step = l < 2 ? step0 : step1;
            for (int j = 0; j < 8; ++j)
                y[32 * s + 8 * l + j] = step * (float(int8_t(gridByte8(kIq1sGrid, idx, j))) + delta);
        }
    }
}

}  // namespace moe::cpu::detail
