# mul_mat.comp reading the weights through a uniform texel buffer (WTEXEL, see dequant.glsl) for
# the one-token-per-workgroup products (decode): dense and expert-indexed direct, each with both
# reductions. Products of 8 tokens per workgroup keep device addresses.
foreach(t ${MOESCOPE_TEXEL_TYPES})
  string(REPLACE ":" ";" tv ${t})
  list(GET tv 0 n)
  list(GET tv 1 id)
  moe_kernel(MulMat ${id} Shared Texel mul_mat_tx_${n} mul_mat.comp WTYPE=${id} MODE=0 SG_REDUCE=0 WTEXEL=1)
  moe_kernel(MulMatMoe ${id} Shared Texel mul_mat_moe_tx_${n} mul_mat.comp WTYPE=${id} MODE=1 SG_REDUCE=0 WTEXEL=1)
  moe_kernel(MulMat ${id} Subgroup Texel mul_mat_sg_tx_${n} mul_mat.comp WTYPE=${id} MODE=0 SG_REDUCE=1 WTEXEL=1)
  moe_kernel(MulMatMoe ${id} Subgroup Texel mul_mat_moe_sg_tx_${n} mul_mat.comp WTYPE=${id} MODE=1 SG_REDUCE=1 WTEXEL=1)
endforeach()
# mul_mat_row.comp (one invocation per output row, weights and x through texel views): dense,
# direct and grouped.
foreach(t ${MOESCOPE_TEXEL_TYPES})
  string(REPLACE ":" ";" tv ${t})
  list(GET tv 0 n)
  list(GET tv 1 id)
  moe_kernel(MulMat ${id} None Rows mul_mat_row_${n} mul_mat_row.comp WTYPE=${id} MODE=0)
  moe_kernel(MulMatMoe ${id} None Rows mul_mat_moe_row_${n} mul_mat_row.comp WTYPE=${id} MODE=1)
  moe_kernel(MulMatMoeGrouped ${id} None Rows mul_mat_moe_grouped_row_${n} mul_mat_row.comp WTYPE=${id} MODE=2)
endforeach()
