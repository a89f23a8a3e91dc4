# mul_mat.comp reading the weights through a uniform texel buffer (WTEXEL, see dequant.glsl) for
# the one-token-per-workgroup products (decode): dense and expert-indexed direct, each with both
# reductions; 4 ids per type in a fixed order that rt::texelShader relies on (the types in the
# order of variants.cmake, those with a 16-byte load16: Q4_K and Q6_K keep device addresses).
# Products of 8 tokens per workgroup keep device addresses.
foreach(t f32:0 f16:1 bf16:30 q8_0:8 q4_0:2)
  string(REPLACE ":" ";" tv ${t})
  list(GET tv 0 tname)
  list(GET tv 1 tid)
  moe_shader(mul_mat_tx_${tname} mul_mat.comp WTYPE=${tid} MODE=0 SG_REDUCE=0 WTEXEL=1)
  moe_shader(mul_mat_moe_tx_${tname} mul_mat.comp WTYPE=${tid} MODE=1 SG_REDUCE=0 WTEXEL=1)
  moe_shader(mul_mat_sg_tx_${tname} mul_mat.comp WTYPE=${tid} MODE=0 SG_REDUCE=1 WTEXEL=1)
  moe_shader(mul_mat_moe_sg_tx_${tname} mul_mat.comp WTYPE=${tid} MODE=1 SG_REDUCE=1 WTEXEL=1)
endforeach()
# mul_mat_row.comp (one invocation per output row, weights and x through texel views): dense,
# direct and grouped; 3 ids per type in the same order (rt::rowsShader relies on it).
foreach(t f32:0 f16:1 bf16:30 q8_0:8 q4_0:2)
  string(REPLACE ":" ";" tv ${t})
  list(GET tv 0 tname)
  list(GET tv 1 tid)
  moe_shader(mul_mat_row_${tname} mul_mat_row.comp WTYPE=${tid} MODE=0)
  moe_shader(mul_mat_moe_row_${tname} mul_mat_row.comp WTYPE=${tid} MODE=1)
  moe_shader(mul_mat_moe_grouped_row_${tname} mul_mat_row.comp WTYPE=${tid} MODE=2)
endforeach()
