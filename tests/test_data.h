// Deterministic test data: Gaussian vectors and quantized weight matrices.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "core/types.h"
#include "cpu/quant.h"

namespace moe::test {

inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

// rows x cols weights in type t (from Gaussian values); also returns the dequantized floats.
struct TestWeights {
    std::vector<uint8_t> bytes;
    std::vector<float> values;  // what the weights decode to
};
inline TestWeights makeWeights(GgmlType t, int64_t rows, int64_t cols, uint32_t seed) {
    TestWeights w;
    auto src = randn(size_t(rows * cols), seed, 0.5f);
    w.bytes = cpu::quantizeRows(t, src.data(), rows, cols);
    w.values.resize(src.size());
    const uint64_t rb = rowBytes(t, uint64_t(cols));
    for (int64_t r = 0; r < rows; ++r) cpu::dequantizeRow(t, w.bytes.data() + r * rb, w.values.data() + r * cols, cols);
    return w;
}

}  // namespace moe::test
