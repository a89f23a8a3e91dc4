// K-quant super-blocks besides Q4_K/Q6_K (Q2_K, Q3_K, Q5_K) and IQ4_XS: 256 values with
// per-sub-block integer scales relative to f16 super-block scales. Decoders are bit exact with
// ggml (same products, same order); the quantizers are simple searches of our own.
#include <algorithm>
#include <cmath>

#include "cpu/iq_tables.h"
#include "cpu/quant_internal.h"

namespace moe::cpu::detail {

void scaleMinK4(int j, const uint8_t* s, int& sc, int& m) {
    if (j < 4) {
        sc = s[j] & 63;
        m = s[j + 4] & 63;
    } else {
        sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

void packScaleMinK4(const int* sc, const int* m, uint8_t* s) {
    for (int j = 0; j < 4; ++j) {
        s[j] = uint8_t((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = uint8_t((m[j] & 63) | ((m[j + 4] >> 4) << 6));
        s[j + 8] = uint8_t((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
    }
}

// ---- Q2_K: { uint8 scales[16]; uint8 qs[64]; f16 d; f16 dmin; }             84 bytes / 256
// Sixteen 16-value sub-blocks; scales[k] = sc | m << 4 (4 bits each) for sub-block k = i / 16.
// Value i = (d * sc) * q - (dmin * m) with the 2-bit q = (qs[32h + l] >> 2c) & 3, where
// h = i / 128, c = (i % 128) / 32, l = i % 32.
void dequantQ2_K(const uint8_t* b, float* y) {
    const uint8_t* scales = b;
    const uint8_t* qs = b + 16;
    const float d = loadF16(b + 80), dmin = loadF16(b + 82);
    for (int i = 0; i < kQK; i += 16) {
        const int k = i / 16;
        const float dl = d * float(scales[k] & 15), ml = dmin * float(scales[k] >> 4);
        const int h = i / 128, c = (i % 128) / 32;
        for (int t = 0; t < 16; ++t) {
            const int l = (i + t) % 32;
            y[i + t] = dl * float((qs[32 * h + l] >> (2 * c)) & 3) - ml;
        }
    }
}

// ---- Q3_K: { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; f16 d; }     110 bytes / 256
// Sixteen 16-value sub-blocks with 6-bit scales s[k] (k = i / 16) packed in 12 bytes:
//   low 4 bits: k < 8 ? scales[k] & 15 : scales[k - 8] >> 4
//   high 2 bits: (scales[8 + k % 4] >> 2 * (k / 4)) & 3
// Value i = (d * (s[k] - 32)) * (q - 4 * !hbit) with the 2-bit q as Q2_K's and hbit =
// (hmask[i % 32] >> (i / 32)) & 1.
void dequantQ3_K(const uint8_t* b, float* y) {
    const uint8_t* hmask = b;
    const uint8_t* qs = b + 32;
    const uint8_t* s = b + 96;
    const float d = loadF16(b + 108);
    for (int i = 0; i < kQK; i += 16) {
        const int k = i / 16;
        const int lo = k < 8 ? (s[k] & 15) : (s[k - 8] >> 4);
        const int hi = (s[8 + k % 4] >> (2 * (k / 4))) & 3;
        const float dl = d * float((lo | hi << 4) - 32);
        const int h = i / 128, c = (i % 128) / 32;
        for (int t = 0; t < 16; ++t) {
            const int l = (i + t) % 32;
            const int q = ((qs[32 * h + l] >> (2 * c)) & 3) - (((hmask[l] >> ((i + t) / 32)) & 1) ? 0 : 4);
            y[i + t] = dl * float(q);
        }
    }
}

// ---- Q5_K: { f16 d; f16 dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]; } 176 bytes / 256
// Q4_K's eight 32-value sub-blocks and 6-bit (sc, m) packing, plus a fifth bit: value i has
// q = nibble + 16 * ((qh[i % 32] >> (i / 32)) & 1), where the nibble is the low (sub-block 2c)
// or high (2c + 1) half of qs[32c + i % 32], c = i / 64. Value = (d * sc) * q - (dmin * m).
void dequantQ5_K(const uint8_t* b, float* y) {
    const float d = loadF16(b), dmin = loadF16(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 16;
    const uint8_t* qs = b + 48;
    for (int j = 0; j < 8; ++j) {
        int sc, m;
        scaleMinK4(j, scales, sc, m);
        const float dl = d * float(sc), ml = dmin * float(m);
        const uint8_t* q = qs + 32 * (j / 2);
        for (int l = 0; l < 32; ++l) {
            const int nib = (j & 1) ? (q[l] >> 4) : (q[l] & 15);
            const int v = nib + (((qh[l] >> j) & 1) ? 16 : 0);
            y[32 * j + l] = dl * float(v) - ml;
        }
    }
}

// ---- IQ4_XS: { f16 d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128]; } 136 bytes / 256
// Eight 32-value sub-blocks with 6-bit scales ls = ((scales_l[j / 2] >> 4 * (j % 2)) & 15) |
// ((scales_h >> 2j) & 3) << 4; value = (d * (ls - 32)) * kIq4nlValues[code], codes as IQ4_NL
// within each sub-block (qs[16j + t]: low nibble value t, high nibble value t + 16).
void dequantIQ4_XS(const uint8_t* b, float* y) {
    const float d = loadF16(b);
    const uint16_t sh = loadU16(b + 2);
    const uint8_t* sl = b + 4;
    const uint8_t* qs = b + 8;
    for (int j = 0; j < 8; ++j) {
        const int ls = ((sl[j / 2] >> (4 * (j % 2))) & 15) | (((sh >> (2 * j)) & 3) << 4);
        const float dl = d * float(ls - 32);
        for (int t = 0; t < 16; ++t) {
            y[32 * j + t] = dl * float(iq4nlValue(qs[16 * j + t] & 15));
            y[32 * j + t + 16] = dl * float(iq4nlValue(qs[16 * j + t] >> 4));
        }
    }
}

// ---------------------------------------------------------------- quantizers
namespace {

int nearestInt(float x) { return int(std::lround(x)); }

// Affine sub-blocks (value = step * q - off, q in [0, qmax], off >= 0): the best (step, off) of
// one sub-block among a few ranges, each refitted by least squares on its codes.
void fitAffine(const float* x, int n, int qmax, float& step, float& off) {
    float lo = 0.0f, hi = x[0];
    for (int l = 0; l < n; ++l) { lo = std::min(lo, x[l]); hi = std::max(hi, x[l]); }
    step = 0.0f; off = -lo;
    if (hi - lo <= 0.0f) return;
    double bestErr = INFINITY;
    for (int k = -4; k <= 8; ++k) {
        float s = (hi - lo) / (float(qmax) + 0.1f * float(k)), o = -lo;
        for (int it = 0; it < 2; ++it) {
            double sq = 0, sqq = 0, sx = 0, sxq = 0;
            for (int l = 0; l < n; ++l) {
                const int q = std::clamp(nearestInt((x[l] + o) / s), 0, qmax);
                sq += q; sqq += double(q) * q; sx += x[l]; sxq += double(x[l]) * q;
            }
            // minimise sum (s q - o - x)^2 over s, o
            const double det = n * sqq - sq * sq;
            if (det <= 0) break;
            double ns = (n * sxq - sq * sx) / det, no = (sq * sxq - sqq * sx) / det;
            if (no < 0) { no = 0; ns = sqq > 0 ? sxq / sqq : s; }
            if (ns <= 0) break;
            s = float(ns); o = float(no);
        }
        double err = 0;
        for (int l = 0; l < n; ++l) {
            const int q = std::clamp(nearestInt((x[l] + o) / s), 0, qmax);
            const double e = double(s * float(q) - o) - x[l];
            err += e * e;
        }
        if (err < bestErr) { bestErr = err; step = s; off = o; }
    }
}

// A super-block of nsub affine sub-blocks of len values: f16 d, dmin and integer sc, m in
// [0, smax], each sub-block keeping the best (sc, m) among the neighbours of the rounded values;
// q receives the codes.
void quantAffineSuper(const float* x, int nsub, int len, int qmax, int smax, uint16_t& dh, uint16_t& dminh,
                      int* sc, int* m, uint8_t* q) {
    float step[16], off[16], maxStep = 0.0f, maxOff = 0.0f;
    for (int j = 0; j < nsub; ++j) {
        fitAffine(x + len * j, len, qmax, step[j], off[j]);
        maxStep = std::max(maxStep, step[j]);
        maxOff = std::max(maxOff, off[j]);
    }
    dh = floatToFp16(maxStep / float(smax));
    dminh = floatToFp16(maxOff / float(smax));
    const float d = fp16ToFloat(dh), dmin = fp16ToFloat(dminh);
    auto codeOf = [&](float v, float s, float o) { return s > 0.0f ? std::clamp(nearestInt((v + o) / s), 0, qmax) : 0; };
    for (int j = 0; j < nsub; ++j) {
        const float* xj = x + len * j;
        const int sc0 = d > 0.0f ? nearestInt(step[j] / d) : 0;
        const int m0 = dmin > 0.0f ? nearestInt(off[j] / dmin) : 0;
        double best = INFINITY;
        sc[j] = 0; m[j] = 0;
        for (int a = std::max(0, sc0 - 1); a <= std::min(smax, sc0 + 1); ++a)
            for (int c = std::max(0, m0 - 1); c <= std::min(smax, m0 + 1); ++c) {
                const float s = d * float(a), o = dmin * float(c);
                double err = 0.0;
                for (int l = 0; l < len; ++l) {
                    const double e = double(s * float(codeOf(xj[l], s, o)) - o) - xj[l];
                    err += e * e;
                }
                if (err < best) { best = err; sc[j] = a; m[j] = c; }
            }
        for (int l = 0; l < len; ++l) q[len * j + l] = uint8_t(codeOf(xj[l], d * float(sc[j]), dmin * float(m[j])));
    }
}

// Symmetric sub-blocks (value = step * q, q in [qmin, qmax]): the step of least squared error
// among steps mapping the signed absmax m to qmin + t, t in [-0.5, 1.5].
float fitSymmetric(const float* x, int n, int qmin, int qmax) {
    float m = 0.0f, amax = 0.0f;
    for (int l = 0; l < n; ++l)
        if (std::fabs(x[l]) > amax) { amax = std::fabs(x[l]); m = x[l]; }
    if (amax == 0.0f) return 0.0f;
    float best = m / float(qmin);
    double bestErr = INFINITY;
    for (int k = -5; k <= 15; ++k) {
        const float s = m / (float(qmin) + 0.1f * float(k));
        double err = 0;
        for (int l = 0; l < n; ++l) {
            const int q = std::clamp(nearestInt(x[l] / s), qmin, qmax);
            const double e = double(s * float(q)) - x[l];
            err += e * e;
        }
        if (err < bestErr) { bestErr = err; best = s; }
    }
    return best;
}

}  // namespace

void quantQ2_K(const float* x, uint8_t* b) {
    uint16_t dh, dminh;
    int sc[16], m[16];
    uint8_t q[kQK];
    quantAffineSuper(x, 16, 16, 3, 15, dh, dminh, sc, m, q);
    for (int k = 0; k < 16; ++k) b[k] = uint8_t(sc[k] | m[k] << 4);
    uint8_t* qs = b + 16;
    std::memset(qs, 0, 64);
    for (int i = 0; i < kQK; ++i) qs[32 * (i / 128) + i % 32] |= uint8_t(q[i] << (2 * ((i % 128) / 32)));
    storeU16(b + 80, dh);
    storeU16(b + 82, dminh);
}

// Q3_K: per-sub-block steps from fitSymmetric (q in [-4, 3]); d = (step of largest magnitude)
// / -32 so that it gets the scale -32; scales rounded, then each tries its neighbours.
void quantQ3_K(const float* x, uint8_t* b) {
    float step[16], big = 0.0f;
    for (int k = 0; k < 16; ++k) {
        step[k] = fitSymmetric(x + 16 * k, 16, -4, 3);
        if (std::fabs(step[k]) > std::fabs(big)) big = step[k];
    }
    const uint16_t dh = floatToFp16(big / -32.0f);
    const float d = fp16ToFloat(dh);
    int sc[16];
    int8_t q[kQK];
    for (int k = 0; k < 16; ++k) {
        const float* xk = x + 16 * k;
        const int s0 = d != 0.0f ? nearestInt(step[k] / d) : 0;
        double best = INFINITY;
        sc[k] = 0;
        for (int a = std::max(-32, s0 - 1); a <= std::min(31, s0 + 1); ++a) {
            const float s = d * float(a);
            double err = 0;
            for (int l = 0; l < 16; ++l) {
                const int qq = s != 0.0f ? std::clamp(nearestInt(xk[l] / s), -4, 3) : 0;
                const double e = double(s * float(qq)) - xk[l];
                err += e * e;
            }
            if (err < best) { best = err; sc[k] = a; }
        }
        const float s = d * float(sc[k]);
        for (int l = 0; l < 16; ++l) q[16 * k + l] = int8_t(s != 0.0f ? std::clamp(nearestInt(xk[l] / s), -4, 3) : 0);
    }
    uint8_t* hmask = b;
    uint8_t* qs = b + 32;
    uint8_t* s = b + 96;
    std::memset(b, 0, 108);
    for (int i = 0; i < kQK; ++i) {
        const int u = q[i] + 4;  // 0..7: low 2 bits in qs, bit 2 in hmask (set: no -4)
        qs[32 * (i / 128) + i % 32] |= uint8_t((u & 3) << (2 * ((i % 128) / 32)));
        if (u & 4) hmask[i % 32] |= uint8_t(1 << (i / 32));
    }
    for (int k = 0; k < 16; ++k) {
        const int v = sc[k] + 32;
        if (k < 8) s[k] |= uint8_t(v & 15);
        else s[k - 8] |= uint8_t((v & 15) << 4);
        s[8 + k % 4] |= uint8_t((v >> 4) << (2 * (k / 4)));
    }
    storeU16(b + 108, dh);
}

void quantQ5_K(const float* x, uint8_t* b) {
    uint16_t dh, dminh;
    int sc[8], m[8];
    uint8_t q[kQK];
    quantAffineSuper(x, 8, 32, 31, 63, dh, dminh, sc, m, q);
    storeU16(b, dh);
    storeU16(b + 2, dminh);
    packScaleMinK4(sc, m, b + 4);
    uint8_t* qh = b + 16;
    uint8_t* qs = b + 48;
    std::memset(qh, 0, 160);
    for (int i = 0; i < kQK; ++i) {
        const int j = i / 32, l = i % 32;
        qs[32 * (j / 2) + l] |= uint8_t((j & 1) ? (q[i] & 15) << 4 : (q[i] & 15));
        if (q[i] & 16) qh[l] |= uint8_t(1 << j);
    }
}

// IQ4_XS: per sub-block the scale of least error among m / (T[0] + k/8), k = -8 .. 8 (refitted by
// least squares); d = (scale of largest magnitude) / -32, 6-bit scales rounded and their
// neighbours tried; codes nearest to x / (d * (ls - 32)).
void quantIQ4_XS(const float* x, uint8_t* b) {
    int table[16];
    for (int c = 0; c < 16; ++c) table[c] = iq4nlValue(c);
    auto code = [&](float v) {
        int lo = 0;
        while (lo < 15 && v > 0.5f * float(table[lo] + table[lo + 1])) ++lo;
        return lo;
    };
    auto errOf = [&](const float* xs, float s) {
        double err = 0;
        for (int l = 0; l < 32; ++l) {
            const double e = s != 0.0f ? double(s * float(table[code(xs[l] / s)])) - xs[l] : -double(xs[l]);
            err += e * e;
        }
        return err;
    };
    float scale[8], big = 0.0f;
    for (int j = 0; j < 8; ++j) {
        const float* xj = x + 32 * j;
        float m = 0.0f, amax = 0.0f;
        for (int l = 0; l < 32; ++l)
            if (std::fabs(xj[l]) > amax) { amax = std::fabs(xj[l]); m = xj[l]; }
        scale[j] = 0.0f;
        double bestErr = INFINITY;
        for (int k = -8; k <= 8 && amax > 0.0f; ++k) {
            float s = m / (float(table[0]) + 0.125f * float(k));
            double sxv = 0, svv = 0;
            for (int l = 0; l < 32; ++l) {
                const int v = table[code(xj[l] / s)];
                sxv += double(xj[l]) * v; svv += double(v) * v;
            }
            if (svv > 0) s = float(sxv / svv);
            const double err = errOf(xj, s);
            if (err < bestErr) { bestErr = err; scale[j] = s; }
        }
        if (std::fabs(scale[j]) > std::fabs(big)) big = scale[j];
    }
    const uint16_t dh = floatToFp16(big / -32.0f);
    const float d = fp16ToFloat(dh);
    storeU16(b, dh);
    uint16_t sh = 0;
    std::memset(b + 4, 0, 132);
    for (int j = 0; j < 8; ++j) {
        const float* xj = x + 32 * j;
        const int l0 = d != 0.0f ? nearestInt(scale[j] / d) : 0;
        int ls = 0;
        double best = INFINITY;
        for (int a = std::max(-32, l0 - 1); a <= std::min(31, l0 + 1); ++a) {
            const double err = errOf(xj, d * float(a));
            if (err < best) { best = err; ls = a; }
        }
        const float s = d * float(ls);
        const int u = ls + 32;
        b[4 + j / 2] |= uint8_t((u & 15) << (4 * (j % 2)));
        sh |= uint16_t((u >> 4) << (2 * j));
        for (int t = 0; t < 16; ++t) {
            const int c0 = s != 0.0f ? code(xj[t] / s) : 8;
            const int c1 = s != 0.0f ? code(xj[t + 16] / s) : 8;
            b[8 + 16 * j + t] = uint8_t(c0 | c1 << 4);
        }
    }
    storeU16(b + 2, sh);
}

}  // namespace moe::cpu::detail
