// Every GGUF block type of the CPU reference (cpu/quant.h): the decoders against ggml's reference
// outputs bit for bit (tests/data/quant/<type>.bin), quantizer round-trip error bounds, random
// valid rows, and the shared lookup tables (cpu/iq_tables.h).
//
// tests/data/quant/<type>.bin (little-endian), written by a scratch generator that ran ggml's
// dequantize_row_* on crafted blocks: every byte value at every position (32-value types; 64
// consecutive values per position for 256-value types) with the f16 scales cycling through
// units, subnormals, the smallest normal, +-65504 and signed zeros; MXFP4 exponents 0..255
// with every code; every grid index of each IQ type; random blocks with random finite scales.
//   uint32 magic "MSQT", version 1, GGUF type id, block count, bytes per block, values per block
//   blocks (count * bytes per block)
//   expected float32 bit patterns (count * values per block)
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/half.h"
#include "core/random.h"
#include "cpu/iq_tables.h"
#include "cpu/nmse.h"
#include "cpu/quant.h"

using namespace moe;
using namespace moe::cpu;

namespace {

// The types that came with the reference data (kCpuTypes minus the ones test_quant.cpp covers).
constexpr GgmlType kNewTypes[] = {
    GgmlType::Q4_1,   GgmlType::Q5_0,    GgmlType::Q5_1,   GgmlType::Q2_K,   GgmlType::Q3_K,    GgmlType::Q5_K,
    GgmlType::IQ4_NL, GgmlType::IQ4_XS,  GgmlType::MXFP4,  GgmlType::TQ1_0,  GgmlType::TQ2_0,   GgmlType::IQ2_XXS,
    GgmlType::IQ2_XS, GgmlType::IQ2_S,   GgmlType::IQ3_XXS, GgmlType::IQ3_S, GgmlType::IQ1_S,   GgmlType::IQ1_M};

std::vector<uint8_t> readAll(const std::filesystem::path& p) {
    std::vector<uint8_t> d;
    FILE* f = std::fopen(p.string().c_str(), "rb");
    if (!f) return d;
    uint8_t buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) d.insert(d.end(), buf, buf + n);
    std::fclose(f);
    return d;
}

uint32_t u32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }

