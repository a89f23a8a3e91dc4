// Shared GLSL prelude: buffer-reference addressing (weights and activations are passed as
// 64-bit device addresses in push constants; no descriptor sets, no maxStorageBufferRange limit).
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_EXT_scalar_block_layout : require
#extension GL_EXT_control_flow_attributes : require
#define MOE_GLSL 1
#include "push.h"
