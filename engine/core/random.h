// The one seeded random generator of moescope: splitmix64, and approximately normal values
// from it (Irwin-Hall of four 16-bit lanes). Deterministic and platform-independent
// (std::normal_distribution differs between standard libraries), so test data, fuzz seeds,
// generated models and the self-test are the same on every machine.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace moe {

struct Rng {
    uint64_t s = 0;
    explicit Rng(uint64_t seed = 0) : s(seed) {}
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    uint32_t next32() { return uint32_t(next() >> 32); }
    // [-1, 1), 24 bits
    float uniformSigned() { return float(next() >> 40) * (2.0f / 16777216.0f) - 1.0f; }
    // [0, 1), 24 bits
    float uniform() { return float(next() >> 40) * (1.0f / 16777216.0f); }
    // [0, n)
    uint32_t below(uint32_t n) { return uint32_t((uint64_t(next32()) * n) >> 32); }
    // Approximately N(0, 1): the four 16-bit lanes of one output sum to an Irwin-Hall(4) variate
    // (mean 2, variance 1/3), rescaled to unit variance; |value| < 3.47.
    float gaussian(float sigma = 1.0f) {
        const uint64_t z = next();
        const uint32_t sum = uint32_t(z & 0xffff) + uint32_t((z >> 16) & 0xffff) + uint32_t((z >> 32) & 0xffff) +
                             uint32_t(z >> 48);
        return (float(int32_t(sum) - 2 * 65536) + 2.0f) * (sigma * 1.7320508f / 65536.0f);  // sqrt(3) / 2^16
    }
};

// n approximately normal values with this sigma and mean; the seed is mixed so that nearby
// seeds give unrelated streams.
inline void randnInto(float* dst, size_t n, uint64_t seed, float sigma = 1.0f, float mean = 0.0f) {
    Rng r(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull);
    for (size_t i = 0; i < n; ++i) dst[i] = mean + r.gaussian(sigma);
}

inline std::vector<float> randn(size_t n, uint64_t seed, float sigma = 1.0f, float mean = 0.0f) {
    std::vector<float> v(n);
    randnInto(v.data(), n, seed, sigma, mean);
    return v;
}

}  // namespace moe
