// CPU reference of the MoE FFN primitives (see moe.h).
#include "cpu/moe.h"

#include <algorithm>
#include <cassert>
#include <vector>

#include "cpu/quant.h"

namespace moe::cpu {

ExpertGroups groupByExpert(const int32_t* ids, int64_t nTok, int64_t k, int64_t nExpert) {
    ExpertGroups g;
    g.counts.assign(size_t(nExpert), 0);
    g.offsets.assign(size_t(nExpert + 1), 0);
    for (int64_t i = 0; i < nTok * k; ++i) {
        assert(ids[i] >= -1 && ids[i] < nExpert);
        if (ids[i] >= 0) ++g.counts[size_t(ids[i])];
    }
    for (int64_t e = 0; e < nExpert; ++e) g.offsets[size_t(e + 1)] = g.offsets[size_t(e)] + g.counts[size_t(e)];
    const int32_t total = g.offsets[size_t(nExpert)];
    g.tokens.resize(size_t(total));
    g.slots.resize(size_t(total));
    std::vector<int32_t> cursor(g.offsets.begin(), g.offsets.end() - 1);
    // scanning tokens in order (then slots) makes the fill stable by token
    for (int64_t t = 0; t < nTok; ++t)
        for (int64_t j = 0; j < k; ++j) {
            const int32_t e = ids[t * k + j];
            if (e < 0) continue;
            const int32_t at = cursor[size_t(e)]++;
            g.tokens[size_t(at)] = int32_t(t);
            g.slots[size_t(at)] = int32_t(j);
        }
    return g;
}

void expertMatMul(GgmlType t, const uint8_t* w, int64_t rows, int64_t cols, const float* x, int64_t xSlots,
                  const int32_t* ids, int64_t nTok, int64_t k, float* y) {
    assert(xSlots == 1 || xSlots == k);
    assert(cols % blockSize(t) == 0);
    int64_t nExpert = 0;
    for (int64_t i = 0; i < nTok * k; ++i) nExpert = std::max<int64_t>(nExpert, ids[i] + 1);
    const ExpertGroups g = groupByExpert(ids, nTok, k, nExpert);
    const uint64_t rb = rowBytes(t, uint64_t(cols));
    for (int64_t i = 0; i < nTok * k; ++i)
        if (ids[i] < 0) std::fill(y + i * rows, y + (i + 1) * rows, 0.0f);
    // each expert's rows are dequantized once and applied to every (token, slot) routed to it
    std::vector<float> wr(static_cast<size_t>(cols));
    for (int64_t e = 0; e < nExpert; ++e) {
        const int32_t begin = g.offsets[size_t(e)], end = g.offsets[size_t(e + 1)];
        if (begin == end) continue;
        const uint8_t* we = w + uint64_t(e) * uint64_t(rows) * rb;
        for (int64_t r = 0; r < rows; ++r) {
            dequantizeRow(t, we + uint64_t(r) * rb, wr.data(), cols);
            for (int32_t i = begin; i < end; ++i) {
                const int64_t tok = g.tokens[size_t(i)], j = g.slots[size_t(i)];
                const float* xi = x + (tok * xSlots + (xSlots == 1 ? 0 : j)) * cols;
                y[(tok * k + j) * rows + r] = float(dotF32(wr.data(), xi, cols));
            }
        }
    }
}

void moeFfn(const float* x, int64_t nTok, int64_t nEmbd, int64_t nFf, WeightView gate, WeightView up,
            WeightView down, const int32_t* ids, const float* weights, int64_t k, float* out) {
    const size_t nHidden = size_t(nTok * k * nFf), nOut = size_t(nTok * k * nEmbd);
    std::vector<float> g(nHidden), u(nHidden), d(nOut);
    // expert FFN per (token, slot): silu(gate x) * (up x), then down
    expertMatMul(gate.type, gate.data, nFf, nEmbd, x, 1, ids, nTok, k, g.data());
    expertMatMul(up.type, up.data, nFf, nEmbd, x, 1, ids, nTok, k, u.data());
    swiglu(g.data(), u.data(), g.data(), nTok * k * nFf);
    expertMatMul(down.type, down.data, nEmbd, nFf, g.data(), k, ids, nTok, k, d.data());
    // weighted sum over the token's slots, in slot order
    std::vector<double> acc(static_cast<size_t>(nEmbd));
    for (int64_t t = 0; t < nTok; ++t) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t j = 0; j < k; ++j) {
            if (ids[t * k + j] < 0) continue;
            const double wj = weights[t * k + j];
            const float* dj = d.data() + (t * k + j) * nEmbd;
            for (int64_t i = 0; i < nEmbd; ++i) acc[size_t(i)] += wj * double(dj[i]);
        }
        for (int64_t i = 0; i < nEmbd; ++i) out[t * nEmbd + i] = float(acc[size_t(i)]);
    }
}

}  // namespace moe::cpu
