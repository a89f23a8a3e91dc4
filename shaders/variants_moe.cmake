# MoE kernels: router (gating + policies), grouping by expert, weighted combine.
moe_shader(router router.comp)
moe_shader(moe_group moe_group.comp)
moe_shader(moe_combine moe_combine.comp)
