// Internal to engine/cpu/quant*.cpp: byte helpers and the per-block codecs of every GGUF type.
// One block in, one block out: `dequant*` writes blockSize(t) floats, `quant*` writes one block
// of bytes. Each decoder reproduces ggml's reference dequantization bit for bit: the same float
// operations in the same order, each rounded on its own (these files build with
// -ffp-contract=off so that no compiler fuses a multiply and an add).
#pragma once
#include <cstdint>
#include <cstring>

#include "core/half.h"
#include "core/types.h"

namespace moe::cpu::detail {

constexpr int kQK = 256;  // values per K-quant / IQ super-block

inline uint16_t loadU16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t loadU32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline void storeU16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); }
inline void storeU32(uint8_t* p, uint32_t v) {
    for (int k = 0; k < 4; ++k) p[k] = uint8_t(v >> (8 * k));
}
inline float loadF16(const uint8_t* p) { return fp16ToFloat(loadU16(p)); }

// MXFP4's e8m0 scale halved (the e2m1 table holds doubled values): 2^(e - 128), as a float.
// e = 0 and e = 1 give the subnormals 2^-128 and 2^-127; e = 255 gives 2^127.
inline float e8m0Half(uint8_t e) { return bitsToFloat(e < 2 ? 0x00200000u << e : uint32_t(e - 1) << 23); }

// ---- quant_legacy.cpp (32-value blocks)
void dequantQ4_1(const uint8_t* b, float* y);
void dequantQ5_0(const uint8_t* b, float* y);
void dequantQ5_1(const uint8_t* b, float* y);
void dequantIQ4_NL(const uint8_t* b, float* y);
void dequantMXFP4(const uint8_t* b, float* y);
void quantQ4_1(const float* x, uint8_t* b);
void quantQ5_0(const float* x, uint8_t* b);
void quantQ5_1(const float* x, uint8_t* b);
void quantIQ4_NL(const float* x, uint8_t* b);
void quantMXFP4(const float* x, uint8_t* b);

// ---- quant_kquant.cpp (256-value super-blocks)
void dequantQ2_K(const uint8_t* b, float* y);
void dequantQ3_K(const uint8_t* b, float* y);
void dequantQ5_K(const uint8_t* b, float* y);
void dequantIQ4_XS(const uint8_t* b, float* y);
void quantQ2_K(const float* x, uint8_t* b);
void quantQ3_K(const float* x, uint8_t* b);
void quantQ5_K(const float* x, uint8_t* b);
void quantIQ4_XS(const float* x, uint8_t* b);
// Q4_K/Q5_K's packed 6-bit (scale, min) of sub-block j (0..7)
void scaleMinK4(int j, const uint8_t* s, int& sc, int& m);
void packScaleMinK4(const int* sc, const int* m, uint8_t* s);

// ---- quant_ternary.cpp
void dequantTQ1_0(const uint8_t* b, float* y);
void dequantTQ2_0(const uint8_t* b, float* y);
void quantTQ1_0(const float* x, uint8_t* b);
void quantTQ2_0(const float* x, uint8_t* b);

// ---- quant_iq.cpp (grid types)
void dequantIQ2_XXS(const uint8_t* b, float* y);
void dequantIQ2_XS(const uint8_t* b, float* y);
void dequantIQ2_S(const uint8_t* b, float* y);
void dequantIQ3_XXS(const uint8_t* b, float* y);
void dequantIQ3_S(const uint8_t* b, float* y);
void dequantIQ1_S(const uint8_t* b, float* y);
void dequantIQ1_M(const uint8_t* b, float* y);

// ---- quant_iq_quantize.cpp (exhaustive-search quantizers of the grid types); nullptr if none
using QuantFn = void (*)(const float* x, uint8_t* b);
QuantFn iqQuantizer(GgmlType t);
}  // namespace moe::cpu::detail
