# Dense-op shader variants (included by variants.cmake). Reductions come in two variants:
# shared-memory tree (default) and subgroup arithmetic (_sg), picked from DeviceCaps.
foreach(k rms_norm softmax attention)
  moe_shader(${k} ${k}.comp)
  moe_shader(${k}_sg ${k}.comp SUBGROUP_REDUCE=1)
endforeach()
moe_shader(attention_combine attention_combine.comp)
moe_shader(rope rope.comp)
moe_shader(eltwise eltwise.comp)  # op = specialization constant 1
moe_shader(attention_row attention_row.comp)
