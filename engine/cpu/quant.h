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

// Values per block of a weight type (1 for F32/F16/BF16, 32 for Q8_0/Q4_0, 256 for Q4_K/Q6_K).
int64_t blockSize(GgmlType t);

// src: rowBytes(t, n) bytes (one row of n values); dst: (n) floats. n % blockSize(t) == 0.
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
std::vector<uint8_t> quantizeRows(GgmlType t, const float* src, int64_t rows, int64_t cols);

// row: rowBytes(t, n) bytes; x: (n). Returns sum_i dequant(row)[i] * x[i], accumulated in double
// (the oracle is more exact than any shader; GPU tests compare with an NMSE tolerance).
float dotRow(GgmlType t, const uint8_t* row, const float* x, int64_t n);

// sum_i a[i] * b[i] over (n) floats, accumulated in double in 8 independent lanes (vectorises).
double dotF32(const float* a, const float* b, int64_t n);

}  // namespace moe::cpu
