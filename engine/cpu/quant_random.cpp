// randomRows: random but valid blocks of every kCpuTypes type (kernel tests of types without a
// quantizer, fuzzing). All bytes of a block are drawn uniformly, so every code, grid index, sign
// and sub-block scale occurs; then the floating-point scales are redrawn so that no value exceeds
// about +-8: |f16 scale| <= a per-type bound (uniform, or one time in eight log-uniform down to
// the f16 subnormals), random sign; MXFP4's e8m0 exponent in 0 .. 127 (2^-128 .. 2^-1, so
// |value| <= 6, the lowest two subnormal).
#include <cmath>

#include "core/random.h"
#include "cpu/quant.h"
#include "cpu/quant_internal.h"

namespace moe::cpu {
namespace {

using detail::storeU16;

struct ScaleField {
    int offset;   // byte offset of an f16 in the block, -1: none
    float bound;  // largest |scale|
};
struct RandomSpec {
    ScaleField a, b;
};

// Bounds: 8 / (largest |code| * largest sub-block multiplier); "min" fields 4 (their product
// with the largest min code) where a value is a difference.
RandomSpec specOf(GgmlType t) {
    switch (t) {
        case GgmlType::Q4_0: return {{0, 1.0f}, {-1, 0}};                    // |q| <= 8
        case GgmlType::Q4_1: return {{0, 0.25f}, {2, 4.0f}};                 // q <= 15, + m
        case GgmlType::Q5_0: return {{0, 0.5f}, {-1, 0}};                    // |q| <= 16
        case GgmlType::Q5_1: return {{0, 0.125f}, {2, 4.0f}};                // q <= 31, + m
        case GgmlType::Q8_0: return {{0, 1.0f / 16}, {-1, 0}};               // |q| <= 128
        case GgmlType::IQ4_NL: return {{0, 8.0f / 127}, {-1, 0}};            // |T| <= 127
        case GgmlType::Q2_K: return {{80, 4.0f / 45}, {82, 4.0f / 15}};      // 15 * 3, 15
        case GgmlType::Q3_K: return {{108, 8.0f / 128}, {-1, 0}};            // 32 * 4
        case GgmlType::Q4_K: return {{0, 4.0f / 945}, {2, 4.0f / 63}};       // 63 * 15, 63
        case GgmlType::Q5_K: return {{0, 4.0f / 1953}, {2, 4.0f / 63}};      // 63 * 31, 63
        case GgmlType::Q6_K: return {{208, 8.0f / 4096}, {-1, 0}};           // 128 * 32
        case GgmlType::IQ4_XS: return {{0, 8.0f / 4064}, {-1, 0}};           // 32 * 127
        case GgmlType::TQ1_0: return {{52, 8.0f}, {-1, 0}};                  // |q - 1| <= 1
        case GgmlType::TQ2_0: return {{64, 4.0f}, {-1, 0}};                  // |q - 1| <= 2
        case GgmlType::IQ2_XXS: return {{0, 8.0f / (3.875f * 43)}, {-1, 0}}; // step 3.875 d, grid 43
        case GgmlType::IQ2_XS: return {{0, 8.0f / (3.875f * 43)}, {-1, 0}};
        case GgmlType::IQ2_S: return {{0, 8.0f / (3.875f * 43)}, {-1, 0}};
        case GgmlType::IQ3_XXS: return {{0, 8.0f / (7.75f * 62)}, {-1, 0}};  // step 7.75 d, grid 62
        case GgmlType::IQ3_S: return {{0, 8.0f / (31 * 15)}, {-1, 0}};      // step 31 d, grid 15
        case GgmlType::IQ1_S: return {{0, 8.0f / (15 * 1.125f)}, {-1, 0}};  // step 15 d, 1.125
        default: return {{-1, 0}, {-1, 0}};
    }
}

uint16_t randomScale(Rng& r, float bound) {
    float mag = r.uniform() * bound;
    if (r.below(8) == 0) mag = bound * std::ldexp(1.0f, -int(r.below(40)));  // down to f16 subnormals
    const uint16_t h = floatToFp16(mag);
    // rounding up may pass the bound by half an ulp: step down then
    const uint16_t hb = fp16ToFloat(h) > bound ? uint16_t(h - 1) : h;
    return uint16_t(hb | (r.below(2) ? 0x8000 : 0));
}

}  // namespace

std::vector<uint8_t> randomRows(GgmlType t, int64_t rows, int64_t cols, uint64_t seed) {
    const auto tr = *typeTraits(static_cast<uint32_t>(t));
    const uint64_t rb = rowBytes(t, uint64_t(cols));
    std::vector<uint8_t> out(size_t(rb * uint64_t(rows)));
    Rng r(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull);
    const int64_t n = rows * cols;
    switch (t) {
        case GgmlType::F32:
            for (int64_t i = 0; i < n; ++i) {
                const float v = 8.0f * r.uniformSigned();
                std::memcpy(out.data() + 4 * i, &v, 4);
            }
            return out;
        case GgmlType::F16:
        case GgmlType::BF16:
            for (int64_t i = 0; i < n; ++i) {
                const float v = 8.0f * r.uniformSigned();
                storeU16(out.data() + 2 * i, t == GgmlType::F16 ? floatToFp16(v) : floatToBf16(v));
            }
            return out;
        default: break;
    }
    const RandomSpec spec = specOf(t);
    const int64_t blocks = n / tr.blockSize;
    for (int64_t k = 0; k < blocks; ++k) {
        uint8_t* b = out.data() + uint64_t(k) * tr.blockBytes;
        for (uint32_t i = 0; i < tr.blockBytes; ++i) b[i] = uint8_t(r.next() >> 56);
        if (spec.a.offset >= 0) storeU16(b + spec.a.offset, randomScale(r, spec.a.bound));
        if (spec.b.offset >= 0) storeU16(b + spec.b.offset, randomScale(r, spec.b.bound));
        if (t == GgmlType::MXFP4) b[0] = uint8_t(r.below(128));
        if (t == GgmlType::IQ1_M) {  // the super-scale is the top nibbles of the four scale words
            const uint16_t d = randomScale(r, 8.0f / (15 * 1.125f));
            for (int w = 0; w < 4; ++w) b[48 + 2 * w + 1] = uint8_t((b[48 + 2 * w + 1] & 0x0f) | (((d >> (4 * w)) & 15) << 4));
        }
    }
    return out;
}

}  // namespace moe::cpu
