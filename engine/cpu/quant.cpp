// GGUF block formats: dequantization (the spec of every shader's decoder), simple quantizers,
// and row dot products. Layouts match ggml bit for bit. This file holds Q8_0, Q4_0, Q4_K and Q6_K
// and the dispatch; the other block types live in quant_legacy.cpp (Q4_1 Q5_0 Q5_1 IQ4_NL
// MXFP4), quant_kquant.cpp (Q2_K Q3_K Q5_K IQ4_XS), quant_ternary.cpp (TQ1_0 TQ2_0),
// quant_iq.cpp (the IQ grid types) and quant_iq_quantize.cpp; random blocks in quant_random.cpp.
#include "cpu/quant.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "cpu/quant_internal.h"

namespace moe::cpu {
namespace {

using detail::kQK;
using detail::loadU16;
using detail::scaleMinK4;
using detail::storeU16;

int nearestInt(float x) { return int(std::lround(x)); }

// ---- Q8_0: { f16 d; int8 qs[32]; }
void dequantQ8_0(const uint8_t* b, float* y) {
    const float d = fp16ToFloat(loadU16(b));
    const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
    for (int j = 0; j < 32; ++j) y[j] = float(qs[j]) * d;
}

void quantQ8_0(const float* x, uint8_t* b) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    storeU16(b, floatToFp16(d));
    for (int j = 0; j < 32; ++j) b[2 + j] = uint8_t(int8_t(std::round(x[j] * id)));
}

// ---- Q4_0: { f16 d; uint8 qs[16]; } v[j] = (qs[j] & 15) - 8, v[j + 16] = (qs[j] >> 4) - 8
void dequantQ4_0(const uint8_t* b, float* y) {
    const float d = fp16ToFloat(loadU16(b));
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
        y[j] = float(int(qs[j] & 15) - 8) * d;
        y[j + 16] = float(int(qs[j] >> 4) - 8) * d;
    }
}

