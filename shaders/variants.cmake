# Shader variants: moe_shader(<ShaderId> <source> [DEFINE=value ...]), or moe_kernel(...) for the
# weight-reading kernels, which also enter the kernel table (see kernel_keys.h).
# One source per kernel family; weight-type variants differ only in defines.
moe_shader(fill_f32 fill.comp)

# The weight types with kernels, as name:ggml id (core/types.h kWeightTypes; the runtime checks
# at compile time that the table covers them).
set(MOESCOPE_KERNEL_TYPES f32:0 f16:1 bf16:30 q8_0:8 q4_0:2 q4_k:12 q6_k:14)
# The other block types (dequant_legacy.glsl, dequant_kquant.glsl).
list(APPEND MOESCOPE_KERNEL_TYPES q4_1:3 q5_0:6 q5_1:7 iq4_nl:20 mxfp4:39 q2_k:10 q3_k:11 q5_k:13 iq4_xs:23 tq1_0:34 tq2_0:35)
# The IQ grid types (dequant_iq.glsl; their grids come from a buffer, iq_grids.h).
list(APPEND MOESCOPE_KERNEL_TYPES iq2_xxs:16 iq2_xs:17 iq2_s:22 iq3_xxs:18 iq3_s:21 iq1_s:19 iq1_m:29)
# Those read through 16-byte texel fetches (load16 in dequant.glsl, runtime/kernels.h
# texelReadType): today every kernel type.
set(MOESCOPE_TEXEL_TYPES ${MOESCOPE_KERNEL_TYPES})

# mul_mat.comp: dense (MODE 0), expert-indexed direct (MODE 1), expert-grouped (MODE 2), each with
# a shared-memory reduction and a single-subgroup reduction (SG_REDUCE); get_rows.comp.
foreach(t ${MOESCOPE_KERNEL_TYPES})
  string(REPLACE ":" ";" tv ${t})
  list(GET tv 0 n)
  list(GET tv 1 id)
  moe_kernel(MulMat ${id} Shared Address mul_mat_${n} mul_mat.comp WTYPE=${id} MODE=0 SG_REDUCE=0)
  moe_kernel(MulMatMoe ${id} Shared Address mul_mat_moe_${n} mul_mat.comp WTYPE=${id} MODE=1 SG_REDUCE=0)
  moe_kernel(MulMatMoeGrouped ${id} Shared Address mul_mat_moe_grouped_${n} mul_mat.comp WTYPE=${id} MODE=2 SG_REDUCE=0)
  moe_kernel(GetRows ${id} None Address get_rows_${n} get_rows.comp WTYPE=${id})
  moe_kernel(MulMat ${id} Subgroup Address mul_mat_sg_${n} mul_mat.comp WTYPE=${id} MODE=0 SG_REDUCE=1)
  moe_kernel(MulMatMoe ${id} Subgroup Address mul_mat_moe_sg_${n} mul_mat.comp WTYPE=${id} MODE=1 SG_REDUCE=1)
  moe_kernel(MulMatMoeGrouped ${id} Subgroup Address mul_mat_moe_grouped_sg_${n} mul_mat.comp WTYPE=${id} MODE=2 SG_REDUCE=1)
endforeach()

include(${CMAKE_CURRENT_LIST_DIR}/variants_texel.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/variants_dense.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/variants_moe.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/variants_roofline.cmake)
