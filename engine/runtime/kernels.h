// Typed recording helpers: one function per op family, each choosing its pipeline variant and
// workgroup shape from DeviceCaps and recording one dispatch. Tensors are device addresses.
// Callers insert Commands::barrier() between dependent ops.
#pragma once
#include <cstdint>

#include "core/result.h"
#include "core/types.h"
#include "shader_ids.h"
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

// ShaderId of a per-weight-type family: base is the F32 variant, types follow in the order
// f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, 7 ids apart (see shaders/variants.cmake).
Result<ShaderId> typedShader(ShaderId f32Variant, GgmlType t);

// y (nTok, rows) = x (nTok, cols) · Wᵀ, W (rows, cols) of type t. Strides in floats.
// accumulate: y += x · Wᵀ (a residual added by the product itself, one dispatch less).
Status mulMat(vk::Device& dev, vk::Commands& cmd, GgmlType t, uint64_t w, uint32_t rows, uint32_t cols, uint64_t x,
              uint32_t xStride, uint64_t y, uint32_t yStride, uint32_t nTok, bool accumulate = false);

// Expert-indexed product, one workgroup row per (token, slot):
// y (nTok*k, rows) = x · W[ids[t,j]]ᵀ; x rows per token, or per (token, slot) when xPerSlot.
// W: (nExpert, rows, cols) with expertStride bytes between experts. With a slotTable (int32
// nExpert, expert -> slot, -1 = skip), W holds the expert cache's slots instead and experts
// mapped to -1 are left unwritten (computed in another pass).
Status mulMatMoeDirect(vk::Device& dev, vk::Commands& cmd, GgmlType t, uint64_t w, uint64_t expertStride,
                       uint32_t rows, uint32_t cols, uint64_t x, bool xPerSlot, uint64_t ids, uint32_t k,
                       uint64_t y, uint32_t nTok, uint64_t slotTable = 0);

// Expert-grouped product for batches: groups = moe_group output for (nTok, k) ids.
Status mulMatMoeGrouped(vk::Device& dev, vk::Commands& cmd, GgmlType t, uint64_t w, uint64_t expertStride,
                        uint32_t rows, uint32_t cols, uint64_t x, bool xPerSlot, uint64_t groups, uint32_t nExpert,
                        uint32_t k, uint64_t y, uint32_t nTok, uint64_t slotTable = 0);

// out (nIds, cols) = rows ids of table (nRows, cols) of type t.
Status getRows(vk::Device& dev, vk::Commands& cmd, GgmlType t, uint64_t table, uint32_t nRows, uint32_t cols,
               uint64_t ids, uint32_t nIds, uint64_t out);

}  // namespace moe::rt
