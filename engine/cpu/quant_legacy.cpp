// The 32-value block types besides Q8_0/Q4_0: Q4_1, Q5_0, Q5_1, IQ4_NL and MXFP4. Decoders are
// bit exact with ggml; the Q4_1/Q5_0/Q5_1/MXFP4 quantizers give ggml's reference bytes, the
// IQ4_NL one is a simple scale search of our own.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "cpu/iq_tables.h"
#include "cpu/quant_internal.h"

namespace moe::cpu::detail {

// ---- Q4_1: { f16 d; f16 m; uint8 qs[16]; }                                20 bytes / 32
// v[j] = (qs[j] & 15) * d + m, v[j + 16] = (qs[j] >> 4) * d + m (the product rounded first)
void dequantQ4_1(const uint8_t* b, float* y) {
    const float d = loadF16(b), m = loadF16(b + 2);
    const uint8_t* qs = b + 4;
    for (int j = 0; j < 16; ++j) {
        y[j] = float(qs[j] & 15) * d + m;
        y[j + 16] = float(qs[j] >> 4) * d + m;
    }
}

// ---- Q5_0: { f16 d; uint8 qh[4]; uint8 qs[16]; }                          22 bytes / 32
// 5-bit q: low 4 bits as Q4_0 (qs[j] low nibble for j, high nibble for j + 16), bit 4 of value
// k is bit k of the little-endian word qh. v[k] = (q - 16) * d.
void dequantQ5_0(const uint8_t* b, float* y) {
    const float d = loadF16(b);
    const uint32_t qh = loadU32(b + 2);
    const uint8_t* qs = b + 6;
    for (int j = 0; j < 16; ++j) {
        const int q0 = int((qs[j] & 15) | ((qh >> j) & 1) << 4) - 16;
        const int q1 = int((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16;
        y[j] = float(q0) * d;
        y[j + 16] = float(q1) * d;
    }
}

// ---- Q5_1: { f16 d; f16 m; uint8 qh[4]; uint8 qs[16]; }                   24 bytes / 32
// q as Q5_0 (unsigned), v[k] = q * d + m.
void dequantQ5_1(const uint8_t* b, float* y) {
    const float d = loadF16(b), m = loadF16(b + 2);
    const uint32_t qh = loadU32(b + 4);
    const uint8_t* qs = b + 8;
    for (int j = 0; j < 16; ++j) {
        const uint32_t q0 = (qs[j] & 15) | ((qh >> j) & 1) << 4;
        const uint32_t q1 = (qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
        y[j] = float(q0) * d + m;
        y[j + 16] = float(q1) * d + m;
    }
}

// ---- IQ4_NL: { f16 d; uint8 qs[16]; }                                     18 bytes / 32
// 4-bit codes into the non-linear table kIq4nlValues (-127 .. 113): v[j] = d * T[qs[j] & 15],
// v[j + 16] = d * T[qs[j] >> 4].
void dequantIQ4_NL(const uint8_t* b, float* y) {
    const float d = loadF16(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
        y[j] = d * float(iq4nlValue(qs[j] & 15));
        y[j + 16] = d * float(iq4nlValue(qs[j] >> 4));
    }
}

// ---- MXFP4: { uint8 e; uint8 qs[16]; }                                     17 bytes / 32
// e8m0 shared exponent e, 4-bit e2m1 codes (bit 3 the sign). kMxfp4Values holds twice each
// e2m1 value, so v = T[code] * 2^(e - 128) (e8m0Half; e = 0, 1 give subnormal scales). Codes as
// Q4_0: low nibble of qs[j] for j, high nibble for j + 16.
void dequantMXFP4(const uint8_t* b, float* y) {
    const float d = e8m0Half(b[0]);
    const uint8_t* qs = b + 1;
    for (int j = 0; j < 16; ++j) {
        y[j] = float(mxfp4Value(qs[j] & 15)) * d;
        y[j + 16] = float(mxfp4Value(qs[j] >> 4)) * d;
    }
}

// ---------------------------------------------------------------- quantizers

namespace {

void minMax(const float* x, int n, float& lo, float& hi) {
    lo = FLT_MAX;
    hi = -FLT_MAX;
    for (int j = 0; j < n; ++j) {
        lo = std::min(lo, x[j]);
        hi = std::max(hi, x[j]);
    }
}

// the value of largest magnitude, with its sign (the first one on ties)
float signedAbsMax(const float* x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; ++j)
        if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
    return max;
}

// nearest code of a value in a sorted table of 16 (the lower one on ties)
int nearestCode(const int* table, float v) {
    int lo = 0;
    while (lo < 15 && v > 0.5f * float(table[lo] + table[lo + 1])) ++lo;
    return lo;
}

}  // namespace

// Q4_1: d = (max - min) / 15, m = min, q = min(15, trunc((x - min) / d + 0.5)) computed with the
// unrounded d and min (ggml's reference quantizer, byte for byte).
void quantQ4_1(const float* x, uint8_t* b) {
    float lo, hi;
    minMax(x, 32, lo, hi);
    const float d = (hi - lo) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    storeU16(b, floatToFp16(d));
    storeU16(b + 2, floatToFp16(lo));
    for (int j = 0; j < 16; ++j) {
        const int q0 = std::min(15, int(int8_t((x[j] - lo) * id + 0.5f)));
        const int q1 = std::min(15, int(int8_t((x[j + 16] - lo) * id + 0.5f)));
        b[4 + j] = uint8_t(q0 | q1 << 4);
    }
}

// Q5_0: d = m / -16 (m: signed absmax), q = min(31, trunc(x / d + 16.5)) (ggml's bytes).
void quantQ5_0(const float* x, uint8_t* b) {
    const float d = signedAbsMax(x, 32) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    storeU16(b, floatToFp16(d));
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        const int q0 = std::min(31, int(int8_t(x[j] * id + 16.5f)));
        const int q1 = std::min(31, int(int8_t(x[j + 16] * id + 16.5f)));
        b[6 + j] = uint8_t((q0 & 15) | (q1 & 15) << 4);
        qh |= uint32_t(q0 >> 4) << j | uint32_t(q1 >> 4) << (j + 16);
    }
    storeU32(b + 2, qh);
}

// Q5_1: d = (max - min) / 31, m = min, q = trunc((x - min) / d + 0.5) (ggml's bytes).
void quantQ5_1(const float* x, uint8_t* b) {
    float lo, hi;
    minMax(x, 32, lo, hi);
    const float d = (hi - lo) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    storeU16(b, floatToFp16(d));
    storeU16(b + 2, floatToFp16(lo));
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        const int q0 = std::min(31, int(uint8_t((x[j] - lo) * id + 0.5f)));
        const int q1 = std::min(31, int(uint8_t((x[j + 16] - lo) * id + 0.5f)));
        b[8 + j] = uint8_t((q0 & 15) | (q1 & 15) << 4);
        qh |= uint32_t(q0 >> 4) << j | uint32_t(q1 >> 4) << (j + 16);
    }
    storeU32(b + 4, qh);
}

// MXFP4: e = floor(log2(absmax)) - 2 + 127 (so the largest magnitude lands near the top code, 6),
// clamped to [0, 255]; each value takes the code whose value is nearest (ggml's bytes).
void quantMXFP4(const float* x, uint8_t* b) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float ef = amax > 0.0f ? std::floor(std::log2(amax)) - 2.0f + 127.0f : 0.0f;
    const uint8_t e = uint8_t(std::clamp(ef, 0.0f, 255.0f));
    const float d = e8m0Half(e);
    b[0] = e;
    auto code = [&](float v) {
        int best = 0;
        float bestErr = std::fabs(float(mxfp4Value(0)) * d - v);
        for (int c = 1; c < 16; ++c) {
            const float err = std::fabs(float(mxfp4Value(c)) * d - v);
            if (err < bestErr) { best = c; bestErr = err; }
        }
        return best;
    };
    for (int j = 0; j < 16; ++j) b[1 + j] = uint8_t(code(x[j]) | code(x[j + 16]) << 4);
}

