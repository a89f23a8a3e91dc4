// Simple quantizers of the IQ grid types (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M):
// per-unit step search with an exhaustive nearest-grid-entry search, not ggml's (importance-
// weighted, neighbourhood-based) search. A unit is the run of values sharing one integer scale
// (32 values; 16 for IQ2_XS/IQ2_S/IQ1_M). Signs: IQ2_XXS/IQ2_XS/IQ3_XXS store 7 sign bits per 8
// values with the 8th implied by even parity, so an odd count of negatives flips the value of
// least magnitude; IQ2_S/IQ3_S store all 8; IQ1 grids are signed (values -1, 0, 1 plus a
// +-0.125 delta, per unit for IQ1_S, per 8 values for IQ1_M).
// Each unit: steps s = amax / gmax * f, f = 0.6 .. 1.3, each refitted twice by least squares on
// its entries; the super-block scale d = (largest step) / (largest multiplier), then each unit
// takes the integer scale (among the rounded one and its neighbours) of least squared error.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/iq_tables.h"
#include "cpu/quant_internal.h"

namespace moe::cpu::detail {
namespace {

struct Grid {
    int entries, width;
    std::vector<float> v;        // entries x width values
    std::vector<float> sum, sq;  // per entry: sum of values, sum of squares
    Grid(const uint32_t* words, int n, int w, bool isSigned) : entries(n), width(w), v(size_t(n) * w), sum(n), sq(n) {
        for (int e = 0; e < n; ++e)
            for (int j = 0; j < w; ++j) {
                const uint8_t byte = w == 8 ? gridByte8(words, e, j) : gridByte4(words, e, j);
                const float f = isSigned ? float(int8_t(byte)) : float(byte);
                v[size_t(e) * w + j] = f;
                sum[e] += f;
                sq[e] += f * f;
            }
    }
    float max() const { return *std::max_element(v.begin(), v.end()); }
};

const Grid& gridOf(GgmlType t) {
    static const Grid g2xxs(kIq2xxsGrid, 256, 8, false), g2xs(kIq2xsGrid, 512, 8, false), g2s(kIq2sGrid, 1024, 8, false),
        g3xxs(kIq3xxsGrid, 256, 4, false), g3s(kIq3sGrid, 512, 4, false), g1s(kIq1sGrid, 2048, 8, true);
    switch (t) {
        case GgmlType::IQ2_XXS: return g2xxs;
        case GgmlType::IQ2_XS: return g2xs;
        case GgmlType::IQ2_S: return g2s;
        case GgmlType::IQ3_XXS: return g3xxs;
        case GgmlType::IQ3_S: return g3s;
        default: return g1s;
    }
}

// ---- unsigned grids with sign bits (IQ2, IQ3)

// 8 values -> sign byte (bit j: negative) and targets a = x * sign (parity: even count forced)
uint8_t signsOf(const float* x, bool parity, float* a) {
    uint8_t s = 0;
    for (int j = 0; j < 8; ++j)
        if (x[j] < 0) s |= uint8_t(1 << j);
    if (parity && (__builtin_popcount(s) & 1)) {
        int m = 0;
        for (int j = 1; j < 8; ++j)
            if (std::fabs(x[j]) < std::fabs(x[m])) m = j;
        s ^= uint8_t(1 << m);
    }
    for (int j = 0; j < 8; ++j) a[j] = (s >> j) & 1 ? -x[j] : x[j];
    return s;
}

// entry of least squared error for targets a[width] at step s; adds the error to err
int bestEntry(const Grid& g, const float* a, float s, double& err) {
    int best = 0;
    double bestE = INFINITY;
    for (int e = 0; e < g.entries; ++e) {
        const float* ge = g.v.data() + size_t(e) * g.width;
        double dot = 0;
        for (int j = 0; j < g.width; ++j) dot += double(ge[j]) * a[j];
        const double E = double(s) * s * g.sq[e] - 2.0 * s * dot;
        if (E < bestE) { bestE = E; best = e; }
    }
    for (int j = 0; j < g.width; ++j) {
        const double d = double(s) * g.v[size_t(best) * g.width + j] - a[j];
        err += d * d;
    }
    return best;
}

// unit of n targets: entries at step s, returns the squared error
double fitAt(const Grid& g, const float* a, int n, float s, int* idx) {
    double err = 0;
    for (int c = 0; c < n / g.width; ++c) idx[c] = bestEntry(g, a + g.width * c, s, err);
    return err;
}

float searchStep(const Grid& g, const float* a, int n) {
    float amax = 0;
    for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(a[j]));
    if (amax == 0) return 0;
    int idx[32];
    float best = amax / g.max();
    double bestErr = INFINITY;
    for (int k = 0; k <= 7; ++k) {
        float s = amax / g.max() * (0.6f + 0.1f * float(k));
        for (int it = 0; it < 3; ++it) {
            const double err = fitAt(g, a, n, s, idx);
            if (err < bestErr) { bestErr = err; best = s; }
            double num = 0, den = 0;
            for (int c = 0; c < n / g.width; ++c)
                for (int j = 0; j < g.width; ++j) {
                    const float gv = g.v[size_t(idx[c]) * g.width + j];
                    num += double(gv) * a[g.width * c + j];
                    den += double(gv) * gv;
                }
            if (den <= 0 || num <= 0) break;
            s = float(num / den);
        }
    }
    return best;
}

// multiplier of integer scale c: the decoder's step is d * mult(c) (computed as it does)
float stepOf(GgmlType t, float d, int c) {
    switch (t) {
        case GgmlType::IQ3_XXS: return d * (0.5f + float(c)) * 0.5f;
        case GgmlType::IQ3_S: return d * float(1 + 2 * c);
        case GgmlType::IQ1_S:
        case GgmlType::IQ1_M: return d * float(2 * c + 1);
        default: return d * (0.5f + float(c)) * 0.25f;
    }
}
int maxCode(GgmlType t) { return t == GgmlType::IQ1_S || t == GgmlType::IQ1_M ? 7 : 15; }

struct Fit {
    uint16_t dh;
    int code[16];  // per unit
    int idx[64];   // per grid entry
    uint8_t signs[32];
    bool neg[32];  // IQ1: delta negative (per 8 values)
};

// ---- IQ1 (signed grid plus delta)

// best (entry, delta sign) of 8 values at step s; deltaSign: +1 / -1 fixed, 0 free
int bestEntry1(const Grid& g, const float* x, float s, int deltaSign, bool& neg, double& err) {
    double sx = 0;
    for (int j = 0; j < 8; ++j) sx += x[j];
    int best = 0;
    double bestE = INFINITY;
    for (int e = 0; e < g.entries; ++e) {
        const float* ge = g.v.data() + size_t(e) * 8;
        double gx = 0;
        for (int j = 0; j < 8; ++j) gx += double(ge[j]) * x[j];
        for (int ds = -1; ds <= 1; ds += 2) {
            if (deltaSign && ds != deltaSign) continue;
            const double dl = 0.125 * ds;
            const double q2 = g.sq[e] + 2 * dl * g.sum[e] + 8 * dl * dl, qx = gx + dl * sx;
            const double E = double(s) * s * q2 - 2.0 * s * qx;
            if (E < bestE) { bestE = E; best = e; neg = ds < 0; }
        }
    }
    const float dl = neg ? -0.125f : 0.125f;
    for (int j = 0; j < 8; ++j) {
        const double d = double(s * (g.v[size_t(best) * 8 + j] + dl)) - x[j];
        err += d * d;
    }
    return best;
}

double fitAt1(const Grid& g, const float* x, int n, float s, int deltaSign, int* idx, bool* neg) {
    double err = 0;
    for (int c = 0; c < n / 8; ++c) idx[c] = bestEntry1(g, x + 8 * c, s, deltaSign, neg[c], err);
    return err;
}

// IQ1_S: one delta sign per unit (both tried); IQ1_M: free per 8 values
double fitUnit1(GgmlType t, const Grid& g, const float* x, int n, float s, int* idx, bool* neg) {
    if (t == GgmlType::IQ1_M) return fitAt1(g, x, n, s, 0, idx, neg);
    int i2[4];
    bool n2[4];
    const double ep = fitAt1(g, x, n, s, 1, idx, neg), em = fitAt1(g, x, n, s, -1, i2, n2);
    if (em < ep) {
        std::copy(i2, i2 + n / 8, idx);
        std::copy(n2, n2 + n / 8, neg);
        return em;
    }
    return ep;
}

float searchStep1(GgmlType t, const Grid& g, const float* x, int n) {
    float amax = 0;
    for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
    if (amax == 0) return 0;
    int idx[4];
    bool neg[4];
    float best = amax;
    double bestErr = INFINITY;
    for (int k = 0; k <= 7; ++k) {
        float s = amax / 1.125f * (0.6f + 0.1f * float(k));
        for (int it = 0; it < 2; ++it) {
            const double err = fitUnit1(t, g, x, n, s, idx, neg);
            if (err < bestErr) { bestErr = err; best = s; }
            double num = 0, den = 0;
            for (int c = 0; c < n / 8; ++c)
                for (int j = 0; j < 8; ++j) {
                    const double q = g.v[size_t(idx[c]) * 8 + j] + (neg[c] ? -0.125 : 0.125);
                    num += q * x[8 * c + j];
                    den += q * q;
                }
            if (den <= 0 || num <= 0) break;
            s = float(num / den);
        }
    }
    return best;
}

// The whole super-block: units of `unit` values; fills f (entries per `width` values).
void fitSuper(GgmlType t, const float* x, int unit, bool parity, Fit& f) {
    const Grid& g = gridOf(t);
    const bool iq1 = t == GgmlType::IQ1_S || t == GgmlType::IQ1_M;
    const int units = kQK / unit;
    float a[kQK];
    if (iq1) std::copy(x, x + kQK, a);
    else
        for (int c = 0; c < kQK / 8; ++c) f.signs[c] = signsOf(x + 8 * c, parity, a + 8 * c);
    float step[16], maxStep = 0;
    for (int u = 0; u < units; ++u) {
        step[u] = iq1 ? searchStep1(t, g, a + unit * u, unit) : searchStep(g, a + unit * u, unit);
        maxStep = std::max(maxStep, step[u]);
    }
    const float top = stepOf(t, 1.0f, maxCode(t));
    f.dh = floatToFp16(maxStep / top);
    const float d = fp16ToFloat(f.dh);
    const int per = unit / g.width;  // entries per unit
    for (int u = 0; u < units; ++u) {
        const float* au = a + unit * u;
        int c0 = 0;
        if (d > 0) {
            // invert stepOf approximately, then try the neighbours
            float bestDiff = INFINITY;
            for (int c = 0; c <= maxCode(t); ++c)
                if (std::fabs(stepOf(t, d, c) - step[u]) < bestDiff) { bestDiff = std::fabs(stepOf(t, d, c) - step[u]); c0 = c; }
        }
        double best = INFINITY;
        f.code[u] = c0;
        for (int c = std::max(0, c0 - 1); c <= std::min(maxCode(t), c0 + 1); ++c) {
            int idx[32];
            bool neg[4];
            const float s = stepOf(t, d, c);
            const double err = iq1 ? fitUnit1(t, g, au, unit, s, idx, neg) : fitAt(g, au, unit, s, idx);
            if (err < best) {
                best = err;
                f.code[u] = c;
                std::copy(idx, idx + per, f.idx + per * u);
                if (iq1) std::copy(neg, neg + unit / 8, f.neg + (unit / 8) * u);
            }
        }
    }
}

void quantIQ2_XXS(const float* x, uint8_t* b) {
    Fit f;
    fitSuper(GgmlType::IQ2_XXS, x, 32, true, f);
    storeU16(b, f.dh);
    for (int s = 0; s < 8; ++s) {
        uint8_t* q = b + 2 + 8 * s;
        uint32_t w = uint32_t(f.code[s]) << 28;
        for (int l = 0; l < 4; ++l) {
            q[l] = uint8_t(f.idx[4 * s + l]);
            w |= uint32_t(f.signs[4 * s + l] & 127) << (7 * l);
        }
        storeU32(q + 4, w);
    }
}

void quantIQ2_XS(const float* x, uint8_t* b) {
    Fit f;
    fitSuper(GgmlType::IQ2_XS, x, 16, true, f);
    storeU16(b, f.dh);
    for (int g = 0; g < 32; ++g) storeU16(b + 2 + 2 * g, uint16_t(f.idx[g] | (f.signs[g] & 127) << 9));
    for (int s = 0; s < 8; ++s) b[66 + s] = uint8_t(f.code[2 * s] | f.code[2 * s + 1] << 4);
}

void quantIQ2_S(const float* x, uint8_t* b) {
    Fit f;
    fitSuper(GgmlType::IQ2_S, x, 16, false, f);
    storeU16(b, f.dh);
    std::memset(b + 66, 0, 8);
    for (int g = 0; g < 32; ++g) {
        b[2 + g] = uint8_t(f.idx[g]);
        b[34 + g] = f.signs[g];
        b[66 + g / 4] |= uint8_t((f.idx[g] >> 8) << (2 * (g % 4)));
    }
    for (int s = 0; s < 8; ++s) b[74 + s] = uint8_t(f.code[2 * s] | f.code[2 * s + 1] << 4);
}

void quantIQ3_XXS(const float* x, uint8_t* b) {
    Fit f;
    fitSuper(GgmlType::IQ3_XXS, x, 32, true, f);
    storeU16(b, f.dh);
    for (int e = 0; e < 64; ++e) b[2 + e] = uint8_t(f.idx[e]);
    for (int s = 0; s < 8; ++s) {
        uint32_t w = uint32_t(f.code[s]) << 28;
        for (int l = 0; l < 4; ++l) w |= uint32_t(f.signs[4 * s + l] & 127) << (7 * l);
        storeU32(b + 66 + 4 * s, w);
    }
}

void quantIQ3_S(const float* x, uint8_t* b) {
    Fit f;
    fitSuper(GgmlType::IQ3_S, x, 32, false, f);
    storeU16(b, f.dh);
    std::memset(b + 66, 0, 8);
    for (int e = 0; e < 64; ++e) {
        b[2 + e] = uint8_t(f.idx[e]);
        b[66 + e / 8] |= uint8_t((f.idx[e] >> 8) << (e % 8));
    }
    for (int g = 0; g < 32; ++g) b[74 + g] = f.signs[g];
    for (int p = 0; p < 4; ++p) b[106 + p] = uint8_t(f.code[2 * p] | f.code[2 * p + 1] << 4);
}

void quantIQ1_S(const float* x, uint8_t* b) {
    Fit f;
    fitSuper(GgmlType::IQ1_S, x, 32, false, f);
    storeU16(b, f.dh);
    for (int s = 0; s < 8; ++s) {
        uint16_t qh = uint16_t(f.code[s] << 12 | (f.neg[4 * s] ? 0x8000 : 0));
        for (int l = 0; l < 4; ++l) {
            b[2 + 4 * s + l] = uint8_t(f.idx[4 * s + l]);
            qh |= uint16_t((f.idx[4 * s + l] >> 8) << (3 * l));
        }
        storeU16(b + 34 + 2 * s, qh);
    }
}

void quantIQ1_M(const float* x, uint8_t* b) {
    Fit f;
    fitSuper(GgmlType::IQ1_M, x, 16, false, f);
    for (int g = 0; g < 32; ++g) b[g] = uint8_t(f.idx[g]);
    for (int h = 0; h < 16; ++h) {  // qh byte h: groups 2h (low nibble) and 2h + 1 (high nibble)
        const int g0 = 2 * h, g1 = 2 * h + 1;
        b[32 + h] = uint8_t(((f.idx[g0] >> 8) | (f.neg[g0] ? 8 : 0)) | ((f.idx[g1] >> 8) | (f.neg[g1] ? 8 : 0)) << 4);
    }
    uint16_t sc[4] = {};
    for (int s = 0; s < 8; ++s) sc[s / 2] |= uint16_t((f.code[2 * s] | f.code[2 * s + 1] << 3) << (6 * (s % 2)));
    for (int k = 0; k < 4; ++k) {
        sc[k] |= uint16_t(((f.dh >> (4 * k)) & 15) << 12);
        storeU16(b + 48 + 2 * k, sc[k]);
    }
}

}  // namespace

QuantFn iqQuantizer(GgmlType t) {
    switch (t) {
        case GgmlType::IQ2_XXS: return quantIQ2_XXS;
        case GgmlType::IQ2_XS: return quantIQ2_XS;
        case GgmlType::IQ2_S: return quantIQ2_S;
        case GgmlType::IQ3_XXS: return quantIQ3_XXS;
        case GgmlType::IQ3_S: return quantIQ3_S;
        case GgmlType::IQ1_S: return quantIQ1_S;
        case GgmlType::IQ1_M: return quantIQ1_M;
        default: return nullptr;
    }
}

}  // namespace moe::cpu::detail
