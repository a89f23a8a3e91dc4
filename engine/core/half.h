// IEEE half and bfloat16 conversions (bit exact, round-to-nearest-even), used by the GGUF
// block formats, the CPU reference and the test-data generators.
#pragma once
#include <cstdint>
#include <cstring>

namespace moe {

inline float bitsToFloat(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t floatToBits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

inline float fp16ToFloat(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0) {
        if (mant == 0) return bitsToFloat(sign);
        // subnormal: normalise
        int e = -1;
        do { ++e; mant <<= 1; } while ((mant & 0x400) == 0);
        mant &= 0x3ff;
        return bitsToFloat(sign | uint32_t(127 - 15 - e) << 23 | mant << 13);
    }
    if (exp == 31) return bitsToFloat(sign | 0x7f800000u | mant << 13);
    return bitsToFloat(sign | (exp + 112) << 23 | mant << 13);
}

inline uint16_t floatToFp16(float f) {
    uint32_t x = floatToBits(f);
    const uint32_t sign = (x >> 16) & 0x8000;
    x &= 0x7fffffff;
    if (x > 0x7f800000) return uint16_t(sign | 0x7e00);          // NaN
    if (x >= 0x477ff000) return uint16_t(sign | 0x7c00);         // overflow -> inf (incl. rounding)
    if (x < 0x38800000) {                                        // subnormal or zero
        if (x < 0x33000000) return uint16_t(sign);
        const uint32_t e = x >> 23;
        uint32_t m = (x & 0x7fffff) | 0x800000;
        const uint32_t shift = 126 - e;                          // 14 + (113 - e) - 1
        uint32_t r = m >> (shift);
        const uint32_t rem = m & ((1u << shift) - 1);
        const uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) ++r;
        return uint16_t(sign | r);
    }
    uint32_t r = x - 0x38000000;                                // rebias 127 -> 15
    const uint32_t rem = r & 0x1fff;
    r >>= 13;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) ++r;
    return uint16_t(sign | r);
}

inline float bf16ToFloat(uint16_t b) { return bitsToFloat(uint32_t(b) << 16); }

inline uint16_t floatToBf16(float f) {
    uint32_t x = floatToBits(f);
    if ((x & 0x7fffffff) > 0x7f800000) return uint16_t((x >> 16) | 0x40);  // quiet NaN
    x += 0x7fff + ((x >> 16) & 1);
    return uint16_t(x >> 16);
}

}  // namespace moe