// IQ4_NL: try scales d = m / (T[0] + k/8), k = -8 .. 8 (m: signed absmax, T[0] = -127); for each,
// take the nearest codes, refit d by least squares (d = <x,T[q]> / <T[q],T[q]>) and keep the
// candidate of least squared error. Not ggml's search (which weights by x^2 and refits twice).
void quantIQ4_NL(const float* x, uint8_t* b) {
    int table[16];
    for (int c = 0; c < 16; ++c) table[c] = iq4nlValue(c);
    const float m = signedAbsMax(x, 32);
    uint8_t best[32] = {};
    float bestD = 0.0f;
    double bestErr = INFINITY;
    if (m != 0.0f) {
        for (int k = -8; k <= 8; ++k) {
            const float d0 = m / (float(table[0]) + 0.125f * float(k));
            uint8_t q[32];
            double sxv = 0.0, svv = 0.0;
            for (int j = 0; j < 32; ++j) {
                q[j] = uint8_t(nearestCode(table, x[j] / d0));
                sxv += double(x[j]) * table[q[j]];
                svv += double(table[q[j]]) * table[q[j]];
            }
            const float d = svv > 0.0 ? float(sxv / svv) : d0;
            const float dr = fp16ToFloat(floatToFp16(d));
            double err = 0.0;
            for (int j = 0; j < 32; ++j) {
                const double e = double(dr * float(table[q[j]])) - x[j];
                err += e * e;
            }
            if (err < bestErr) {
                bestErr = err;
                bestD = d;
                std::copy(q, q + 32, best);
            }
        }
    }
    storeU16(b, floatToFp16(bestD));
    for (int j = 0; j < 16; ++j) b[2 + j] = uint8_t(best[j] | best[j + 16] << 4);
}

}  // namespace moe::cpu::detail
