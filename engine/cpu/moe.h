// CPU reference of the MoE FFN primitives: the expert-indexed product, the grouping of a batch's
// (token, slot) pairs by expert that the batched GPU path uses, and the whole routed FFN.
#pragma once
#include <cstdint>
#include <vector>

#include "cpu/ops.h"

namespace moe::cpu {

// Expert-indexed product. w: (nExpert, rows, cols) in type t, expert e's matrix at
// e * rows * rowBytes(t, cols); x: (nTok, xSlots, cols) with xSlots == 1 (the same input for
// every slot, e.g. gate/up) or xSlots == k (one input per slot, e.g. down);
// ids: (nTok, k), -1 = empty slot; y: (nTok, k, rows).
// y[t, j, :] = W_{ids[t, j]} · x[t, xSlots == 1 ? 0 : j, :]; empty slots give zeros.
void expertMatMul(GgmlType t, const uint8_t* w, int64_t rows, int64_t cols, const float* x, int64_t xSlots,
                  const int32_t* ids, int64_t nTok, int64_t k, float* y);

// The batch grouped by expert: entry i in [offsets[e], offsets[e+1]) is a (token, slot) routed to
// expert e; within an expert, entries are in increasing token order (then slot). Empty slots (-1)
// are skipped, so offsets[nExpert] = number of valid slots.
struct ExpertGroups {
    std::vector<int32_t> counts;   // (nExpert)
    std::vector<int32_t> offsets;  // (nExpert + 1), exclusive prefix sum of counts
    std::vector<int32_t> tokens;   // (offsets[nExpert]) token index t
    std::vector<int32_t> slots;    // (offsets[nExpert]) slot index j, so the pair is ids[t, j]
};
// ids: (nTok, k) with values in [0, nExpert) or -1.
ExpertGroups groupByExpert(const int32_t* ids, int64_t nTok, int64_t k, int64_t nExpert);

// Routed SwiGLU experts, weighted sum (shared experts are a dense FFN done by the caller):
// out[t] = Σ_j weights[t, j] * down_e( silu(gate_e · x[t]) * (up_e · x[t]) ), e = ids[t, j] (skip -1).
// x: (nTok, nEmbd); gate, up: (nExpert, nFf, nEmbd); down: (nExpert, nEmbd, nFf);
// ids, weights: (nTok, k); out: (nTok, nEmbd), overwritten.
void moeFfn(const float* x, int64_t nTok, int64_t nEmbd, int64_t nFf, WeightView gate, WeightView up,
            WeightView down, const int32_t* ids, const float* weights, int64_t k, float* out);

}  // namespace moe::cpu
