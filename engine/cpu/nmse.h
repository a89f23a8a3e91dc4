// Error measures used to compare a GPU result (or a quantized one) with the CPU reference.
#pragma once
#include <cmath>
#include <cstddef>

namespace moe::cpu {

// Normalised mean squared error: Σ (ref - got)² / Σ ref², in double. If ref is all zero, returns
// Σ got² (0 when both are zero). Any NaN or inf in got gives +inf.
inline double nmse(const float* ref, const float* got, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(got[i])) return INFINITY;
        const double d = double(ref[i]) - double(got[i]);
        num += d * d;
        den += double(ref[i]) * double(ref[i]);
    }
    return den > 0.0 ? num / den : num;
}

// max_i |ref[i] - got[i]|; +inf if got holds a NaN or inf.
inline double maxAbsErr(const float* ref, const float* got, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(got[i])) return INFINITY;
        m = std::fmax(m, std::fabs(double(ref[i]) - double(got[i])));
    }
    return m;
}

}  // namespace moe::cpu
