// The grid buffer of the IQ grid types, shared by C++ and GLSL: the grids of iq_tables/*.inc
// concatenated in this order, one 32-bit word each, uploaded once per device
// (runtime/kernels_matmul.cpp) and read by dequant_iq.glsl through the device address that the
// weight-reading kernels get in their push constants (MatMulPush::grids, GetRowsPush::grids).
// Offsets and sizes in words.
#ifndef MOE_IQ_GRIDS_H
#define MOE_IQ_GRIDS_H
#define IQ_GRID_IQ2XXS 0      // iq2xxs_grid, 512 words
#define IQ_GRID_IQ2XS 512     // iq2xs_grid, 1024
#define IQ_GRID_IQ2S 1536     // iq2s_grid, 2048
#define IQ_GRID_IQ3XXS 3584   // iq3xxs_grid, 256
#define IQ_GRID_IQ3S 3840     // iq3s_grid, 512
#define IQ_GRID_IQ1S 4352     // iq1s_grid (IQ1_S and IQ1_M), 4096
#define IQ_GRID_WORDS 8448
#endif
