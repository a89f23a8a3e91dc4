// Push-constant structs shared by C++ and GLSL: the one definition of the host/GPU interface.
// Addresses are device addresses (VK_KHR_buffer_device_address). Keep every struct <= 128 bytes.
#ifndef MOE_PUSH_H
#define MOE_PUSH_H
#ifdef MOE_GLSL
#define PC_ADDR uint64_t
#define PC_U32 uint
#define PC_I32 int
#define PC_F32 float
#else
#include <cstdint>
#define PC_ADDR uint64_t
#define PC_U32 uint32_t
#define PC_I32 int32_t
#define PC_F32 float
namespace moe::push {
#endif

struct FillPush {
    PC_ADDR dst;
    PC_U32 n;
    PC_F32 value;
};

// mul_mat.comp (dense and expert-indexed products)
#define FLAG_X_PER_SLOT 1u
#define FLAG_ACCUMULATE 2u  // MODE 0: y += the product
struct MatMulPush {
    PC_ADDR w;             // weights (rows, cols) or (nExpert, rows, cols)
    PC_ADDR x;             // (nTok, cols) or (nTok*k, cols) with FLAG_X_PER_SLOT
    PC_ADDR y;             // (nTok, rows) or (nTok*k, rows)
    PC_ADDR ids;           // MODE 1: int32 (nTok, k) selected experts, -1 = none
    PC_ADDR groups;        // MODE 2: int32 counts[nExpert], offsets[nExpert], entries[nTok*k]
    PC_ADDR expertStride;  // bytes between experts' matrices (or between expert-cache slots)
    PC_ADDR slotTable;     // MoE modes: int32 (nExpert) expert -> slot of the expert cache, -1 = not
                           // computed in this pass (its output rows are left as they are); 0 = all
                           // experts resident at their own index
    PC_U32 rows;
    PC_U32 cols;
    PC_U32 nTok;
    PC_U32 xStride;        // floats between x rows
    PC_U32 yStride;        // floats between y rows
    PC_U32 k;              // experts per token
    PC_U32 nExpert;
    PC_U32 flags;
    PC_U32 rowBase;        // first row of this dispatch (splits huge row counts)
    PC_U32 pad0;
    PC_ADDR grids;         // IQ grid types: the grid buffer (iq_grids.h), else 0
};

// get_rows.comp (embedding lookup)
struct GetRowsPush {
    PC_ADDR table;   // (nRows, cols) in the weight type
    PC_ADDR ids;     // int32 (nIds)
    PC_ADDR dst;     // (nIds, cols) f32
    PC_U32 nRows;
    PC_U32 cols;
    PC_ADDR grids;   // IQ grid types: the grid buffer (iq_grids.h), else 0
};

#ifndef MOE_GLSL
static_assert(sizeof(FillPush) == 16);
static_assert(sizeof(GetRowsPush) == 40);
static_assert(sizeof(MatMulPush) == 104);
}  // namespace moe::push
#undef PC_ADDR
#undef PC_U32
#undef PC_I32
#undef PC_F32
#endif
#endif
