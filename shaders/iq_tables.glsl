// The 16-entry value tables of IQ4_NL/IQ4_XS and MXFP4 for the shaders; the same data as
// engine/cpu/iq_tables.h (C++), kept once in shaders/iq_tables/<name>.inc. Both were derived from
// the outputs of ggml's reference dequantization on crafted blocks, not copied from its source.
// The larger grids of the IQ grid types are read from a buffer instead (iq_grids.h,
// dequant_iq.glsl). Needs GL_GOOGLE_include_directive.
//
//   iq4nl_values [16]    IQ4_NL/IQ4_XS code -> value (-127 .. 113) as an int bit pattern: int(x)
//   mxfp4_values [16]    MXFP4 e2m1 code -> twice its value as an int bit pattern: int(x)
#ifndef IQ_TABLES_GLSL
#define IQ_TABLES_GLSL

const uint iq4nl_values[16] = uint[16](
#include "iq_tables/iq4nl_values.inc"
);
const uint mxfp4_values[16] = uint[16](
#include "iq_tables/mxfp4_values.inc"
);

#endif
