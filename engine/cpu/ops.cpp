// CPU reference of the dense ops (see ops.h for the exact semantics every shader mirrors).
#include "cpu/ops.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "cpu/quant.h"

namespace moe::cpu {

void getRows(GgmlType t, const uint8_t* table, int64_t nCols, const int32_t* ids, int64_t nIds, float* out) {
    const uint64_t rb = rowBytes(t, uint64_t(nCols));
    for (int64_t i = 0; i < nIds; ++i)
        dequantizeRow(t, table + uint64_t(ids[i]) * rb, out + i * nCols, nCols);
}

void matMul(GgmlType t, const uint8_t* w, int64_t rows, int64_t cols, const float* x, int64_t nTok, float* y) {
    assert(cols % blockSize(t) == 0);
    const uint64_t rb = rowBytes(t, uint64_t(cols));
    std::vector<float> wr(static_cast<size_t>(cols));  // one dequantized weight row, reused for every token
    for (int64_t r = 0; r < rows; ++r) {
        dequantizeRow(t, w + uint64_t(r) * rb, wr.data(), cols);
        for (int64_t tok = 0; tok < nTok; ++tok)
            y[tok * rows + r] = float(dotF32(wr.data(), x + tok * cols, cols));
    }
}

void matVec(GgmlType t, const uint8_t* w, int64_t rows, int64_t cols, const float* x, float* y) {
    matMul(t, w, rows, cols, x, 1, y);
}

void rmsNorm(const float* x, const float* weight, int64_t nTok, int64_t n, float eps, float* y) {
    for (int64_t t = 0; t < nTok; ++t) {
        const float* xt = x + t * n;
        float* yt = y + t * n;
        const double meanSq = dotF32(xt, xt, n) / double(n);
        const float s = float(1.0 / std::sqrt(meanSq + double(eps)));
        for (int64_t i = 0; i < n; ++i) yt[i] = xt[i] * s * (weight ? weight[i] : 1.0f);
    }
}

YarnParams yarnParams(int64_t nRot, float freqBase, float factor, uint32_t origContext, float betaFast, float betaSlow,
                      float mscale) {
    YarnParams y;
    y.freqScale = 1.0f / factor;
    y.extFactor = 1.0f;
    y.mscale = mscale;
    // the dimension whose wavelength makes nRotations turns over the original context
    auto corrDim = [&](float nRotations) {
        return float(nRot) * std::log(float(origContext) / (nRotations * 2.0f * float(M_PI))) / (2.0f * std::log(freqBase));
    };
    y.corrLow = std::max(0.0f, std::floor(corrDim(betaFast)));
    y.corrHigh = std::min(float(nRot - 1), std::ceil(corrDim(betaSlow)));
    return y;
}

float yarnFactor(const YarnParams& y, int64_t i) {
    if (y.extFactor == 0.0f) return y.freqScale;
    const float t = (float(i) - y.corrLow) / std::max(0.001f, y.corrHigh - y.corrLow);
    const float mix = (1.0f - std::min(1.0f, std::max(0.0f, t))) * y.extFactor;
    return y.freqScale * (1.0f - mix) + mix;
}

void rope(float* x, int64_t nTok, int64_t nHeads, int64_t headDim, const int32_t* positions, int64_t nRot,
          float freqBase, bool neox, const YarnParams* yarn) {
    assert(nRot % 2 == 0 && nRot <= headDim);
    const int64_t half = nRot / 2;
    std::vector<float> cosT(static_cast<size_t>(half)), sinT(static_cast<size_t>(half));
    for (int64_t t = 0; t < nTok; ++t) {
        for (int64_t i = 0; i < half; ++i) {
            const double invFreq = std::pow(double(freqBase), -2.0 * double(i) / double(nRot));
            const double g = yarn ? double(yarnFactor(*yarn, i)) : 1.0;
            const double theta = double(positions[t]) * invFreq * g;
            const float m = yarn ? yarn->mscale : 1.0f;
            cosT[size_t(i)] = std::cos(float(theta)) * m;
            sinT[size_t(i)] = std::sin(float(theta)) * m;
        }
        for (int64_t h = 0; h < nHeads; ++h) {
            float* v = x + (t * nHeads + h) * headDim;
            for (int64_t i = 0; i < half; ++i) {
                const int64_t i0 = neox ? i : 2 * i;
                const int64_t i1 = neox ? i + half : 2 * i + 1;
                const float a = v[i0], b = v[i1];
                v[i0] = a * cosT[size_t(i)] - b * sinT[size_t(i)];
                v[i1] = a * sinT[size_t(i)] + b * cosT[size_t(i)];
            }
        }
    }
}

void softmax(float* x, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; ++r) {
        float* v = x + r * n;
        float mx = -INFINITY;
        for (int64_t i = 0; i < n; ++i) mx = std::max(mx, v[i]);
        double sum = 0.0;
        for (int64_t i = 0; i < n; ++i) {
            v[i] = std::exp(v[i] - mx);
            sum += v[i];
        }
        const float inv = float(1.0 / sum);
        for (int64_t i = 0; i < n; ++i) v[i] *= inv;
    }
}

void attention(const float* q, const float* kCache, const float* vCache, int64_t nTok, int64_t nHead,
               int64_t nHeadKv, int64_t headDim, int64_t pos0, float* out, float kqScale, int64_t headDimV) {
    assert(nHead % nHeadKv == 0);
    const int64_t group = nHead / nHeadKv, Dv = headDimV > 0 ? headDimV : headDim;
    const float s = kqScale > 0.0f ? kqScale : float(1.0 / std::sqrt(double(headDim)));
    const int64_t kvStride = nHeadKv * headDim, vStride = nHeadKv * Dv;  // floats per cache position
    std::vector<float> scores(size_t(pos0 + nTok));
    std::vector<double> acc(static_cast<size_t>(Dv));
    for (int64_t t = 0; t < nTok; ++t) {
        const int64_t nPos = pos0 + t + 1;  // causal: positions [0, pos0 + t]
        for (int64_t h = 0; h < nHead; ++h) {
            const float* qh = q + (t * nHead + h) * headDim;
            const int64_t kvh = h / group;
            for (int64_t p = 0; p < nPos; ++p)
                scores[size_t(p)] = float(dotF32(qh, kCache + p * kvStride + kvh * headDim, headDim)) * s;
            softmax(scores.data(), 1, nPos);
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int64_t p = 0; p < nPos; ++p) {
                const float* vp = vCache + p * vStride + kvh * Dv;
                const double w = scores[size_t(p)];
                for (int64_t i = 0; i < Dv; ++i) acc[size_t(i)] += w * double(vp[i]);
            }
            float* o = out + (t * nHead + h) * Dv;
            for (int64_t i = 0; i < Dv; ++i) o[i] = float(acc[size_t(i)]);
        }
    }
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = silu(gate[i]) * up[i];
}

void add(const float* a, const float* b, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void mul(const float* a, const float* b, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

void scale(const float* a, float s, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = a[i] * s;
}

void mulRows(const float* a, const float* b, float* out, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; ++r) mul(a + r * n, b, out + r * n, n);
}

}  // namespace moe::cpu
