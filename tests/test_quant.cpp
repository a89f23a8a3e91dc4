// fp16/bf16 conversions and the GGUF block formats of engine/cpu/quant: exhaustive conversion
// checks, hand-built blocks with known values, quantizer error bounds and dotRow.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/half.h"
#include "core/random.h"
#include "cpu/nmse.h"
#include "cpu/quant.h"

using namespace moe;
using namespace moe::cpu;

namespace {

void putU16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); }

}  // namespace

// ---------------------------------------------------------------- fp16 / bf16

TEST_CASE("fp16: every half round-trips through float") {
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = fp16ToFloat(uint16_t(h));
        const bool isNan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
        if (isNan) {
            REQUIRE(std::isnan(f));
            REQUIRE(((floatToFp16(f) & 0x7c00) == 0x7c00 && (floatToFp16(f) & 0x3ff) != 0));
            REQUIRE((floatToFp16(f) & 0x8000) == (h & 0x8000));
        } else {
            REQUIRE(floatToFp16(f) == h);
        }
    }
}

TEST_CASE("fp16: known values, subnormals, inf") {
    CHECK(fp16ToFloat(0x3c00) == 1.0f);
    CHECK(fp16ToFloat(0xc000) == -2.0f);
    CHECK(fp16ToFloat(0x7bff) == 65504.0f);
    CHECK(fp16ToFloat(0x0400) == std::ldexp(1.0f, -14));  // smallest normal
    CHECK(fp16ToFloat(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
    CHECK(fp16ToFloat(0x03ff) == std::ldexp(1023.0f, -24));
    CHECK(std::signbit(fp16ToFloat(0x8000)));
    CHECK(fp16ToFloat(0x7c00) == INFINITY);
    CHECK(fp16ToFloat(0xfc00) == -INFINITY);
    CHECK(floatToFp16(INFINITY) == 0x7c00);
    CHECK(floatToFp16(-INFINITY) == 0xfc00);
    CHECK(floatToFp16(1e6f) == 0x7c00);
    CHECK(floatToFp16(65519.99f) == 0x7bff);
    CHECK(floatToFp16(65520.0f) == 0x7c00);  // the tie with "65536" rounds to even = inf
    CHECK(floatToFp16(std::ldexp(1.0f, -25)) == 0x0000);  // tie between 0 and 2^-24 -> even (0)
    CHECK(floatToFp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);
    CHECK(floatToFp16(std::ldexp(3.0f, -25)) == 0x0002);  // tie between 1 and 2 -> even (2)
    CHECK(floatToFp16(1e-10f) == 0x0000);
    CHECK(floatToFp16(-1e-10f) == 0x8000);
    CHECK(std::isnan(fp16ToFloat(floatToFp16(NAN))));
    CHECK(std::isnan(fp16ToFloat(floatToFp16(bitsToFloat(0x7f800001)))));  // payload only in low bits
}

TEST_CASE("fp16: round to nearest even at every midpoint") {
    // for each pair of neighbouring finite halfs (a, a+1) of the same sign: the float midpoint
    // rounds to the even one, one float ulp either side rounds to the nearer one
    for (uint32_t sign : {0u, 0x8000u}) {
        for (uint32_t a = 0; a < 0x7c00; ++a) {
            const uint16_t ha = uint16_t(sign | a), hb = uint16_t(sign | (a + 1));
            const float fa = fp16ToFloat(ha);
            const float fb = a + 1 == 0x7c00 ? (sign ? -65536.0f : 65536.0f) : fp16ToFloat(hb);
            const float mid = (fa + fb) * 0.5f;  // exact: halfs have 11 significant bits
            REQUIRE(double(mid) == (double(fa) + double(fb)) / 2);
            REQUIRE(floatToFp16(mid) == ((a & 1) ? hb : ha));
            REQUIRE(floatToFp16(std::nextafter(mid, fa)) == ha);
            REQUIRE(floatToFp16(std::nextafter(mid, fb)) == hb);
        }
    }
}

TEST_CASE("bf16: every bf16 round-trips; ties to even; NaN stays NaN") {
    for (uint32_t b = 0; b < 65536; ++b) {
        const float f = bf16ToFloat(uint16_t(b));
        if (std::isnan(f)) {
            REQUIRE(std::isnan(bf16ToFloat(floatToBf16(f))));
        } else {
            REQUIRE(floatToBf16(f) == b);
        }
    }
    for (uint32_t b = 0; b < 0x7f80; b += 7) {  // finite positive, neighbour pairs
        const uint32_t mid = (b << 16) | 0x8000;
        CHECK(floatToBf16(bitsToFloat(mid)) == ((b & 1) ? b + 1 : b));
        CHECK(floatToBf16(bitsToFloat(mid - 1)) == b);
        CHECK(floatToBf16(bitsToFloat(mid + 1)) == b + 1);
    }
    CHECK(floatToBf16(1.0f) == 0x3f80);
    CHECK(floatToBf16(-2.0f) == 0xc000);
    CHECK(floatToBf16(INFINITY) == 0x7f80);
    CHECK(floatToBf16(3.4e38f) == 0x7f80);  // rounds up past the largest finite bf16
    CHECK(std::isnan(bf16ToFloat(floatToBf16(bitsToFloat(0x7f800001)))));
    CHECK(bf16ToFloat(0x0001) == std::ldexp(1.0f, -133));  // subnormal
}

// ---------------------------------------------------------------- hand-built blocks

TEST_CASE("dequantize: F32, F16, BF16 rows") {
    const float vals[4] = {1.0f, -2.5f, 0.0f, 1024.0f};
    uint8_t f16[8], b16[8];
    for (int i = 0; i < 4; ++i) {
        putU16(f16 + 2 * i, floatToFp16(vals[i]));
        putU16(b16 + 2 * i, floatToBf16(vals[i]));
    }
    float out[4];
    dequantizeRow(GgmlType::F32, reinterpret_cast<const uint8_t*>(vals), out, 4);
    for (int i = 0; i < 4; ++i) CHECK(out[i] == vals[i]);
    dequantizeRow(GgmlType::F16, f16, out, 4);
    for (int i = 0; i < 4; ++i) CHECK(out[i] == vals[i]);
    dequantizeRow(GgmlType::BF16, b16, out, 4);
    for (int i = 0; i < 4; ++i) CHECK(out[i] == vals[i]);
}

TEST_CASE("dequantize: hand-built Q8_0 and Q4_0 blocks") {
    uint8_t q8[34];
    putU16(q8, 0x3800);  // d = 0.5
    for (int j = 0; j < 32; ++j) q8[2 + j] = uint8_t(int8_t(j - 16));
    float y[32];
    dequantizeRow(GgmlType::Q8_0, q8, y, 32);
    for (int j = 0; j < 32; ++j) CHECK(y[j] == float(j - 16) * 0.5f);

    uint8_t q4[18];
    putU16(q4, 0x4000);  // d = 2
    for (int j = 0; j < 16; ++j) q4[2 + j] = uint8_t(j | ((15 - j) << 4));
    dequantizeRow(GgmlType::Q4_0, q4, y, 32);
    for (int j = 0; j < 16; ++j) {
        CHECK(y[j] == float(j - 8) * 2.0f);
        CHECK(y[j + 16] == float(15 - j - 8) * 2.0f);
    }
}

TEST_CASE("dequantize: hand-built Q4_K block") {
    uint8_t b[144] = {};
    putU16(b, 0x3c00);      // d = 1
    putU16(b + 2, 0x3800);  // dmin = 0.5
    const uint8_t scales[12] = {0x41, 0x82, 0xC3, 0x04, 0x45, 0x06, 0x87, 0x08, 0x21, 0x43, 0x65, 0x87};
    std::memcpy(b + 4, scales, 12);
    // decoded by hand from the 6-bit packing:
    const int sc[8] = {1, 2, 3, 4, 17, 35, 53, 7};
    const int m[8] = {5, 6, 7, 8, 18, 4, 38, 8};
    std::memset(b + 16, 0x53, 128);  // low nibble 3 (even sub-blocks), high nibble 5 (odd)
    b[16 + 32 + 4] = 0xF0;           // value 68 (sub-block 2) = 0, value 100 (sub-block 3) = 15
    float y[256];
    dequantizeRow(GgmlType::Q4_K, b, y, 256);
    const float expect[8] = {0.5f, 7.0f, 5.5f, 16.0f, 42.0f, 173.0f, 140.0f, 31.0f};
    for (int i = 0; i < 256; ++i) {
        const int j = i / 32;
        if (i == 68) {
            CHECK(y[i] == -3.5f);
        } else if (i == 100) {
            CHECK(y[i] == 56.0f);
        } else {
            REQUIRE(y[i] == expect[j]);
            REQUIRE(y[i] == float(sc[j] * ((j & 1) ? 5 : 3)) - 0.5f * float(m[j]));
        }
    }
}

TEST_CASE("dequantize: hand-built Q6_K block") {
    uint8_t b[210] = {};
    std::memset(b, 0x21, 128);        // ql: low nibble 1, high nibble 2
    std::memset(b + 128, 0xE4, 64);   // qh: 2-bit fields 0,1,2,3 for the four 32-value quarters
    for (int s = 0; s < 16; ++s) b[192 + s] = uint8_t(int8_t(s - 8));
    putU16(b + 208, 0x3400);          // d = 0.25
    b[5] = 0xF0;                      // value 5: q = 0; value 69: q = 15 | 2 << 4 = 47
    b[128 + 32 + 7] = 0x00;           // second half, l = 7: high bits all 0
    float y[256];
    dequantizeRow(GgmlType::Q6_K, b, y, 256);
    const int qBase[4] = {1, 17, 34, 50};  // (ql nibble | qh bits << 4) per quarter
    for (int i = 0; i < 256; ++i) {
        int q = qBase[(i % 128) / 32];
        if (i == 5) q = 0;
        if (i == 69) q = 47;
        if (i == 128 + 7) q = 1;
        if (i == 128 + 39) q = 1;
        if (i == 128 + 71) q = 2;
        if (i == 128 + 103) q = 2;
        REQUIRE(y[i] == 0.25f * float(i / 16 - 8) * float(q - 32));
    }
}

// ---------------------------------------------------------------- quantizers

TEST_CASE("quantize: Q8_0 and Q4_0 follow ggml's reference quantizer") {
    float x[32];
    for (int j = 0; j < 32; ++j) x[j] = float(j - 16);
    auto q8 = quantizeRows(GgmlType::Q8_0, x, 1, 32);
    REQUIRE(q8.size() == 34);
    CHECK((q8[0] | (q8[1] << 8)) == floatToFp16(16.0f / 127.0f));
    CHECK(int8_t(q8[2 + 0]) == -127);
    CHECK(int8_t(q8[2 + 16]) == 0);
    CHECK(int8_t(q8[2 + 31]) == 119);  // round(15 * 127/16)

    // largest magnitude is -16 -> d = 2, q = min(15, trunc(x/2 + 8.5))
    auto q4 = quantizeRows(GgmlType::Q4_0, x, 1, 32);
    REQUIRE(q4.size() == 18);
    CHECK((q4[0] | (q4[1] << 8)) == 0x4000);
    for (int j = 0; j < 16; ++j) {
        const int lo = std::min(15, (j + 1) / 2), hi = std::min(15, (j + 16 + 1) / 2);
        CHECK(q4[2 + j] == (lo | hi << 4));
    }
    // positive largest magnitude: d negative, sign flips the codes
    float y[32];
    for (int j = 0; j < 32; ++j) y[j] = j == 3 ? 8.0f : 0.5f;
    q4 = quantizeRows(GgmlType::Q4_0, y, 1, 32);
    float back[32];
    dequantizeRow(GgmlType::Q4_0, q4.data(), back, 32);
    CHECK(back[3] == 8.0f);
    CHECK(back[0] == 0.0f);  // 0.5 / -1 + 8.5 = 8 -> 0
}

TEST_CASE("quantize -> dequantize: NMSE per type on Gaussian rows") {
    const int64_t rows = 16, cols = 1024;
    const auto x = randn(size_t(rows * cols), 42, 0.02f);  // weight-like magnitudes
    struct Bound { GgmlType t; double maxNmse; };
    const Bound bounds[] = {
        // measured (seed 42): F16 4.2e-8, BF16 2.7e-6, Q8_0 2.9e-5, Q4_0 7.4e-3, Q4_K 5.3e-3, Q6_K 3.5e-4
        {GgmlType::F32, 0.0},   {GgmlType::F16, 1e-7},  {GgmlType::BF16, 5e-6}, {GgmlType::Q8_0, 5e-5},
        {GgmlType::Q4_0, 1e-2}, {GgmlType::Q4_K, 7e-3}, {GgmlType::Q6_K, 6e-4},
    };
    for (const Bound& b : bounds) {
        const auto q = quantizeRows(b.t, x.data(), rows, cols);
        REQUIRE(q.size() == rows * rowBytes(b.t, cols));
        std::vector<float> y(x.size());
        for (int64_t r = 0; r < rows; ++r)
            dequantizeRow(b.t, q.data() + r * rowBytes(b.t, cols), y.data() + r * cols, cols);
        const double e = nmse(x.data(), y.data(), x.size());
        MESSAGE(typeName(b.t) << " NMSE " << e);
        CHECK(e <= b.maxNmse);
    }
}

TEST_CASE("quantize: degenerate rows stay finite and exact where representable") {
    const int64_t n = 256;
    for (GgmlType t : kWeightTypes) {
        CAPTURE(typeName(t));
        std::vector<float> zero(n, 0.0f), pos(n), neg(n), y(n);
        for (int64_t i = 0; i < n; ++i) { pos[i] = 1.0f + float(i % 7); neg[i] = -pos[i]; }
        auto q = quantizeRows(t, zero.data(), 1, n);
        dequantizeRow(t, q.data(), y.data(), n);
        for (float v : y) REQUIRE(v == 0.0f);
        for (auto* src : {&pos, &neg}) {
            q = quantizeRows(t, src->data(), 1, n);
            dequantizeRow(t, q.data(), y.data(), n);
            for (float v : y) REQUIRE(std::isfinite(v));
            // types of 4.5 bits per weight and more represent the integers 1..7 within 0.5; the
            // 1- to 3-bit types only approximately (TQ: {0, d}; NMSE 0.2 when exact to the grid)
            const auto tr = *typeTraits(uint32_t(t));
            if (double(tr.blockBytes) * 8 / tr.blockSize >= 4.5) {
                CHECK(maxAbsErr(src->data(), y.data(), n) < 0.5);
                CHECK(nmse(src->data(), y.data(), n) < 1e-2);
            } else {
                CHECK(nmse(src->data(), y.data(), n) < 0.25);
            }
        }
    }
}

TEST_CASE("dotRow equals dequantize + dot for every type") {
    for (GgmlType t : kWeightTypes) {
        for (int64_t n : {256, 1024, 2560}) {
            CAPTURE(typeName(t));
            CAPTURE(n);
            const auto w = randn(size_t(n), uint32_t(n) + 1);
            const auto x = randn(size_t(n), uint32_t(n) + 2);
            const auto q = quantizeRows(t, w.data(), 1, n);
            std::vector<float> wd(static_cast<size_t>(n));
            dequantizeRow(t, q.data(), wd.data(), n);
            double ref = 0.0;
            for (int64_t i = 0; i < n; ++i) ref += double(wd[size_t(i)]) * double(x[size_t(i)]);
            CHECK(dotRow(t, q.data(), x.data(), n) == doctest::Approx(ref).epsilon(1e-6));
        }
    }
    // 1-value-block types accept any n (tail after whole 256-chunks)
    const auto w = randn(300, 7), x = randn(300, 8);
    const auto q = quantizeRows(GgmlType::F16, w.data(), 1, 300);
    std::vector<float> wd(300);
    dequantizeRow(GgmlType::F16, q.data(), wd.data(), 300);
    CHECK(dotRow(GgmlType::F16, q.data(), x.data(), 300) == doctest::Approx(dotF32(wd.data(), x.data(), 300)));
}

TEST_CASE("blockSize and isWeightType") {
    CHECK(blockSize(GgmlType::F32) == 1);
    CHECK(blockSize(GgmlType::Q8_0) == 32);
    CHECK(blockSize(GgmlType::Q4_K) == 256);
    CHECK(isWeightType(GgmlType::Q6_K));
    CHECK(isWeightType(GgmlType::Q5_K));
    CHECK_FALSE(isWeightType(GgmlType::Q8_K));  // an activation type of ggml, never in files
    CHECK_FALSE(isWeightType(GgmlType::I32));
    CHECK(dotF32(std::vector<float>{1, 2, 3}.data(), std::vector<float>{4, 5, 6}.data(), 3) == 32.0);
}
