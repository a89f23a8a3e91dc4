// Deterministic test data: quantized weight matrices (Gaussian vectors: moe::randn, core/random.h).
#pragma once
#include <cstdint>
#include <vector>

#include "core/random.h"
#include "core/types.h"
#include "cpu/quant.h"

namespace moe::test {

// rows x cols weights in type t (from Gaussian values, or random valid blocks for the types
// whose quantizer is a slow grid search); also returns the dequantized floats.
struct TestWeights {
    std::vector<uint8_t> bytes;
    std::vector<float> values;  // what the weights decode to
};
inline TestWeights makeWeights(GgmlType t, int64_t rows, int64_t cols, uint32_t seed) {
    TestWeights w;
    if (!cpu::searchQuantizer(t)) {
        auto src = randn(size_t(rows * cols), seed, 0.5f);
        w.bytes = cpu::quantizeRows(t, src.data(), rows, cols);
    } else {  // the IQ1/IQ2/IQ3 grid searches are slow: random valid blocks
        w.bytes = cpu::randomRows(t, rows, cols, seed);
    }
    w.values.resize(size_t(rows * cols));
    const uint64_t rb = rowBytes(t, uint64_t(cols));
    for (int64_t r = 0; r < rows; ++r) cpu::dequantizeRow(t, w.bytes.data() + r * rb, w.values.data() + r * cols, cols);
    return w;
}

}  // namespace moe::test
