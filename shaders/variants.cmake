# Shader variants: moe_shader(<ShaderId> <source> [DEFINE=value ...]).
# One source per kernel family; weight-type variants differ only in defines.
moe_shader(fill_f32 fill.comp)

# mul_mat.comp: dense (MODE 0), expert-indexed direct (MODE 1), expert-grouped (MODE 2), each with
# a shared-memory reduction and a single-subgroup reduction (SG_REDUCE). 7 ids per type, in a
# fixed order that rt::typedShader relies on.
foreach(t f32:0 f16:1 bf16:30 q8_0:8 q4_0:2 q4_k:12 q6_k:14)
  string(REPLACE ":" ";" tv ${t})
  list(GET tv 0 tname)
  list(GET tv 1 tid)
  moe_shader(mul_mat_${tname} mul_mat.comp WTYPE=${tid} MODE=0 SG_REDUCE=0)
  moe_shader(mul_mat_moe_${tname} mul_mat.comp WTYPE=${tid} MODE=1 SG_REDUCE=0)
  moe_shader(mul_mat_moe_grouped_${tname} mul_mat.comp WTYPE=${tid} MODE=2 SG_REDUCE=0)
  moe_shader(get_rows_${tname} get_rows.comp WTYPE=${tid})
  moe_shader(mul_mat_sg_${tname} mul_mat.comp WTYPE=${tid} MODE=0 SG_REDUCE=1)
  moe_shader(mul_mat_moe_sg_${tname} mul_mat.comp WTYPE=${tid} MODE=1 SG_REDUCE=1)
  moe_shader(mul_mat_moe_grouped_sg_${tname} mul_mat.comp WTYPE=${tid} MODE=2 SG_REDUCE=1)
endforeach()

include(${CMAKE_CURRENT_LIST_DIR}/variants_texel.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/variants_dense.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/variants_moe.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/variants_roofline.cmake OPTIONAL)
