// Shared helpers for rmvk's compute kernels.
#ifndef RMVK_COMMON_GLSL
#define RMVK_COMMON_GLSL
#extension GL_EXT_control_flow_attributes : enable
#endif
