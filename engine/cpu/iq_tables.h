// Lookup tables of the IQ grid types, IQ4_NL/IQ4_XS and MXFP4, shared with the shaders: the data
// lives once in shaders/iq_tables/<name>.inc (comma-separated 32-bit hex words), wrapped here for
// C++ and in shaders/iq_tables.glsl for GLSL.
//
// Every table was derived from the outputs of ggml's reference dequantization (not copied from
// its source) by a scratch generator outside the project: it built blocks with one known scale
// (an fp16 super-scale and sub-block scale making the step exactly 1), every sign bit off and one
// grid index per group, dequantized them with ggml and wrote the decoded values back as bytes.
//
//   kIq2xxsGrid  [256 x 2 words]  IQ2_XXS: 8 unsigned magnitudes per entry (bytes 8, 25, 43),
//                                 value j in byte j % 4 of word 2*i + j / 4 (low word first)
//   kIq2xsGrid   [512 x 2 words]  IQ2_XS, same format
//   kIq2sGrid    [1024 x 2 words] IQ2_S, same format
//   kIq3xxsGrid  [256 words]      IQ3_XXS: 4 unsigned magnitudes per entry, value j in byte j
//   kIq3sGrid    [512 words]      IQ3_S, same format
//   kIq1sGrid    [2048 x 2 words] IQ1_S and IQ1_M: 8 signed bytes (-1, 0, 1) per entry, low word
//                                 first (decoded IQ1_S values minus the +0.125 delta, d = 1)
//   kIq2Signs    [128 words]      the sign patterns of IQ2_XXS/IQ2_XS/IQ3_XXS: a 7-bit index
//                                 gives 8 sign bits (bit j set: value j negative); bit 7 makes
//                                 the number of negative values even (derived from IQ2_XXS with
//                                 grid index 0, whose magnitudes are all positive)
//   kIq4nlValues [16 words]       IQ4_NL/IQ4_XS code -> int8 value, as int32 bit patterns
//                                 (-127 .. 113; decoded IQ4_NL with d = 1)
//   kMxfp4Values [16 words]       MXFP4 e2m1 code -> twice its value, as int32 bit patterns
//                                 (0, 1, 2, 3, 4, 6, 8, 12 and negatives; decoded with e = 128)
#pragma once
#include <cstdint>

namespace moe::cpu {

inline constexpr uint32_t kIq2xxsGrid[] = {
#include "iq_tables/iq2xxs_grid.inc"
};
inline constexpr uint32_t kIq2xsGrid[] = {
#include "iq_tables/iq2xs_grid.inc"
};
inline constexpr uint32_t kIq2sGrid[] = {
#include "iq_tables/iq2s_grid.inc"
};
inline constexpr uint32_t kIq3xxsGrid[] = {
#include "iq_tables/iq3xxs_grid.inc"
};
inline constexpr uint32_t kIq3sGrid[] = {
#include "iq_tables/iq3s_grid.inc"
};
inline constexpr uint32_t kIq1sGrid[] = {
#include "iq_tables/iq1s_grid.inc"
};
inline constexpr uint32_t kIq2Signs[] = {
#include "iq_tables/iq2_signs.inc"
};
inline constexpr uint32_t kIq4nlValues[] = {
#include "iq_tables/iq4nl_values.inc"
};
inline constexpr uint32_t kMxfp4Values[] = {
#include "iq_tables/mxfp4_values.inc"
};

static_assert(sizeof(kIq2xxsGrid) == 4 * 512 && sizeof(kIq2xsGrid) == 4 * 1024 && sizeof(kIq2sGrid) == 4 * 2048);
static_assert(sizeof(kIq3xxsGrid) == 4 * 256 && sizeof(kIq3sGrid) == 4 * 512 && sizeof(kIq1sGrid) == 4 * 4096);
static_assert(sizeof(kIq2Signs) == 4 * 128 && sizeof(kIq4nlValues) == 4 * 16 && sizeof(kMxfp4Values) == 4 * 16);

// byte j (0..7) of entry i of a two-word grid, and byte j (0..3) of a one-word grid
inline uint8_t gridByte8(const uint32_t* grid, int i, int j) { return uint8_t(grid[2 * i + j / 4] >> (8 * (j % 4))); }
inline uint8_t gridByte4(const uint32_t* grid, int i, int j) { return uint8_t(grid[i] >> (8 * j)); }
inline int iq4nlValue(int code) { return int(int32_t(kIq4nlValues[code])); }
inline int mxfp4Value(int code) { return int(int32_t(kMxfp4Values[code])); }

}  // namespace moe::cpu
