// Ternary super-blocks TQ1_0 and TQ2_0: 256 values in {-1, 0, 1} times one f16 scale. Decoders
// bit exact with ggml; quantizers: d = absmax, q = round(x / d) (ggml's reference bytes).
#include <algorithm>
#include <cmath>

#include "cpu/quant_internal.h"

namespace moe::cpu::detail {

// ---- TQ2_0: { uint8 qs[64]; f16 d; }                                       66 bytes / 256
// 2-bit codes q in 0..2 (3 is decoded too): value i = (q - 1) * d with, for h = i / 128,
// c = (i % 128) / 32, l = i % 32, q = (qs[32h + l] >> 2c) & 3.
void dequantTQ2_0(const uint8_t* b, float* y) {
    const float d = loadF16(b + 64);
    for (int i = 0; i < kQK; ++i) {
        const int q = (b[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3;
        y[i] = float(q - 1) * d;
    }
}

// ---- TQ1_0: { uint8 qs[48]; uint8 qh[4]; f16 d; }                          54 bytes / 256
// Base-3 digits packed five per byte (four per qh byte) as a fixed-point fraction: the byte is
// ceil(N * 256 / 243) for the 5-digit number N (first digit most significant). Digit n of byte
// q is ((uint8)(q * 3^n) * 3) >> 8, and the value is (digit - 1) * d. Order:
//   values   0..159: qs[0..31],  digit n of qs[m] -> value 32n + m
//   values 160..239: qs[32..47], digit n of qs[32 + m] -> value 160 + 16n + m
//   values 240..255: qh[0..3],   digit n (< 4) of qh[m] -> value 240 + 4n + m
namespace {
int trit(uint8_t q, int n) {
    static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
    const uint8_t r = uint8_t(q * kPow3[n]);
    return (int(r) * 3) >> 8;
}
}  // namespace

void dequantTQ1_0(const uint8_t* b, float* y) {
    const uint8_t* qs = b;
    const uint8_t* qh = b + 48;
    const float d = loadF16(b + 52);
    for (int n = 0; n < 5; ++n)
        for (int m = 0; m < 32; ++m) y[32 * n + m] = float(trit(qs[m], n) - 1) * d;
    for (int n = 0; n < 5; ++n)
        for (int m = 0; m < 16; ++m) y[160 + 16 * n + m] = float(trit(qs[32 + m], n) - 1) * d;
    for (int n = 0; n < 4; ++n)
        for (int m = 0; m < 4; ++m) y[240 + 4 * n + m] = float(trit(qh[m], n) - 1) * d;
}

namespace {
// d = absmax; code = round(x / d) + 1 in 0..2
float ternaryCodes(const float* x, uint8_t* q) {
    float amax = 0.0f;
    for (int i = 0; i < kQK; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float id = amax != 0.0f ? 1.0f / amax : 0.0f;
    for (int i = 0; i < kQK; ++i) q[i] = uint8_t(std::clamp(int(std::lround(x[i] * id)), -1, 1) + 1);
    return amax;
}
// digits (most significant first) -> the byte that decodes back to them
uint8_t packTrits(const uint8_t* digits, int count) {
    int v = 0;
    for (int n = 0; n < count; ++n) v = v * 3 + digits[n];
    for (int n = count; n < 5; ++n) v *= 3;  // qh bytes: the fifth digit is 0
    return uint8_t((v * 256 + 242) / 243);
}
}  // namespace

void quantTQ2_0(const float* x, uint8_t* b) {
    uint8_t q[kQK];
    const float d = ternaryCodes(x, q);
    std::memset(b, 0, 64);
    for (int i = 0; i < kQK; ++i) b[32 * (i / 128) + i % 32] |= uint8_t(q[i] << (2 * ((i % 128) / 32)));
    storeU16(b + 64, floatToFp16(d));
}

void quantTQ1_0(const float* x, uint8_t* b) {
    uint8_t q[kQK], dg[5];
    const float d = ternaryCodes(x, q);
    for (int m = 0; m < 32; ++m) {
        for (int n = 0; n < 5; ++n) dg[n] = q[32 * n + m];
        b[m] = packTrits(dg, 5);
    }
    for (int m = 0; m < 16; ++m) {
        for (int n = 0; n < 5; ++n) dg[n] = q[160 + 16 * n + m];
        b[32 + m] = packTrits(dg, 5);
    }
    for (int m = 0; m < 4; ++m) {
        for (int n = 0; n < 4; ++n) dg[n] = q[240 + 4 * n + m];
        b[48 + m] = packTrits(dg, 4);
    }
    storeU16(b + 52, floatToFp16(d));
}

}  // namespace moe::cpu::detail
