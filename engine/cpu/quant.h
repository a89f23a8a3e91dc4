// GGUF block formats on the CPU: dequantize a row, quantize rows (test data and model tools),
// and dot a quantized row with a float vector. Bit layouts are exactly ggml's (see core/types.h);
// real GGUF files decode through these functions and every GPU dequantizer must match them.
#pragma once
#include <cstdint>
#include <vector>

#include "core/types.h"

namespace moe::cpu {

// True for the types in kWeightTypes (the ones below accept).
bool isWeightType(GgmlType t);

// Every block type the CPU reference dequantizes (a superset of kWeightTypes while the GPU
// kernels of new types are being added), in GGUF id order.
inline constexpr GgmlType kCpuTypes[] = {
    GgmlType::F32,   GgmlType::F16,    GgmlType::Q4_0,    GgmlType::Q4_1,   GgmlType::Q5_0,  GgmlType::Q5_1,
    GgmlType::Q8_0,  GgmlType::Q2_K,   GgmlType::Q3_K,    GgmlType::Q4_K,   GgmlType::Q5_K,  GgmlType::Q6_K,
    GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ3_XXS, GgmlType::IQ1_S, GgmlType::IQ4_NL, GgmlType::IQ3_S,
    GgmlType::IQ2_S, GgmlType::IQ4_XS, GgmlType::IQ1_M,   GgmlType::BF16,   GgmlType::TQ1_0, GgmlType::TQ2_0,
    GgmlType::MXFP4};
bool hasDequant(GgmlType t);   // t is in kCpuTypes
bool canQuantize(GgmlType t);  // quantizeRows accepts t (today: every kCpuTypes type)
// The quantizer of t is an exhaustive grid search (IQ1/IQ2/IQ3: ~1 ms per 256 values): kernel
// tests and the self-test take randomRows for these types instead.
bool searchQuantizer(GgmlType t);

// Random but valid rows of any kCpuTypes type (seeded, deterministic): every field drawn over
// its whole range (scales, signs, grid indices), with the f16/e8m0 scales kept finite and small
// enough that dequantized values stay within about +-8. For kernel tests of types without a
// quantizer, and fuzzing.
std::vector<uint8_t> randomRows(GgmlType t, int64_t rows, int64_t cols, uint64_t seed);

// Values per block of a weight type (1 for F32/F16/BF16, 32 for Q8_0/Q4_0, 256 for Q4_K/Q6_K).
int64_t blockSize(GgmlType t);

// src: rowBytes(t, n) bytes (one row of n values); dst: (n) floats. n % blockSize(t) == 0.
// t: any kCpuTypes type. Bit exact with ggml's dequantize_row_* for every type (the block
// layouts are documented where each is decoded: quant.cpp, quant_legacy.cpp, quant_kquant.cpp,
// quant_ternary.cpp, quant_iq.cpp; tables in cpu/iq_tables.h, shared with the shaders).
void dequantizeRow(GgmlType t, const uint8_t* src, float* dst, int64_t n);

// src: (rows, cols) floats, row-major; returns rows * rowBytes(t, cols) bytes, each row starting
// at r * rowBytes(t, cols). cols % blockSize(t) == 0.
//   F16/BF16: round to nearest even.
//   Q8_0: d = absmax/127, q = round(x/d) (ggml's reference quantizer, bit for bit).
//   Q4_0: d = m/-8 where m is the value of largest magnitude (with its sign),
//         q = min(15, trunc(x/d + 8.5)) (ggml's reference quantizer, bit for bit).
//   Q4_K: per 32-value sub-block scale = (max - min(0, min)) / 15 and min = -min(0, min);
//         6-bit scales and mins relative to super-block d = max scale / 63, dmin = max min / 63;
//         each sub-block keeps the best (sc, m) among the neighbours of the rounded values;
//         q = round((x + dmin*m) / (d*sc)) clamped to [0, 15]. Not ggml's search: a simple,
//         valid quantizer (NMSE ~ 5e-3 on Gaussian data; Q4_0: 7e-3).
//   Q6_K: per 16-value sub-block scale = m/-32 (m: signed absmax), int8 scales relative to
//         super-block d = max |scale| / 127, q = round(x / (d*sc)) clamped to [-32, 31].
//   Q4_1, Q5_0, Q5_1, MXFP4, TQ1_0, TQ2_0: ggml's reference quantizers, byte for byte (min/max
//         or signed-absmax scales; MXFP4 e = floor(log2 absmax) - 2 + 127, nearest e2m1 code;
//         TQ d = absmax, q = round(x / d)).
//   Q2_K, Q5_K: per sub-block (step, offset) fitted by least squares over a few ranges, 4/6-bit
//         scales and mins relative to d = max step / 15 (63), dmin likewise, each sub-block
//         keeping the best neighbour of its rounded (sc, m). Q3_K: per 16-value sub-block step
//         of least error, 6-bit signed scales relative to d = (largest step) / -32.
//   IQ4_NL, IQ4_XS: scale search over m / (-127 + k/8) with a least-squares refit, nearest
//         table codes (IQ4_XS: 6-bit sub-block scales relative to d = largest scale / -32).
//   IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M: per-unit step search with an
//         exhaustive nearest-grid-entry search (slow: ~1 ms per 256 values for IQ1), signs
//         from x (an odd count of negatives flips the smallest where the 8th sign is parity).
//   None of the searches is ggml's; NMSE on N(0,1) data in tests/test_quant_types.cpp.
std::vector<uint8_t> quantizeRows(GgmlType t, const float* src, int64_t rows, int64_t cols);

// row: rowBytes(t, n) bytes, t any kCpuTypes type; x: (n). Returns sum_i dequant(row)[i] * x[i], accumulated in double
// (the oracle is more exact than any shader; GPU tests compare with an NMSE tolerance).
float dotRow(GgmlType t, const uint8_t* row, const float* x, int64_t n);

// sum_i a[i] * b[i] over (n) floats, accumulated in double in 8 independent lanes (vectorises).
double dotF32(const float* a, const float* b, int64_t n);

}  // namespace moe::cpu
