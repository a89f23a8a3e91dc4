// CPU reference of the dense ops of the forward pass: the spec every compute shader mirrors and
// the oracle of every GPU test. Plain functions over row-major float buffers with explicit
// shapes; outputs may alias inputs only where stated ("in place" / "out may alias").
#pragma once
#include <cmath>
#include <cstdint>

#include "core/types.h"

namespace moe::cpu {

// A weight matrix (or a stack of them) as stored in GGUF: rows of rowBytes(type, cols) bytes.
struct WeightView {
    GgmlType type = GgmlType::F32;
    const uint8_t* data = nullptr;
};

// Embedding lookup. table: (nTableRows, nCols) in type t; ids: (nIds), each in [0, nTableRows);
// out: (nIds, nCols) F32. nCols % blockSize(t) == 0.
void getRows(GgmlType t, const uint8_t* table, int64_t nCols, const int32_t* ids, int64_t nIds, float* out);

// Y = X · Wᵀ. w: (rows, cols) in type t, row r at r * rowBytes(t, cols); x: (nTok, cols);
// y: (nTok, rows). cols % blockSize(t) == 0. Each dot product accumulates in double.
void matMul(GgmlType t, const uint8_t* w, int64_t rows, int64_t cols, const float* x, int64_t nTok, float* y);
// matMul with nTok = 1. x: (cols); y: (rows).
void matVec(GgmlType t, const uint8_t* w, int64_t rows, int64_t cols, const float* x, float* y);

// y[t, i] = x[t, i] / sqrt(mean_i(x[t, :]²) + eps) * weight[i]  (weight == nullptr: 1).
// x: (nTok, n); weight: (n) or null; y: (nTok, n), may alias x. Mean accumulated in double.
void rmsNorm(const float* x, const float* weight, int64_t nTok, int64_t n, float eps, float* y);

// Rotary position embedding, in place. x: (nTok, nHeads, headDim); positions: (nTok).
// For i in [0, nRot/2): theta = positions[t] * freqBase^(-2i/nRot), rotating the pair
//   normal (neox == false): (x[2i], x[2i+1])       NeoX (neox == true): (x[i], x[i + nRot/2])
// as (a, b) -> (a cos - b sin, a sin + b cos). Dims >= nRot are untouched. nRot even, <= headDim.
// theta is computed in double (position * pow(base, -2i/nRot)) then rounded to float for cos/sin.
// With YaRN scaling (yarn != null), pair i's angle is theta * g_i, where (in float arithmetic)
//   ramp_i = 1 - clamp((i - corrLow) / max(0.001, corrHigh - corrLow), 0, 1), mix = ramp_i * extFactor,
//   g_i = freqScale * (1 - mix) + mix
// (interpolated where the ramp is 0, extrapolated where it is 1), and cos/sin are multiplied by
// mscale: ggml's rope_yarn with llama.cpp's correction dimensions.
struct YarnParams {
    float freqScale = 1.0f, extFactor = 0.0f, corrLow = 0.0f, corrHigh = 0.0f, mscale = 1.0f;
};
// The parameters of YaRN context extension by `factor` (> 1) of a model trained on origContext
// positions: freqScale = 1/factor, extFactor 1, correction dims from betaFast/betaSlow over nRot
// dims, and the net cos/sin magnitude `mscale`.
YarnParams yarnParams(int64_t nRot, float freqBase, float factor, uint32_t origContext, float betaFast, float betaSlow,
                      float mscale);
float yarnFactor(const YarnParams& y, int64_t i);  // g_i above (1 without scaling)
void rope(float* x, int64_t nTok, int64_t nHeads, int64_t headDim, const int32_t* positions, int64_t nRot,
          float freqBase, bool neox, const YarnParams* yarn = nullptr);

// Softmax of each row, in place, max-subtracted. x: (rows, n).
void softmax(float* x, int64_t rows, int64_t n);

// Causal grouped-query attention over a KV cache.
// q: (nTok, nHead, headDim); kCache, vCache: (nCtx, nHeadKv, headDim) with nCtx >= pos0 + nTok and
// the new tokens' rows already written at [pos0, pos0 + nTok); out: (nTok, nHead, headDim).
// Token t (at position pos0 + t) attends to positions [0, pos0 + t]. Head h reads kv head
// h / (nHead / nHeadKv) (nHead % nHeadKv == 0). scores = q·k * kqScale (kqScale <= 0: 1/sqrt(headDim)),
// softmax over positions, out = Σ p · v. Accumulation in double. Values may have their own head
// size headDimV (0: headDim): vCache (nCtx, nHeadKv, headDimV), out (nTok, nHead, headDimV).
void attention(const float* q, const float* kCache, const float* vCache, int64_t nTok, int64_t nHead,
               int64_t nHeadKv, int64_t headDim, int64_t pos0, float* out, float kqScale = 0.0f,
               int64_t headDimV = 0);

// out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)). gate, up, out: (n); out may alias.
void swiglu(const float* gate, const float* up, float* out, int64_t n);

// Elementwise, (n) each; out may alias a or b.
void add(const float* a, const float* b, float* out, int64_t n);  // a + b
void mul(const float* a, const float* b, float* out, int64_t n);  // a * b
void scale(const float* a, float s, float* out, int64_t n);       // a * s
// Broadcast a row vector over rows: out[r, i] = a[r, i] * b[i]. a, out: (rows, n); b: (n).
void mulRows(const float* a, const float* b, float* out, int64_t rows, int64_t n);

inline float silu(float g) { return g / (1.0f + std::exp(-g)); }

}  // namespace moe::cpu
