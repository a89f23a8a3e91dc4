// Lookup tables of the IQ grid types, IQ4_NL/IQ4_XS and MXFP4 for the shaders; the same data as
// engine/cpu/iq_tables.h (C++), kept once in shaders/iq_tables/<name>.inc. Every table was derived
// from the outputs of ggml's reference dequantization on crafted blocks (one grid index per
// group, unit step, signs off), not copied from its source. Needs GL_GOOGLE_include_directive.
//
//   iq2xxs_grid  [512]   IQ2_XXS: entry i = words 2i (values 0-3) and 2i+1 (values 4-7), one
//                        unsigned magnitude per byte (8, 25, 43), byte k = value k % 4
//   iq2xs_grid   [1024]  IQ2_XS, same format (512 entries)
//   iq2s_grid    [2048]  IQ2_S, same format (1024 entries)
//   iq3xxs_grid  [256]   IQ3_XXS: 4 unsigned magnitudes per word, value j in byte j
//   iq3s_grid    [512]   IQ3_S, same format
//   iq1s_grid    [4096]  IQ1_S and IQ1_M: entry i = words 2i, 2i+1, 8 signed bytes (-1, 0, 1)
//   iq2_signs    [128]   7-bit sign index -> 8 sign bits (bit j set: value j negative), bit 7 the
//                        parity completion (IQ2_XXS, IQ2_XS, IQ3_XXS)
//   iq4nl_values [16]    IQ4_NL/IQ4_XS code -> value (-127 .. 113) as an int bit pattern: int(x)
//   mxfp4_values [16]    MXFP4 e2m1 code -> twice its value as an int bit pattern: int(x)
#ifndef IQ_TABLES_GLSL
#define IQ_TABLES_GLSL

const uint iq2xxs_grid[512] = uint[512](
#include "iq_tables/iq2xxs_grid.inc"
);
const uint iq2xs_grid[1024] = uint[1024](
#include "iq_tables/iq2xs_grid.inc"
);
const uint iq2s_grid[2048] = uint[2048](
#include "iq_tables/iq2s_grid.inc"
);
const uint iq3xxs_grid[256] = uint[256](
#include "iq_tables/iq3xxs_grid.inc"
);
const uint iq3s_grid[512] = uint[512](
#include "iq_tables/iq3s_grid.inc"
);
const uint iq1s_grid[4096] = uint[4096](
#include "iq_tables/iq1s_grid.inc"
);
const uint iq2_signs[128] = uint[128](
#include "iq_tables/iq2_signs.inc"
);
const uint iq4nl_values[16] = uint[16](
#include "iq_tables/iq4nl_values.inc"
);
const uint mxfp4_values[16] = uint[16](
#include "iq_tables/mxfp4_values.inc"
);

#endif
