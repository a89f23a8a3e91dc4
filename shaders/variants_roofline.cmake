# Roofline kernels of `moescope bench`: memory read bandwidth (through buffer device addresses,
# and through a uniform texel buffer bound as descriptor set 0) and arithmetic peak. Workgroup
# size, read order and word size are specialization constants.
moe_shader(read_buffer read_buffer.comp)
moe_shader(read_buffer_texel read_buffer.comp READ_TEXEL=1)
moe_shader(fma_peak fma_peak.comp)
