// Typed recording helpers: one function per op family, each choosing its pipeline variant and
// workgroup shape from DeviceCaps and recording one dispatch. Tensors are device addresses.
// Callers insert Commands::barrier() between dependent ops.
#pragma once
#include <cstdint>

#include "core/result.h"
#include "core/types.h"
#include "kernel_table.h"
#include "vk/commands.h"
#include "vk/device.h"

namespace moe::rt {

// Workgroup size for reductions over a row: a few subgroups, power of two.
uint32_t reductionWorkgroup(const vk::DeviceCaps& caps);

// Workgroup shape of the weight-reading kernels, chosen from caps: a single subgroup with
// subgroupAdd when the subgroup size is fixed and arithmetic is supported, else a power-of-two
// workgroup reducing through shared memory. `rows` output rows per workgroup.
struct MatMulShape {
    bool subgroup = false;
    uint32_t workgroup = 32;
    uint32_t rows = 1;
};
MatMulShape matMulShape(const vk::DeviceCaps& caps);

// The shader of a weight-reading kernel, from the generated table (shaders/kernel_keys.h): an
// error names the family and the weight type when the table has no entry.
Result<ShaderId> kernelShader(KernelFamily family, GgmlType t, KernelReduce reduce, KernelRead read);

// Types whose texel kernels read 16 bytes per fetch (load16 in dequant.glsl); the others would
// fetch a texel per word, no faster than device addresses (MOESCOPE_TEXEL_TYPES in
// shaders/variants.cmake). On devices that read weights through texel views, products of these
// types with rows of a multiple of 16 values run the row-per-invocation kernels.
constexpr bool texelReadType(GgmlType t) {  // today every engine weight type
    for (GgmlType w : kWeightTypes)
        if (w == t) return true;
    return false;
}

// y (nTok, rows) = x (nTok, cols) · Wᵀ, W (rows, cols) of type `type`. Strides in floats.
struct MatMulArgs {
    GgmlType type = GgmlType::F32;
    uint64_t w = 0;
    uint32_t rows = 0, cols = 0;
    uint64_t x = 0;
    uint32_t xStride = 0;  // 0: cols
    uint64_t y = 0;
    uint32_t yStride = 0;  // 0: rows
    uint32_t nTok = 1;
    bool accumulate = false;  // y += x · Wᵀ (a residual added by the product itself, one dispatch less)
};
Status mulMat(vk::Device& dev, vk::Commands& cmd, const MatMulArgs& a);

// Expert products. W: (nExpert, rows, cols) of type `type`, expertStride bytes between experts.
// x: rows of cols floats, one per token, or one per (token, slot) when xPerSlot.
// y: (nTok * k, rows), one row per (token, slot).
// With a slotTable (int32 nExpert, expert -> slot, -1 = skip), W holds the expert cache's slots
// instead and experts mapped to -1 are left unwritten (computed in another pass).
struct MoeMatMulArgs {
    GgmlType type = GgmlType::F32;
    uint64_t w = 0, expertStride = 0;
    uint32_t rows = 0, cols = 0;
    uint64_t x = 0;
    bool xPerSlot = false;
    uint64_t ids = 0;      // direct: int32 (nTok, k) expert ids
    uint64_t groups = 0;   // grouped: moe_group output for the same ids
    uint32_t nExpert = 0;  // grouped: experts in the groups
    uint32_t k = 1;
    uint64_t y = 0;
    uint32_t nTok = 1;
    uint64_t slotTable = 0;
};
// One workgroup row per (token, slot), reading `ids` (decode).
Status mulMatMoeDirect(vk::Device& dev, vk::Commands& cmd, const MoeMatMulArgs& a);
// Tokens grouped by expert, reading `groups` and `nExpert` (batches).
Status mulMatMoeGrouped(vk::Device& dev, vk::Commands& cmd, const MoeMatMulArgs& a);

// out (nIds, cols) = rows ids of table (nRows, cols) of type t.
Status getRows(vk::Device& dev, vk::Commands& cmd, GgmlType t, uint64_t table, uint32_t nRows, uint32_t cols,
               uint64_t ids, uint32_t nIds, uint64_t out);

}  // namespace moe::rt