void quantQ4_0(const float* x, uint8_t* b) {
    float amax = 0.0f, max = 0.0f;  // max: the value of largest magnitude, with its sign
    for (int j = 0; j < 32; ++j) {
        if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    storeU16(b, floatToFp16(d));
    for (int j = 0; j < 16; ++j) {
        const int q0 = std::min(15, int(int8_t(x[j] * id + 8.5f)));
        const int q1 = std::min(15, int(int8_t(x[j + 16] * id + 8.5f)));
        b[2 + j] = uint8_t(q0 | (q1 << 4));
    }
}

// ---- Q4_K: { f16 d; f16 dmin; uint8 scales[12]; uint8 qs[128]; }
// Eight 32-value sub-blocks, value = d * sc[j] * q - dmin * m[j], with 6-bit sc/m packed as:
//   j < 4:  sc = scales[j] & 63,  m = scales[j + 4] & 63
//   j >= 4: sc = (scales[j + 4] & 15) | (scales[j - 4] >> 6) << 4,
//           m  = (scales[j + 4] >> 4) | (scales[j] >> 6) << 4
// Values 64c .. 64c+31 are the low nibbles of qs[32c .. 32c+31] (sub-block 2c), values
// 64c+32 .. 64c+63 their high nibbles (sub-block 2c+1).
void dequantQ4_K(const uint8_t* b, float* y) {
    const float d = fp16ToFloat(loadU16(b));
    const float dmin = fp16ToFloat(loadU16(b + 2));
    const uint8_t* scales = b + 4;
    const uint8_t* qs = b + 16;
    for (int c = 0; c < 4; ++c) {
        int sc0, m0, sc1, m1;
        scaleMinK4(2 * c, scales, sc0, m0);
        scaleMinK4(2 * c + 1, scales, sc1, m1);
        const float d0 = d * float(sc0), min0 = dmin * float(m0);
        const float d1 = d * float(sc1), min1 = dmin * float(m1);
        const uint8_t* q = qs + 32 * c;
        float* yc = y + 64 * c;
        for (int l = 0; l < 32; ++l) yc[l] = d0 * float(q[l] & 15) - min0;
        for (int l = 0; l < 32; ++l) yc[l + 32] = d1 * float(q[l] >> 4) - min1;
    }
}

void quantQ4_K(const float* x, uint8_t* b) {
    float scale[8], minv[8];  // per sub-block: step and the (non-negative) offset subtracted
    float maxScale = 0.0f, maxMin = 0.0f;
    for (int j = 0; j < 8; ++j) {
        float lo = 0.0f, hi = x[32 * j];
        for (int l = 0; l < 32; ++l) {
            lo = std::min(lo, x[32 * j + l]);
            hi = std::max(hi, x[32 * j + l]);
        }
        scale[j] = (hi - lo) / 15.0f;
        minv[j] = -lo;
        maxScale = std::max(maxScale, scale[j]);
        maxMin = std::max(maxMin, minv[j]);
    }
    const uint16_t dh = floatToFp16(maxScale / 63.0f), dminh = floatToFp16(maxMin / 63.0f);
    const float d = fp16ToFloat(dh), dmin = fp16ToFloat(dminh);
    // per sub-block, the 6-bit (scale, min) pair with the least squared error among the
    // neighbours of the rounded values
    auto codeOf = [&](float v, float step, float off) {
        return step > 0.0f ? std::clamp(nearestInt((v + off) / step), 0, 15) : 0;
    };
    int sc[8], m[8];
    for (int j = 0; j < 8; ++j) {
        const int sc0 = d > 0.0f ? nearestInt(scale[j] / d) : 0;
        const int m0 = dmin > 0.0f ? int(std::ceil(minv[j] / dmin)) : 0;
        double best = INFINITY;
        for (int a = std::max(0, sc0 - 1); a <= std::min(63, sc0 + 1); ++a)
            for (int bm = std::max(0, m0 - 1); bm <= std::min(63, m0); ++bm) {
                const float step = d * float(a), off = dmin * float(bm);
                double err = 0.0;
                for (int l = 0; l < 32; ++l) {
                    const float v = x[32 * j + l];
                    const float e = step * float(codeOf(v, step, off)) - off - v;
                    err += double(e) * double(e);
                }
                if (err < best) { best = err; sc[j] = a; m[j] = bm; }
            }
    }
    storeU16(b, dh);
    storeU16(b + 2, dminh);
    uint8_t* s = b + 4;
    for (int j = 0; j < 4; ++j) {
        s[j] = uint8_t((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = uint8_t((m[j] & 63) | ((m[j + 4] >> 4) << 6));
        s[j + 8] = uint8_t((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
    }
    uint8_t* qs = b + 16;
    std::memset(qs, 0, 128);
    for (int i = 0; i < kQK; ++i) {
        const int j = i / 32;
        const int q = codeOf(x[i], d * float(sc[j]), dmin * float(m[j]));
        const int c = i / 64, l = i % 32;
        qs[32 * c + l] |= uint8_t((i % 64) < 32 ? q : q << 4);
    }
}

// ---- Q6_K: { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; f16 d; }
// Value i = d * scales[i / 16] * (q - 32), q a 6-bit number. With h = i / 128, r = i % 128,
// c = r / 32, l = r % 32: the low 4 bits are ql[64h + l + 32*(c & 1)] (low nibble for c < 2,
// high nibble for c >= 2), the high 2 bits are (qh[32h + l] >> 2c) & 3.
void dequantQ6_K(const uint8_t* b, float* y) {
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = fp16ToFloat(loadU16(b + 208));
    for (int h = 0; h < 2; ++h) {
        const uint8_t* l4 = ql + 64 * h;
        const uint8_t* h2 = qh + 32 * h;
        const int8_t* s = sc + 8 * h;
        float* yh = y + 128 * h;
        for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q0 = ((l4[l] & 15) | (((h2[l] >> 0) & 3) << 4)) - 32;
            const int q1 = ((l4[l + 32] & 15) | (((h2[l] >> 2) & 3) << 4)) - 32;
            const int q2 = ((l4[l] >> 4) | (((h2[l] >> 4) & 3) << 4)) - 32;
            const int q3 = ((l4[l + 32] >> 4) | (((h2[l] >> 6) & 3) << 4)) - 32;
            yh[l] = d * float(s[is + 0]) * float(q0);
            yh[l + 32] = d * float(s[is + 2]) * float(q1);
            yh[l + 64] = d * float(s[is + 4]) * float(q2);
            yh[l + 96] = d * float(s[is + 6]) * float(q3);
        }
    }
}

void quantQ6_K(const float* x, uint8_t* b) {
    float scale[16];
    float maxAbsScale = 0.0f;
    for (int j = 0; j < 16; ++j) {
        float amax = 0.0f, max = 0.0f;
        for (int l = 0; l < 16; ++l) {
            const float v = x[16 * j + l];
            if (std::fabs(v) > amax) { amax = std::fabs(v); max = v; }
        }
        scale[j] = max / -32.0f;  // the largest magnitude maps to q = -32 exactly
        maxAbsScale = std::max(maxAbsScale, std::fabs(scale[j]));
    }
    const uint16_t dh = floatToFp16(maxAbsScale / 127.0f);
    const float d = fp16ToFloat(dh);
    int8_t sc[16];
    for (int j = 0; j < 16; ++j) sc[j] = int8_t(d > 0.0f ? std::clamp(nearestInt(scale[j] / d), -127, 127) : 0);
    uint8_t* ql = b;
    uint8_t* qh = b + 128;
    std::memset(ql, 0, 192);
    std::memcpy(b + 192, sc, 16);
    storeU16(b + 208, dh);
    for (int i = 0; i < kQK; ++i) {
        const float step = d * float(sc[i / 16]);
        const int q = (step != 0.0f ? std::clamp(nearestInt(x[i] / step), -32, 31) : 0) + 32;
        const int h = i / 128, r = i % 128, c = r / 32, l = r % 32;
        ql[64 * h + l + 32 * (c & 1)] |= uint8_t(c < 2 ? (q & 15) : (q & 15) << 4);
        qh[32 * h + l] |= uint8_t((q >> 4) << (2 * c));
    }
}

// Per-type block codec: values per block, bytes per block, decoder and (optional) encoder.
struct Codec {
    void (*dequant)(const uint8_t*, float*);
    void (*quant)(const float*, uint8_t*);
};

Codec codecOf(GgmlType t) {
    using namespace detail;
    switch (t) {
        case GgmlType::Q8_0: return {dequantQ8_0, quantQ8_0};
        case GgmlType::Q4_0: return {dequantQ4_0, quantQ4_0};
        case GgmlType::Q4_1: return {dequantQ4_1, quantQ4_1};
        case GgmlType::Q5_0: return {dequantQ5_0, quantQ5_0};
        case GgmlType::Q5_1: return {dequantQ5_1, quantQ5_1};
        case GgmlType::IQ4_NL: return {dequantIQ4_NL, quantIQ4_NL};
        case GgmlType::MXFP4: return {dequantMXFP4, quantMXFP4};
        case GgmlType::Q2_K: return {dequantQ2_K, quantQ2_K};
        case GgmlType::Q3_K: return {dequantQ3_K, quantQ3_K};
        case GgmlType::Q4_K: return {dequantQ4_K, quantQ4_K};
        case GgmlType::Q5_K: return {dequantQ5_K, quantQ5_K};
        case GgmlType::Q6_K: return {dequantQ6_K, quantQ6_K};
        case GgmlType::IQ4_XS: return {dequantIQ4_XS, quantIQ4_XS};
        case GgmlType::TQ1_0: return {dequantTQ1_0, quantTQ1_0};
        case GgmlType::TQ2_0: return {dequantTQ2_0, quantTQ2_0};
        case GgmlType::IQ2_XXS: return {dequantIQ2_XXS, iqQuantizer(t)};
        case GgmlType::IQ2_XS: return {dequantIQ2_XS, iqQuantizer(t)};
        case GgmlType::IQ2_S: return {dequantIQ2_S, iqQuantizer(t)};
        case GgmlType::IQ3_XXS: return {dequantIQ3_XXS, iqQuantizer(t)};
        case GgmlType::IQ3_S: return {dequantIQ3_S, iqQuantizer(t)};
        case GgmlType::IQ1_S: return {dequantIQ1_S, iqQuantizer(t)};
        case GgmlType::IQ1_M: return {dequantIQ1_M, iqQuantizer(t)};
        default: return {nullptr, nullptr};
    }
}

bool isScalar(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

}  // namespace

bool isWeightType(GgmlType t) {
    for (GgmlType w : kWeightTypes)
        if (w == t) return true;
    return false;
}

bool hasDequant(GgmlType t) {
    for (GgmlType c : kCpuTypes)
        if (c == t) return true;
    return false;
}

bool canQuantize(GgmlType t) { return hasDequant(t) && (isScalar(t) || codecOf(t).quant != nullptr); }

bool searchQuantizer(GgmlType t) {
    switch (t) {
        case GgmlType::IQ2_XXS:
        case GgmlType::IQ2_XS:
        case GgmlType::IQ2_S:
        case GgmlType::IQ3_XXS:
        case GgmlType::IQ3_S:
        case GgmlType::IQ1_S:
        case GgmlType::IQ1_M: return true;
        default: return false;
    }
}

int64_t blockSize(GgmlType t) { return typeTraits(static_cast<uint32_t>(t))->blockSize; }

void dequantizeRow(GgmlType t, const uint8_t* src, float* dst, int64_t n) {
    assert(hasDequant(t) && n % blockSize(t) == 0);
    switch (t) {
        case GgmlType::F32: std::memcpy(dst, src, size_t(n) * 4); return;
        case GgmlType::F16:
            for (int64_t i = 0; i < n; ++i) dst[i] = fp16ToFloat(loadU16(src + 2 * i));
            return;
        case GgmlType::BF16:
            for (int64_t i = 0; i < n; ++i) dst[i] = bf16ToFloat(loadU16(src + 2 * i));
            return;
        default: break;
    }
    const Codec c = codecOf(t);
    assert(c.dequant && "dequantizeRow: unsupported type");
    if (!c.dequant) return;
    const auto tr = *typeTraits(static_cast<uint32_t>(t));
    for (int64_t b = 0; b < n / tr.blockSize; ++b) c.dequant(src + tr.blockBytes * b, dst + tr.blockSize * b);
}

std::vector<uint8_t> quantizeRows(GgmlType t, const float* src, int64_t rows, int64_t cols) {
    assert(canQuantize(t) && cols % blockSize(t) == 0);
    const uint64_t rb = rowBytes(t, uint64_t(cols));
    std::vector<uint8_t> out(size_t(rb * uint64_t(rows)));
    const Codec c = codecOf(t);
    const auto tr = *typeTraits(static_cast<uint32_t>(t));
    for (int64_t r = 0; r < rows; ++r) {
        const float* x = src + r * cols;
        uint8_t* y = out.data() + uint64_t(r) * rb;
        switch (t) {
            case GgmlType::F32: std::memcpy(y, x, size_t(cols) * 4); break;
            case GgmlType::F16:
                for (int64_t i = 0; i < cols; ++i) storeU16(y + 2 * i, floatToFp16(x[i]));
                break;
            case GgmlType::BF16:
                for (int64_t i = 0; i < cols; ++i) storeU16(y + 2 * i, floatToBf16(x[i]));
                break;
            default:
                assert(c.quant && "quantizeRows: unsupported type");
                if (!c.quant) break;
                for (int64_t b = 0; b < cols / tr.blockSize; ++b) c.quant(x + tr.blockSize * b, y + tr.blockBytes * b);
        }
    }
    return out;
}

double dotF32(const float* a, const float* b, int64_t n) {
    double acc[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) acc[l] += double(a[i + l]) * double(b[i + l]);
    for (; i < n; ++i) acc[0] += double(a[i]) * double(b[i]);
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

float dotRow(GgmlType t, const uint8_t* row, const float* x, int64_t n) {
    // one super-block at a time keeps the scratch on the stack
    const int64_t bs = blockSize(t);
    const int64_t chunk = bs == 1 ? kQK : bs;
    const uint64_t chunkBytes = rowBytes(t, uint64_t(chunk));
    float tmp[kQK];
    double sum = 0.0;
    int64_t i = 0;
    for (; i + chunk <= n; i += chunk) {
        dequantizeRow(t, row + uint64_t(i / chunk) * chunkBytes, tmp, chunk);
        sum += dotF32(tmp, x + i, chunk);
    }
    if (i < n) {  // only for 1-value-block types with n % 256 != 0
        dequantizeRow(t, row + rowBytes(t, uint64_t(i)), tmp, n - i);
        sum += dotF32(tmp, x + i, n - i);
    }
    return float(sum);
}

}  // namespace moe::cpu
