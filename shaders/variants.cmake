# Shader variants: moe_shader(<ShaderId> <source> [DEFINE=value ...]).
# One source per kernel family; weight-type variants differ only in defines.
moe_shader(fill_f32 fill.comp)