std::string lower(std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

TEST_CASE("quant types: every kCpuTypes type dequantizes; the quantizable ones are known") {
    for (GgmlType t : kCpuTypes) {
        CAPTURE(typeName(t));
        CHECK(hasDequant(t));
        CHECK(typeTraits(uint32_t(t)).has_value());
    }
    CHECK_FALSE(hasDequant(GgmlType::Q8_1));
    CHECK_FALSE(hasDequant(GgmlType::Q8_K));
    for (GgmlType t : kWeightTypes) CHECK(canQuantize(t));
    for (GgmlType t : kNewTypes) {
        CAPTURE(typeName(t));
        CHECK(canQuantize(t));
    }
}

TEST_CASE("quant types: decoders match ggml's reference outputs bit for bit") {
    const std::filesystem::path dir = std::filesystem::path(MOESCOPE_SOURCE_DIR) / "tests/data/quant";
    for (GgmlType t : kNewTypes) {
        const std::string name = typeName(t);
        CAPTURE(name);
        const auto data = readAll(dir / (lower(name) + ".bin"));
        REQUIRE(data.size() >= 24);
        REQUIRE(u32(data.data()) == 0x5451534du);
        REQUIRE(u32(data.data() + 4) == 1);
        REQUIRE(u32(data.data() + 8) == uint32_t(t));
        const uint32_t nb = u32(data.data() + 12), bb = u32(data.data() + 16), bs = u32(data.data() + 20);
        const auto tr = *typeTraits(uint32_t(t));
        REQUIRE(bb == tr.blockBytes);
        REQUIRE(bs == tr.blockSize);
        REQUIRE(data.size() == 24 + size_t(nb) * bb + size_t(nb) * bs * 4);
        const uint8_t* blocks = data.data() + 24;
        const uint8_t* expect = blocks + size_t(nb) * bb;
        // the whole file as one row, and each block on its own
        std::vector<float> row(size_t(nb) * bs), one(bs);
        dequantizeRow(t, blocks, row.data(), int64_t(row.size()));
        size_t mismatches = 0;
        for (uint32_t b = 0; b < nb; ++b) {
            dequantizeRow(t, blocks + size_t(b) * bb, one.data(), bs);
            for (uint32_t j = 0; j < bs; ++j) {
                const size_t i = size_t(b) * bs + j;
                const uint32_t want = u32(expect + 4 * i);
                if (floatToBits(row[i]) != want || floatToBits(one[j]) != want) {
                    if (mismatches++ < 8)
                        FAIL_CHECK(name << ": block " << b << " value " << j << ": got 0x" << std::hex
                                        << floatToBits(row[i]) << " (" << std::dec << row[i] << "), want 0x"
                                        << std::hex << want << " (" << std::dec << bitsToFloat(want) << ")");
                }
            }
        }
        CHECK(mismatches == 0);
    }
}

TEST_CASE("quant types: quantizer round-trip NMSE on Gaussian data") {
    // bounds a little above what each quantizer measures here (N(0,1), 64 x 4096, seed 11; the
    // IQ grid types 4 x 4096)
    struct Bound { GgmlType t; double nmse; };
    const Bound bounds[] = {
        {GgmlType::Q4_1, 6.0e-3},  {GgmlType::Q5_0, 1.75e-3}, {GgmlType::Q5_1, 1.45e-3},  {GgmlType::Q2_K, 6.9e-2},
        {GgmlType::Q3_K, 2.05e-2}, {GgmlType::Q5_K, 1.2e-3},  {GgmlType::IQ4_NL, 6.0e-3}, {GgmlType::IQ4_XS, 5.8e-3},
        {GgmlType::MXFP4, 1.4e-2}, {GgmlType::TQ1_0, 0.61},   {GgmlType::TQ2_0, 0.61},
        // the IQ grid searches are slow: 4 rows of these
        {GgmlType::IQ2_XXS, 0.11}, {GgmlType::IQ2_XS, 0.085}, {GgmlType::IQ2_S, 0.058},  {GgmlType::IQ3_XXS, 0.032},
        {GgmlType::IQ3_S, 0.017},  {GgmlType::IQ1_S, 0.20},   {GgmlType::IQ1_M, 0.175},
    };
    const int64_t cols = 4096;
    const auto xall = randn(size_t(64 * cols), 11, 1.0f);
    for (const Bound& b : bounds) {
        CAPTURE(typeName(b.t));
        REQUIRE(canQuantize(b.t));
        const bool slow = b.t >= GgmlType::IQ2_XXS && b.t <= GgmlType::IQ1_M && b.t != GgmlType::IQ4_NL && b.t != GgmlType::IQ4_XS;
        const int64_t rows = slow ? 4 : 64;
        const std::vector<float> x(xall.begin(), xall.begin() + rows * cols);
        const auto q = quantizeRows(b.t, x.data(), rows, cols);
        REQUIRE(q.size() == rowBytes(b.t, uint64_t(cols)) * uint64_t(rows));
        std::vector<float> y(x.size());
        const uint64_t rb = rowBytes(b.t, uint64_t(cols));
        for (int64_t r = 0; r < rows; ++r) dequantizeRow(b.t, q.data() + r * rb, y.data() + r * cols, cols);
        const double e = nmse(x.data(), y.data(), x.size());
        MESSAGE(typeName(b.t) << " NMSE " << e);
        CHECK(e < b.nmse);
        CHECK(e > 0.0);
    }
}

TEST_CASE("quant types: exact inputs survive quantization") {
    // values a type represents exactly come back unchanged
    std::vector<float> x(256);
    for (int i = 0; i < 256; ++i) x[i] = float((i * 7) % 3) - 1.0f;  // ternary
    for (GgmlType t : {GgmlType::TQ1_0, GgmlType::TQ2_0}) {
        CAPTURE(typeName(t));
        const auto q = quantizeRows(t, x.data(), 1, 256);
        std::vector<float> y(256);
        dequantizeRow(t, q.data(), y.data(), 256);
        for (int i = 0; i < 256; ++i) REQUIRE(y[i] == x[i]);
    }
    // MXFP4: e2m1 values times a power of two
    for (int i = 0; i < 32; ++i) x[i] = 0.25f * float(mxfp4Value(i % 16));
    const auto q = quantizeRows(GgmlType::MXFP4, x.data(), 1, 32);
    std::vector<float> y(32);
    dequantizeRow(GgmlType::MXFP4, q.data(), y.data(), 32);
    for (int i = 0; i < 32; ++i) CHECK(y[i] == x[i]);
    // zeros stay zeros
    std::vector<float> z(256, 0.0f);
    for (GgmlType t : kCpuTypes) {
        if (!canQuantize(t)) continue;
        CAPTURE(typeName(t));
        const auto qz = quantizeRows(t, z.data(), 1, 256);
        std::vector<float> yz(256, 1.0f);
        dequantizeRow(t, qz.data(), yz.data(), 256);
        for (float v : yz) REQUIRE(v == 0.0f);
    }
}

TEST_CASE("quant types: randomRows are valid, bounded, deterministic") {
    for (GgmlType t : kCpuTypes) {
        CAPTURE(typeName(t));
        const int64_t rows = 16, cols = 1024;
        const auto a = randomRows(t, rows, cols, 5);
        REQUIRE(a.size() == rowBytes(t, uint64_t(cols)) * uint64_t(rows));
        CHECK(a == randomRows(t, rows, cols, 5));
        CHECK(a != randomRows(t, rows, cols, 6));
        std::vector<float> y(size_t(rows * cols));
        dequantizeRow(t, a.data(), y.data(), rows * cols);
        double maxAbs = 0.0, sumSq = 0.0;
        for (float v : y) {
            REQUIRE(std::isfinite(v));
            maxAbs = std::fmax(maxAbs, std::fabs(v));
            sumSq += double(v) * v;
        }
        CHECK(maxAbs <= 8.5);
        CHECK(sumSq > 0.0);
        // dotRow agrees with the dequantized row
        std::vector<float> xv(static_cast<size_t>(cols));
        for (int64_t i = 0; i < cols; ++i) xv[size_t(i)] = float((i % 7) - 3) * 0.25f;
        const float got = dotRow(t, a.data(), xv.data(), cols);
        const double want = dotF32(y.data(), xv.data(), cols);
        CHECK(std::fabs(double(got) - want) <= 1e-5 * (1.0 + std::fabs(want)));
    }
}

TEST_CASE("quant types: lookup tables") {
    // sign table: index i gives the 7 bits of i plus a parity bit making the count of negative
    // values even
    for (int i = 0; i < 128; ++i) {
        CAPTURE(i);
        REQUIRE((kIq2Signs[i] & 127) == uint32_t(i));
        REQUIRE(kIq2Signs[i] < 256);
        REQUIRE(__builtin_popcount(kIq2Signs[i]) % 2 == 0);
    }
    // IQ4_NL values ascend; MXFP4 codes 8..15 are the negatives of 0..7
    for (int c = 1; c < 16; ++c) CHECK(iq4nlValue(c) > iq4nlValue(c - 1));
    for (int c = 0; c < 8; ++c) CHECK(mxfp4Value(c + 8) == -mxfp4Value(c));
    CHECK(mxfp4Value(7) == 12);
    // IQ1 grid bytes are -1, 0 or 1; IQ2 magnitudes 8, 25 or 43; IQ3 magnitudes odd-ish small
    for (int i = 0; i < 2048; ++i)
        for (int j = 0; j < 8; ++j) {
            const int v = int8_t(gridByte8(kIq1sGrid, i, j));
            REQUIRE((v >= -1 && v <= 1));
        }
    for (const uint32_t* g : {kIq2xxsGrid, kIq2xsGrid, kIq2sGrid}) {
        const int n = g == kIq2xxsGrid ? 256 : g == kIq2xsGrid ? 512 : 1024;
        for (int i = 0; i < n; ++i)
            for (int j = 0; j < 8; ++j) {
                const int v = gridByte8(g, i, j);
                REQUIRE((v == 8 || v == 25 || v == 43));
            }
    }
    for (int i = 0; i < 256; ++i)
        for (int j = 0; j < 4; ++j) REQUIRE(gridByte4(kIq3xxsGrid, i, j) <= 62);
    for (int i = 0; i < 512; ++i)
        for (int j = 0; j < 4; ++j) REQUIRE(gridByte4(kIq3sGrid, i, j) <= 15);
}
